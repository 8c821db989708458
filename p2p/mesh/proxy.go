package mesh

import (
	"fmt"

	"github.com/streamlab/streamlab/core"
)

// Proxy is broker b of the cluster as seen from this member, for a Kafka
// listener (p2p/kafkatcp) to serve: each connection registers a client id
// of this member's range, its requests go to b (over WebRTC unless b is
// this member's broker) and b's answers come back to it. So the node gives
// a tab's broker an address real Kafka clients can reach.
type Proxy struct {
	m *Member
	b core.NodeID
}

// Proxy returns broker b as seen from this member.
func (m *Member) Proxy(b core.NodeID) *Proxy { return &Proxy{m, b} }

// ID is the proxied broker's id.
func (p *Proxy) ID() core.NodeID { return p.b }

// NewClientID returns a client id of this member's range.
func (p *Proxy) NewClientID() core.NodeID { return p.m.NewClientID() }

// Register makes deliver the destination of what brokers send to client id.
func (p *Proxy) Register(id core.NodeID, deliver func(core.Envelope)) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	p.m.clients[id] = &Client{m: p.m, id: id, deliver: deliver}
	p.m.host.Register(id, deliver)
}

// Unregister forgets client id.
func (p *Proxy) Unregister(id core.NodeID) {
	p.m.mu.Lock()
	defer p.m.mu.Unlock()
	if c := p.m.clients[id]; c != nil && c.h == nil {
		delete(p.m.clients, id)
	}
	p.m.host.Unregister(id)
}

// Step sends a client's envelope to the proxied broker. It fails if the
// broker is not connected, or is killed or cut off by SetFaults: the
// listener then closes the connection, which is what a client of a dead
// Kafka broker sees (a reset), so it refreshes its metadata at once instead
// of waiting out request.timeout.ms.
func (p *Proxy) Step(env core.Envelope) error {
	if env.To != p.b {
		return fmt.Errorf("mesh: proxy of broker %d got an envelope for %d", p.b, env.To)
	}
	p.m.mu.Lock()
	h, up, cut := p.m.host, p.m.up[p.b], p.m.blocked[p.b]
	down := p.m.peersDown[p.b] || p.b == p.m.cfg.ID && p.m.faults.Down
	p.m.mu.Unlock()
	switch {
	case down:
		return fmt.Errorf("mesh: broker %d was killed", p.b)
	case p.b == p.m.cfg.ID:
		return h.Step(env)
	case cut:
		return fmt.Errorf("mesh: broker %d is cut off from this one", p.b)
	case !up:
		return fmt.Errorf("mesh: broker %d is not connected", p.b)
	}
	p.m.send(p.b, env)
	return nil
}

// Done is closed when the member stops (a killed broker does not stop it:
// the listener goes on, refusing connections until the restart).
func (p *Proxy) Done() <-chan struct{} { return p.m.Done() }

// Err is why the member stopped.
func (p *Proxy) Err() error { return p.m.Err() }
