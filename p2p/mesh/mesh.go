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
//
// SetFaults injects what a classroom's teacher asks for: the broker killed
// (and later reopened from its storage) while the member's clients and
// connections go on, and envelopes to and from some peers dropped (a
// network partition).
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
	// PeerState, if set, gets what a peer shares of its broker
	// (ShareState; p2p/gossip encodes it), on that peer's reader
	// goroutine: it must not block or call the Member.
	PeerState func(from core.NodeID, b []byte)
	// Reopen, if set, opens the broker again from its storage, to restart
	// it after SetFaults killed it.
	Reopen func() (core.Machine, error)
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Event is a batch of core events from one machine of this member (Node:
// the broker or a client), a peer broker going up or down (Node: the peer),
// or a fault SetFaults applied (Node: this member's broker).
type Event struct {
	Node     core.NodeID
	Core     []core.Event
	PeerUp   bool
	PeerDown bool
	Err      error  // why the peer went down
	Fault    string // what SetFaults did, in plain language
}

// Faults are what is injected into a member (by a classroom's teacher).
type Faults struct {
	// Down kills the broker; clearing it reopens the broker from its
	// storage (Config.Reopen), as a restarted process recovers its log.
	Down bool
	// PeersDown are the other brokers killed: a Proxy to one of them
	// fails at once, as a connection to a dead broker is refused.
	PeersDown []core.NodeID
	// Blocked are the peers cut off from this member: what goes to or
	// comes from them is dropped, and they do not notice at once (a
	// network partition, which only timeouts reveal).
	Blocked []core.NodeID
}

// Member is one broker of a live cluster and the clients run beside it.
type Member struct {
	cfg   Config
	store storage.Store
	host  *host.Host // replaced when a killed broker restarts: read it under mu
	tr    *rtc.Transport

	done chan struct{} // closed by Close, or when the broker fails on its own
	err  error         // why done was closed

	mu         sync.Mutex
	up         map[core.NodeID]bool
	clients    map[core.NodeID]*Client
	routes     map[core.NodeID]core.NodeID // remote client id → its member's broker id
	nextClient int
	closed     bool
	faults     Faults
	blocked    map[core.NodeID]bool
	peersDown  map[core.NodeID]bool
	doneOnce   sync.Once
	sent       map[Route]int // since the last TakeSent
}

// Route is a kind of message sent to a peer: from a machine of this member
// to a machine of another, of one API (-1: the controller quorum's raft)
// and direction.
type Route struct {
	From, To core.NodeID
	Key      int16
	Response bool
}

// maxSentRoutes bounds sent (routes to clients are many: up to
// ClientsPerBroker per broker, times the APIs).
const maxSentRoutes = 512

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
	if cfg.PeerState == nil {
		cfg.PeerState = func(core.NodeID, []byte) {}
	}
	m := &Member{cfg: cfg, store: store, done: make(chan struct{}), up: map[core.NodeID]bool{}, clients: map[core.NodeID]*Client{}, routes: map[core.NodeID]core.NodeID{},
		sent: map[Route]int{}}
	m.host = host.Start(broker, store, host.Options{Logf: cfg.Logf, Events: m.events(cfg.ID)})
	go m.watch(m.host)
	tr, err := rtc.New(rtc.Config{
		ID: cfg.ID, Cluster: cfg.Cluster, Signaler: cfg.Signaler,
		AllowPeer: m.isBroker,
		Receive:   m.receive,
		ReceiveState: func(from core.NodeID, b []byte) {
			m.mu.Lock()
			cut := m.blocked[from]
			m.mu.Unlock()
			if !cut {
				m.cfg.PeerState(from, b)
			}
		},
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
	m.wire(m.host)
	m.mu.Unlock()
	return m, nil
}

// wire registers on h (the broker's host) where its messages go: the
// peers, the remote clients it heard from, and this member's clients.
// m.mu is held.
func (m *Member) wire(h *host.Host) {
	for b := core.NodeID(1); b <= core.NodeID(m.cfg.MaxBrokers); b++ {
		if b != m.cfg.ID {
			h.Register(b, func(env core.Envelope) { m.send(b, env) })
		}
	}
	for id, peer := range m.routes {
		h.Register(id, func(env core.Envelope) { m.send(peer, env) })
	}
	for _, c := range m.clients {
		if c.h == nil {
			h.Register(c.id, c.deliver) // a Proxy's connection
			continue
		}
		host.Link(c.h, h)
		host.Link(h, c.h)
	}
}

// watch ends the member's Done when broker host h stops on its own (not
// killed by SetFaults, not closed).
func (m *Member) watch(h *host.Host) {
	<-h.Done()
	m.mu.Lock()
	failed := m.host == h && !m.closed && !m.faults.Down
	m.mu.Unlock()
	if failed {
		m.finish(h.Err())
	}
}

func (m *Member) finish(err error) {
	m.doneOnce.Do(func() {
		m.err = err
		close(m.done)
	})
}

// Done is closed when the member stops: Close, or its broker failing on
// its own (a storage error). A broker killed by SetFaults does not end it.
func (m *Member) Done() <-chan struct{} { return m.done }

// Err is why the member stopped, once Done is closed (nil after Close).
func (m *Member) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}

// SetFaults makes the member's faults f (the whole set: what f omits is
// healed). Killing the broker closes it; its clients and connections go on
// (as other processes of the device would). Restarting reopens it with
// Config.Reopen and wires it as before.
func (m *Member) SetFaults(f Faults) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return rtc.ErrClosed
	}
	var notes []string
	if !slices.Equal(f.Blocked, m.faults.Blocked) {
		if len(f.Blocked) == 0 {
			notes = append(notes, "network healed: traffic flows to every broker again")
		} else {
			notes = append(notes, fmt.Sprintf("network cut: traffic to and from %s is dropped", brokerList(f.Blocked)))
		}
	}
	m.blocked, m.peersDown = set(f.Blocked), set(f.PeersDown)
	was := m.faults.Down
	var old *host.Host
	switch {
	case f.Down && !was:
		old = m.host
		notes = append(notes, fmt.Sprintf("broker %d killed: it stops answering, its peers notice by timeouts", m.cfg.ID))
	case !f.Down && was:
		if m.cfg.Reopen == nil {
			m.mu.Unlock()
			return errors.New("mesh: no Config.Reopen to restart the broker with")
		}
		mc, err := m.cfg.Reopen()
		if err == nil && mc.ID() != m.cfg.ID {
			err = fmt.Errorf("reopened machine has id %d", mc.ID())
		}
		if err != nil {
			m.mu.Unlock()
			return fmt.Errorf("mesh: restarting broker %d: %w", m.cfg.ID, err)
		}
		m.host = host.Start(mc, m.store, host.Options{Logf: m.cfg.Logf, Events: m.events(m.cfg.ID)})
		m.wire(m.host)
		go m.watch(m.host)
		notes = append(notes, fmt.Sprintf("broker %d restarted: it recovered its log from storage", m.cfg.ID))
	}
	m.faults = Faults{Down: f.Down, PeersDown: slices.Clone(f.PeersDown), Blocked: slices.Clone(f.Blocked)}
	m.mu.Unlock()
	if old != nil {
		old.Close()
	}
	for _, n := range notes {
		m.cfg.Events(Event{Node: m.cfg.ID, Fault: n})
	}
	return nil
}

