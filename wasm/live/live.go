//go:build js && wasm

// Package live makes a browser tab one broker of a live cluster: the tab
// holds broker id N with a Web Lock, keeps the broker's logs in IndexedDB
// ("streamlab-<cluster>-broker-<N>"), and runs the broker (and controller
// voter) as a p2p/mesh Member, which reaches the other brokers over WebRTC.
// Two ways to find them:
//   - the tabs of this browser: signaling and presence over a
//     BroadcastChannel (wasm/tabsignal); the tab takes the lowest free id;
//   - a classroom room (Config.Room): the room's signaling server (the node,
//     or the worker) hands out the broker id and relays the signals, so
//     brokers may be tabs of other browsers and devices, and the node.
//
// A closed tab is a crashed broker: its peers stop hearing it (PeerDown);
// when its presence reappears (a reload) the connection is made again.
package live

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/p2p/mesh"
	"github.com/streamlab/streamlab/p2p/room"
	"github.com/streamlab/streamlab/p2p/rtc"
	"github.com/streamlab/streamlab/wasm/idbstore"
	"github.com/streamlab/streamlab/wasm/tabsignal"
)

// ErrIDTaken: another tab (or member of this page) holds the broker id.
var ErrIDTaken = errors.New("live: broker id taken by another tab")

