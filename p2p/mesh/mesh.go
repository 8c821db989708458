// Package mesh runs one broker of a live cluster and reaches the cluster's
// other brokers over WebRTC (p2p/rtc): a browser tab (wasm/live) and the
// native node's classroom member are both a mesh.Member, each with its own
// storage, signaling and way of choosing its broker id.
//
// Routing is explicit and small:
//   - broker to broker: rtc.Send to the peer of that id;
//   - a client of this member (AddClient) to this member's broker: in
//     memory (host.Link), to another broker: rtc.Send to that broker;
//   - a broker's answer to a client of another member: back to the member
//     the client's requests came from (learned from them; a client id
//     belongs to one member: NewClientID gives ClientIDBase +
//     ClientsPerBroker*N + n);
//   - what arrives over rtc goes to this member's broker or to the client
//     it names, and is dropped otherwise.
//
// A member that goes away is a crashed broker: its peers stop hearing it
// (PeerDown); whoever learns that it is back (presence, a room's member
// list) calls Connect again.
package mesh

import (
	"errors"
	"fmt"
	"log"
	"slices"
	"sync"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/p2p/host"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// ClientsPerBroker is the span of client ids a member hands out.
const ClientsPerBroker = 1000

// maxRoutes bounds the remote client ids a member remembers.
const maxRoutes = 4096

// Config describes a Member. ID, Cluster, MaxBrokers and Signaler are
// required.
type Config struct {
	ID      core.NodeID
	Cluster string
	// MaxBrokers bounds broker ids: 1..MaxBrokers; other ids are refused.
	MaxBrokers int
	Signaler   rtc.Signaler
	// ICEServers and Platform go to rtc.Config.
	ICEServers []rtc.ICEServer
	Platform   rtc.PlatformConfig
	// Events, if set, gets what the member's machines report and the
	// changes of peers. It runs on the machines' and the transport's
	// goroutines: it must not block or call the Member.
	Events func(Event)
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Event is either a batch of core events from one machine of this member
// (Node: the broker or a client), or a peer broker going up or down (Node:
// the peer).
type Event struct {
	Node     core.NodeID
	Core     []core.Event
	PeerUp   bool
	PeerDown bool
	Err      error // why the peer went down
}

// Member is one broker of a live cluster and the clients run beside it.
type Member struct {
	cfg  Config
	host *host.Host
	tr   *rtc.Transport

	mu         sync.Mutex
	up         map[core.NodeID]bool
	clients    map[core.NodeID]*Client
	routes     map[core.NodeID]core.NodeID // remote client id → its member's broker id
	nextClient int
	closed     bool
}

// Start runs broker (opened on store, whose writes it makes durable) and
// its transport. Nothing is connected yet: call Connect for each peer that
// is known to be alive (peers that know of this one connect too).
func Start(cfg Config, broker core.Machine, store storage.Store) (*Member, error) {
	switch {
	case cfg.Cluster == "" || cfg.Signaler == nil || cfg.MaxBrokers <= 0:
		return nil, errors.New("mesh: Config.Cluster, Signaler and MaxBrokers are required")
	case cfg.ID < 1 || int(cfg.ID) > cfg.MaxBrokers || broker.ID() != cfg.ID:
		return nil, fmt.Errorf("mesh: broker id %d (machine %d) not in 1..%d", cfg.ID, broker.ID(), cfg.MaxBrokers)
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	m := &Member{cfg: cfg, up: map[core.NodeID]bool{}, clients: map[core.NodeID]*Client{}, routes: map[core.NodeID]core.NodeID{}}
	m.host = host.Start(broker, store, host.Options{Logf: cfg.Logf, Events: m.events(cfg.ID)})
	tr, err := rtc.New(rtc.Config{
		ID: cfg.ID, Cluster: cfg.Cluster, Signaler: cfg.Signaler,
		AllowPeer:  m.isBroker,
		Receive:    m.receive,
		PeerUp:     func(id core.NodeID) { m.setUp(id, true, nil) },
		PeerDown:   func(id core.NodeID, err error) { m.setUp(id, false, err) },
		ICEServers: cfg.ICEServers,
		Platform:   cfg.Platform,
		Logf:       cfg.Logf,
	})
	if err != nil {
		m.host.Close()
		return nil, err
	}
	m.mu.Lock()
	m.tr = tr
	m.mu.Unlock()
	for b := core.NodeID(1); b <= core.NodeID(cfg.MaxBrokers); b++ {
		if b != cfg.ID {
			m.host.Register(b, func(env core.Envelope) { m.send(b, env) })
		}
	}
	return m, nil
}

// ID is this member's broker id.
func (m *Member) ID() core.NodeID { return m.cfg.ID }

// Host is the broker's host (to serve Kafka clients from it, or to link
// other machines to it).
func (m *Member) Host() *host.Host { return m.host }

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

// Connect starts connecting to broker id unless it is up (or an attempt is
// under way; crossing attempts are settled by rtc). Presence callbacks call
// it: it does not block.
func (m *Member) Connect(id core.NodeID) {
	m.mu.Lock()
	tr, up := m.tr, m.up[id]
	m.mu.Unlock()
	if tr != nil && !up && id != m.cfg.ID && m.isBroker(id) {
		// ErrClosed only: the member is closing.
		_ = tr.Connect(id)
	}
}

// Close stops the clients, the connections and the broker (not the store:
// the caller opened it). To the peers it is a crash.
func (m *Member) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	clients := make([]*Client, 0, len(m.clients))
	for _, c := range m.clients {
		if c.h != nil { // the others are a Kafka listener's, through a Proxy: it closes them
			clients = append(clients, c)
		}
	}
	m.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	err := m.host.Close()
	m.tr.Close()
	return err
}

func (m *Member) isBroker(id core.NodeID) bool {
	return id >= 1 && id <= core.NodeID(m.cfg.MaxBrokers)
}

func (m *Member) events(node core.NodeID) func([]core.Event) {
	return func(evs []core.Event) { m.cfg.Events(Event{Node: node, Core: evs}) }
}

func (m *Member) setUp(id core.NodeID, up bool, err error) {
	m.mu.Lock()
	m.up[id] = up
	m.mu.Unlock()
	m.cfg.Events(Event{Node: id, PeerUp: up, PeerDown: !up, Err: err})
}

// send hands env to broker b's member. Failures drop it, as a lossy
// network would: the machines' timeouts and retries deal with that.
func (m *Member) send(b core.NodeID, env core.Envelope) {
	m.mu.Lock()
	tr := m.tr
	m.mu.Unlock()
	if tr != nil {
		_ = tr.Send(b, env)
	}
}

// receive runs on the reader goroutine of peer from.
func (m *Member) receive(from core.NodeID, env core.Envelope) {
	if env.To == m.cfg.ID {
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
		c.deliver(env)
	}
}

// route makes the broker's answers to remote client id go to peer.
func (m *Member) route(id, peer core.NodeID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.clients[id] != nil || m.routes[id] == peer {
		return // a local client's id is not for a peer to claim
	}
	if _, known := m.routes[id]; !known && len(m.routes) >= maxRoutes {
		return
	}
	m.routes[id] = peer
	m.host.Register(id, func(env core.Envelope) { m.send(peer, env) })
}

// NewClientID returns an id for a client of this member: ClientIDBase +
// ClientsPerBroker*N + n, unique across the cluster while the member has
// fewer than ClientsPerBroker clients.
func (m *Member) NewClientID() core.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		id := core.ClientIDBase + ClientsPerBroker*m.cfg.ID + core.NodeID(m.nextClient%ClientsPerBroker)
		m.nextClient++
		if m.clients[id] == nil {
			return id
		}
	}
}