// Faults returns the faults set last.
func (m *Member) Faults() Faults {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults
}

func set(ids []core.NodeID) map[core.NodeID]bool {
	s := make(map[core.NodeID]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

func brokerList(ids []core.NodeID) string {
	s := "broker"
	if len(ids) > 1 {
		s += "s"
	}
	for i, id := range ids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(" %d", id)
	}
	return s
}

// ID is this member's broker id.
func (m *Member) ID() core.NodeID { return m.cfg.ID }

// Host is the broker's host (to read its state, or to link other machines
// to it). A broker killed and restarted by SetFaults has a new one.
func (m *Member) Host() *host.Host {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.host
}

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
	h := m.host
	m.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
	err := h.Close()
	if m.faults.Down { // closed when it was killed; what it said then is moot
		err = nil
	}
	m.tr.Close()
	m.finish(nil)
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

// ShareState sends b (what this member shares of its broker) to every
// connected peer not cut off from it. Best effort, as gossip is.
func (m *Member) ShareState(b []byte) {
	m.mu.Lock()
	tr := m.tr
	var to []core.NodeID
	for id, up := range m.up {
		if up && !m.blocked[id] {
			to = append(to, id)
		}
	}
	m.mu.Unlock()
	for _, id := range to {
		_ = tr.SendState(id, b)
	}
}

// send hands env to broker b's member. Failures drop it, as a lossy
// network would: the machines' timeouts and retries deal with that.
func (m *Member) send(b core.NodeID, env core.Envelope) {
	r := Route{From: env.From, To: env.To, Key: -1, Response: env.Response != nil}
	if env.Raft == nil {
		r.Key = env.Key()
	}
	m.mu.Lock()
	tr, cut := m.tr, m.blocked[b]
	if _, ok := m.sent[r]; ok || len(m.sent) < maxSentRoutes {
		m.sent[r]++
	}
	m.mu.Unlock()
	if tr != nil && !cut {
		_ = tr.Send(b, env)
	}
}

// TakeSent returns how many messages this member's machines handed to
// peers since the last call, by route (including those a cut dropped, as a
// sender would), and starts counting again.
func (m *Member) TakeSent() map[Route]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sent
	m.sent = map[Route]int{}
	return out
}

// receive runs on the reader goroutine of peer from.
func (m *Member) receive(from core.NodeID, env core.Envelope) {
	m.mu.Lock()
	h, c, cut := m.host, m.clients[env.To], m.blocked[from]
	m.mu.Unlock()
	if cut {
		return
	}
	if env.To == m.cfg.ID {
		if !m.isBroker(env.From) {
			m.route(env.From, from)
		}
		_ = h.Step(env) // fails only once the broker is closed (or killed)
		return
	}
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
	return c, nil
}

// addClient adds c and links it with the broker, under mu so that a
// restarting broker is wired to it exactly once.
func (m *Member) addClient(c *Client) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return rtc.ErrClosed
	}
	m.clients[c.id] = c
	host.Link(c.h, m.host)
	host.Link(m.host, c.h)
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