// Config says which cluster to join and how.
type Config struct {
	// Cluster names the cluster of this browser's tabs (ignored with Room:
	// the room names it).
	Cluster string
	// Room, if set, joins a classroom room instead.
	Room *RoomConfig
	// ID is the broker id to take (it fails with ErrIDTaken if held); 0
	// takes the id this tab had before a reload if free, else the lowest
	// free one in 1..MaxBrokers.
	ID core.NodeID
	// MaxBrokers bounds broker ids (default 3); higher ids are refused.
	MaxBrokers int
	// Voters are the controller quorum (default 1..min(3, MaxBrokers)).
	Voters []core.NodeID
	// Configure, if set, adjusts the server's configuration before it
	// opens (timeouts, defaults).
	Configure func(*server.Config)
	// Events, if set, gets what the members' machines report and the
	// changes of peers. It runs on the machines' and the transport's
	// goroutines: it must not block or call the Member.
	Events func(Event)
	// PeerState, if set, gets what a peer shares of its broker
	// (p2p/gossip), on that peer's reader goroutine: it must not block or
	// call the Member.
	PeerState func(from core.NodeID, b []byte)
	// PresenceInterval is how often the tab announces itself (default 1 s).
	PresenceInterval time.Duration
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Event is what the member's machines report, or a peer going up or down.
type Event = mesh.Event

// Client is a client machine (producer, consumer, admin) run in this tab.
type Client = mesh.Client

// RoomConfig says which classroom room to join.
type RoomConfig struct {
	URL    string // the signaling service, e.g. "http://192.168.1.10:8080/api/"
	Code   string // the room's code
	Device string // a name for this device, shown to the room
	// Teacher is the room's teacher token (from the node's teacher link),
	// kept by this browser so that it may inject faults; "" if none.
	Teacher string
}

// discovery finds the other brokers and carries signals to them: the
// BroadcastChannel of this browser's tabs, or a room's client.
type discovery interface {
	rtc.Signaler
	Peers() []core.NodeID // the brokers heard of lately
	Close() error
}

// Member is this tab's broker in a live cluster.
type Member struct {
	cfg   Config
	id    core.NodeID
	lock  *lock
	store *idbstore.Store
	disc  discovery
	kafka string // the address Kafka clients reach this broker at, via the node

	mu     sync.Mutex
	mesh   *mesh.Member
	closed bool
}

// Join takes a broker id, opens its IndexedDB database, starts the broker
// and connects to the cluster's other brokers. ctx bounds the start.
func Join(ctx context.Context, cfg Config) (_ *Member, err error) {
	if cfg.Cluster == "" && cfg.Room == nil {
		return nil, errors.New("live: Config.Cluster or Config.Room is required")
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	m := &Member{cfg: cfg}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if cfg.Room != nil {
		if err := m.joinRoom(ctx); err != nil {
			return nil, err
		}
		cfg = m.cfg
	}
	if cfg.MaxBrokers <= 0 {
		cfg.MaxBrokers = 3
	}
	if len(cfg.Voters) == 0 {
		for id := core.NodeID(1); id <= core.NodeID(min(3, cfg.MaxBrokers)); id++ {
			cfg.Voters = append(cfg.Voters, id)
		}
	}
	m.cfg = cfg
	if m.id, m.lock, err = acquire(ctx, cfg); errors.Is(err, errNoLocks) && m.cfg.Room != nil {
		// The room hands out the ids and holds each while its member
		// polls: two tabs cannot get one id from it. The lock only
		// guards against a tab of this browser that the room has
		// already given up on and that still runs.
		cfg.Logf("live: %v: going on without it, the room guards the broker id", err)
		m.id, err = cfg.ID, nil
	}
	if err != nil {
		return nil, err
	}
	sessionSet(sessionKey(cfg.Cluster), strconv.Itoa(int(m.id)))
	if m.store, err = idbstore.Open(ctx, DatabaseName(cfg.Cluster, m.id)); err != nil {
		return nil, err
	}
	scfg := server.Config{Broker: broker.DefaultConfig(m.id)}
	// Real time, not a replayable run: a fresh seed keeps topic ids unique
	// across restarts (as the native node does).
	scfg.Broker.Seed = rand.Uint64()
	scfg.Controller.Voters = cfg.Voters
	scfg.Controller.DefaultReplicationFactor = int16(min(3, cfg.MaxBrokers))
	if m.kafka != "" {
		// The node proxies Kafka clients to this broker: advertise it.
		if host, port, err := splitHostPort(m.kafka); err == nil {
			scfg.Broker.Host, scfg.Broker.Port = host, port
		}
	}
	if cfg.Configure != nil {
		cfg.Configure(&scfg)
	}
	srv, err := server.Open(scfg, m.store)
	if err != nil {
		return nil, fmt.Errorf("live: opening broker %d from %s: %w", m.id, m.store.Database(), err)
	}
	if m.disc == nil {
		ch, err := tabsignal.Open(tabsignal.Config{Cluster: cfg.Cluster, ID: m.id, Interval: cfg.PresenceInterval, Presence: func(p tabsignal.Presence) {
			if !p.Bye {
				m.connect(p.ID)
			}
		}})
		if err != nil {
			return nil, err
		}
		m.disc = ch
	}
	reopen := func() (core.Machine, error) { return server.Open(scfg, m.store) }
	mm, err := mesh.Start(mesh.Config{ID: m.id, Cluster: cfg.Cluster, MaxBrokers: cfg.MaxBrokers, Signaler: m.disc, Events: cfg.Events,
		PeerState: cfg.PeerState, Reopen: reopen, Logf: cfg.Logf}, srv, m.store)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.mesh = mm
	m.mu.Unlock()
	if c, ok := m.disc.(*room.Client); ok {
		m.applyFaults(c.Faults()) // any set before the member ran
	}
	// Presence heard before the member existed was not acted on.
	for _, p := range m.disc.Peers() {
		m.connect(p)
	}
	return m, nil
}

// DatabaseName is the IndexedDB database of broker id of cluster.
func DatabaseName(cluster string, id core.NodeID) string {
	return fmt.Sprintf("streamlab-%s-broker-%d", cluster, id)
}

func lockName(cluster string, id core.NodeID) string {
	return fmt.Sprintf("streamlab/%s/broker/%d", cluster, id)
}

func sessionKey(cluster string) string { return "streamlab/" + cluster + "/broker" }

// acquire takes the Web Lock of the broker id cfg asks for.
func acquire(ctx context.Context, cfg Config) (core.NodeID, *lock, error) {
	var ids []core.NodeID
	if cfg.ID != 0 {
		ids = []core.NodeID{cfg.ID}
	} else {
		if n, err := strconv.Atoi(sessionGet(sessionKey(cfg.Cluster))); err == nil && n >= 1 && n <= cfg.MaxBrokers {
			ids = append(ids, core.NodeID(n))
		}
		for id := core.NodeID(1); id <= core.NodeID(cfg.MaxBrokers); id++ {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		l, err := tryLock(ctx, lockName(cfg.Cluster, id))
		if err != nil {
			return 0, nil, err
		}
		if l != nil {
			return id, l, nil
		}
	}
	if cfg.ID != 0 {
		return 0, nil, fmt.Errorf("%w: %d", ErrIDTaken, cfg.ID)
	}
	return 0, nil, fmt.Errorf("%w: all of 1..%d", ErrIDTaken, cfg.MaxBrokers)
}

// ID is this tab's broker id.
func (m *Member) ID() core.NodeID { return m.id }

// Peers returns the brokers connected to this one, in order.
func (m *Member) Peers() []core.NodeID { return m.member().Peers() }

// Heard returns the brokers heard of lately (presence, or the room's
// members), connected or not.
func (m *Member) Heard() []core.NodeID { return m.disc.Peers() }

// Server runs f on the broker's goroutine (to read its state safely).
func (m *Member) Server(f func(*server.Server)) error {
	return m.member().Host().Do(func(mc core.Machine) { f(mc.(*server.Server)) })
}

// NewClientID returns an id for a client of this tab.
func (m *Member) NewClientID() core.NodeID { return m.member().NewClientID() }

// AddClient runs the machine newMachine returns for a new client id in this
// tab; its requests reach every broker of the cluster.
func (m *Member) AddClient(newMachine func(id core.NodeID) core.Machine) (*Client, error) {
	return m.member().AddClient(newMachine)
}

// Close stops the clients, the connections, the broker, closes the
// database and releases the broker id. To the other tabs it is a crash.
func (m *Member) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	mm := m.mesh
	m.mu.Unlock()
	var err error
	if mm != nil {
		err = mm.Close()
	}
	if m.disc != nil {
		m.disc.Close()
	}
	if m.store != nil {
		if cerr := m.store.Close(); err == nil {
			err = cerr
		}
	}
	if m.lock != nil {
		m.lock.release()
	}
	return err
}

func (m *Member) member() *mesh.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mesh
}

// connect runs on the discovery's goroutine: a broker heard of that is not
// connected gets a connection attempt (rtc ignores it while one is under
// way, and settles crossing offers).
func (m *Member) connect(id core.NodeID) {
	if mm := m.member(); mm != nil {
		mm.Connect(id)
	}
}