// Client is a client machine (producer, consumer, admin) run beside this
// member's broker.
type Client struct {
	m       *Member
	id      core.NodeID
	h       *host.Host
	deliver func(core.Envelope) // what brokers send to the client
}

// AddClient runs the machine newMachine returns for a new client id (from
// NewClientID) beside this member's broker; its requests reach every
// broker of the cluster.
func (m *Member) AddClient(newMachine func(id core.NodeID) core.Machine) (*Client, error) {
	id := m.NewClientID()
	mc := newMachine(id)
	if mc.ID() != id {
		return nil, fmt.Errorf("mesh: client machine has id %d, want %d", mc.ID(), id)
	}
	c := &Client{m: m, id: id}
	c.h = host.Start(mc, storage.NewMemory(), host.Options{Logf: m.cfg.Logf, Events: m.events(id)})
	c.deliver = func(env core.Envelope) { _ = c.h.Step(env) }
	if err := m.addClient(c); err != nil {
		c.h.Close()
		return nil, err
	}
	for b := core.NodeID(1); b <= core.NodeID(m.cfg.MaxBrokers); b++ {
		if b != m.cfg.ID {
			c.h.Register(b, func(env core.Envelope) { m.send(b, env) })
		}
	}
	host.Link(c.h, m.host)
	host.Link(m.host, c.h)
	return c, nil
}

func (m *Member) addClient(c *Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return rtc.ErrClosed
	}
	m.clients[c.id] = c
	return nil
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
