//go:build js && wasm

// Package live makes a browser tab one broker of a live cluster: the tab
// holds broker id N with a Web Lock, keeps the broker's logs in IndexedDB
// ("streamlab-<cluster>-broker-<N>"), runs the broker (and controller voter)
// in a p2p/host, and reaches the other tabs' brokers over WebRTC, signaled
// over a BroadcastChannel (wasm/tabsignal).
//
// Routing is explicit and small:
//   - broker to broker: rtc.Send to the peer of that id;
//   - a client of this tab (AddClient) to this tab's broker: in memory
//     (host.Link), to another broker: rtc.Send to that broker's tab;
//   - a broker's answer to a client of another tab: back to the tab the
//     client's requests came from (learned from them; a client id belongs
//     to one tab: NewClientID gives 1000 + 100*N + n);
//   - what arrives over rtc goes to this tab's broker or to the client it
//     names, and is dropped otherwise.
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
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/p2p/host"
	"github.com/streamlab/streamlab/p2p/rtc"
	"github.com/streamlab/streamlab/wasm/idbstore"
	"github.com/streamlab/streamlab/wasm/tabsignal"
)

// ErrIDTaken: another tab (or member of this page) holds the broker id.
var ErrIDTaken = errors.New("live: broker id taken by another tab")

// Config says which cluster to join and how.
type Config struct {
	Cluster string
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
	// PresenceInterval is how often the tab announces itself (default 1 s).
	PresenceInterval time.Duration
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Event is either a batch of core events from one machine of this tab
// (Node: the broker or a client), or a peer tab's broker going up or down
// (Node: the peer).
type Event struct {
	Node     core.NodeID
	Core     []core.Event
	PeerUp   bool
	PeerDown bool
	Err      error // why the peer went down
}

// maxRoutes bounds the remote client ids a member remembers.
const maxRoutes = 4096

// clientsPerBroker is the span of client ids a tab hands out.
const clientsPerBroker = 100

// Member is this tab's broker in a live cluster.
type Member struct {
	cfg   Config
	id    core.NodeID
	lock  *lock
	store *idbstore.Store
	host  *host.Host
	ch    *tabsignal.Channel
	tr    *rtc.Transport

	mu         sync.Mutex
	up         map[core.NodeID]bool
	clients    map[core.NodeID]*Client
	routes     map[core.NodeID]core.NodeID // remote client id → its tab's broker id
	nextClient int
	closed     bool
}

// Join takes a broker id, opens its IndexedDB database, starts the broker
// and connects to the other tabs of cfg.Cluster. ctx bounds the start.
func Join(ctx context.Context, cfg Config) (_ *Member, err error) {
	if cfg.Cluster == "" {
		return nil, errors.New("live: Config.Cluster is required")
	}
	if cfg.MaxBrokers <= 0 {
		cfg.MaxBrokers = 3
	}
	if len(cfg.Voters) == 0 {
		for id := core.NodeID(1); id <= core.NodeID(min(3, cfg.MaxBrokers)); id++ {
			cfg.Voters = append(cfg.Voters, id)
		}
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	m := &Member{cfg: cfg, up: map[core.NodeID]bool{}, clients: map[core.NodeID]*Client{}, routes: map[core.NodeID]core.NodeID{}}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.id, m.lock, err = acquire(ctx, cfg); err != nil {
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
	if cfg.Configure != nil {
		cfg.Configure(&scfg)
	}
	srv, err := server.Open(scfg, m.store)
	if err != nil {
		return nil, fmt.Errorf("live: opening broker %d from %s: %w", m.id, m.store.Database(), err)
	}
	m.host = host.Start(srv, m.store, host.Options{Logf: cfg.Logf, Events: m.events(m.id)})
	m.ch, err = tabsignal.Open(tabsignal.Config{Cluster: cfg.Cluster, ID: m.id, Interval: cfg.PresenceInterval, Presence: m.presence})
	if err != nil {
		return nil, err
	}
	tr, err := rtc.New(rtc.Config{
		ID: m.id, Cluster: cfg.Cluster, Signaler: m.ch,
		AllowPeer: m.isBroker,
		Receive:   m.receive,
		PeerUp:    func(id core.NodeID) { m.setUp(id, true, nil) },
		PeerDown:  func(id core.NodeID, err error) { m.setUp(id, false, err) },
		Logf:      cfg.Logf,
	})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.tr = tr
	m.mu.Unlock()
	for b := core.NodeID(1); b <= core.NodeID(cfg.MaxBrokers); b++ {
		if b != m.id {
			m.host.Register(b, func(env core.Envelope) { m.send(b, env) })
		}
	}
	// Presence heard before the transport existed was not acted on.
	for _, p := range m.ch.Peers() {
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
func (m *Member) Peers() []core.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []core.NodeID
	for id, up := range m.up {
		if up {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Server runs f on the broker's goroutine (to read its state safely).
func (m *Member) Server(f func(*server.Server)) error {
	return m.host.Do(func(mc core.Machine) { f(mc.(*server.Server)) })
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
	clients := make([]*Client, 0, len(m.clients))
	for _, c := range m.clients {
		clients = append(clients, c)
	}
	m.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	var err error
	if m.host != nil {
		err = m.host.Close()
	}
	if m.tr != nil {
		m.tr.Close()
	}
	if m.ch != nil {
		m.ch.Close()
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

func (m *Member) isBroker(id core.NodeID) bool {
	return id >= 1 && id <= core.NodeID(m.cfg.MaxBrokers)
}

func (m *Member) events(node core.NodeID) func([]core.Event) {
	return func(evs []core.Event) { m.cfg.Events(Event{Node: node, Core: evs}) }
}

// presence runs on the channel's goroutine: a broker heard that is not
// connected gets a connection attempt (at most one per announcement; rtc
// ignores it while one is under way, and settles crossing offers).
func (m *Member) presence(p tabsignal.Presence) {
	if !p.Bye {
		m.connect(p.ID)
	}
}

func (m *Member) connect(id core.NodeID) {
	m.mu.Lock()
	tr, up := m.tr, m.up[id]
	m.mu.Unlock()
	if tr != nil && !up && m.isBroker(id) {
		// ErrClosed only: the member is closing.
		_ = tr.Connect(id)
	}
}

func (m *Member) setUp(id core.NodeID, up bool, err error) {
	m.mu.Lock()
	m.up[id] = up
	m.mu.Unlock()
	m.cfg.Events(Event{Node: id, PeerUp: up, PeerDown: !up, Err: err})
}

// send hands env to the tab of broker b. Failures drop it, as a lossy
// network would: the machines' timeouts and retries deal with that.
func (m *Member) send(b core.NodeID, env core.Envelope) {
	m.mu.Lock()
	tr := m.tr
	m.mu.Unlock()
	if tr != nil {
		_ = tr.Send(b, env)
	}
}

// receive runs on the reader goroutine of peer tab from.
func (m *Member) receive(from core.NodeID, env core.Envelope) {
	if env.To == m.id {
		if !m.isBroker(env.From) {
			m.route(env.From, from)
		}
		_ = m.host.Step(env) // fails only once the broker is closed
		return
	}
	m.mu.Lock()
	c := m.clients[env.To]
	m.mu.Unlock()
	if c != nil {
		_ = c.h.Step(env)
	}
}

// route makes the broker's answers to remote client id go to tab.
func (m *Member) route(id, tab core.NodeID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.clients[id] != nil || m.routes[id] == tab {
		return // a local client's id is not for a peer to claim
	}
	if _, known := m.routes[id]; !known && len(m.routes) >= maxRoutes {
		return
	}
	m.routes[id] = tab
	m.host.Register(id, func(env core.Envelope) { m.send(tab, env) })
}

// Client is a client machine (producer, consumer, admin) run in this tab.
type Client struct {
	m  *Member
	id core.NodeID
	h  *host.Host
}

// NewClientID returns an id for a client of this tab: 1000 + 100*N + n,
// unique across the cluster while the tab has fewer than 100 clients.
func (m *Member) NewClientID() core.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		id := core.ClientIDBase + clientsPerBroker*m.id + core.NodeID(m.nextClient%clientsPerBroker)
		m.nextClient++
		if m.clients[id] == nil {
			return id
		}
	}
}

// AddClient runs the machine newMachine returns for a new client id (from
// NewClientID) in this tab; its requests reach every broker of the cluster.
func (m *Member) AddClient(newMachine func(id core.NodeID) core.Machine) (*Client, error) {
	id := m.NewClientID()
	mc := newMachine(id)
	if mc.ID() != id {
		return nil, fmt.Errorf("live: client machine has id %d, want %d", mc.ID(), id)
	}
	c := &Client{m: m, id: id}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, rtc.ErrClosed
	}
	m.clients[id] = c
	m.mu.Unlock()
	c.h = host.Start(mc, storage.NewMemory(), host.Options{Logf: m.cfg.Logf, Events: m.events(id)})
	for b := core.NodeID(1); b <= core.NodeID(m.cfg.MaxBrokers); b++ {
		if b != m.id {
			c.h.Register(b, func(env core.Envelope) { m.send(b, env) })
		}
	}
	host.Link(c.h, m.host)
	host.Link(m.host, c.h)
	return c, nil
}

// ID is the client's node id.
func (c *Client) ID() core.NodeID { return c.id }

// Do runs f on the client's goroutine (Producer.Send, reading state).
func (c *Client) Do(f func(core.Machine)) error { return c.h.Do(f) }

// Close stops the client.
func (c *Client) Close() error {
	err := c.h.Close()
	c.m.mu.Lock()
	delete(c.m.clients, c.id)
	c.m.mu.Unlock()
	return err
}
