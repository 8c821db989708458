package rtc

import (
	"fmt"
	"sync"

	"github.com/streamlab/streamlab/core"
)

// SignalKind says what a Signal carries.
type SignalKind string

const (
	SignalOffer     SignalKind = "offer"
	SignalAnswer    SignalKind = "answer"
	SignalCandidate SignalKind = "candidate"
)

// Signal is one signaling message between two nodes: an SDP offer or
// answer, or one trickled ICE candidate. It marshals to JSON for relays.
type Signal struct {
	From, To core.NodeID
	// Session names one connection attempt (chosen by the offerer):
	// answers and candidates of any other attempt are ignored, so a late
	// message of an old attempt cannot disturb a reconnection.
	Session   uint64
	Kind      SignalKind
	SDP       string     `json:",omitempty"`
	Candidate *Candidate `json:",omitempty"`
}

// Candidate is one trickled ICE candidate, as the browser's
// RTCIceCandidate.toJSON() gives it (and with its JSON names).
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}

// SessionDescription is an SDP offer or answer.
type SessionDescription struct {
	Type SDPType
	SDP  string
}

// SDPType is what a SessionDescription is, as JavaScript names it.
type SDPType string

const (
	SDPOffer  SDPType = "offer"
	SDPAnswer SDPType = "answer"
)

// ICEServer is a STUN or TURN server.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Signaler carries Signals between the nodes of one cluster, best effort
// and in order between two nodes (BroadcastChannel between tabs, an HTTP
// relay between devices, MemSignaling in tests).
type Signaler interface {
	// Send delivers s to node s.To. It must not block for long.
	Send(s Signal) error
	// Receive makes handle the receiver of the signals addressed to this
	// node until stop is called. handle does not block.
	Receive(handle func(Signal)) (stop func())
}

// MemSignaling connects the Signalers of nodes in one process.
type MemSignaling struct {
	mu       sync.RWMutex
	handlers map[core.NodeID]*func(Signal)
}

// NewMemSignaling returns an empty in-process signaling hub.
func NewMemSignaling() *MemSignaling {
	return &MemSignaling{handlers: map[core.NodeID]*func(Signal){}}
}

// Node returns the Signaler of node id.
func (m *MemSignaling) Node(id core.NodeID) Signaler { return memSignaler{m, id} }

type memSignaler struct {
	m  *MemSignaling
	id core.NodeID
}

func (s memSignaler) Send(sig Signal) error {
	s.m.mu.RLock()
	defer s.m.mu.RUnlock()
	h := s.m.handlers[sig.To]
	if h == nil {
		return fmt.Errorf("rtc: no node %d on this signaling hub", sig.To)
	}
	(*h)(sig)
	return nil
}

// Receive replaces the node's receiver, as a restarted node (a reloaded tab)
// takes over its id; stop removes only its own receiver.
func (s memSignaler) Receive(handle func(Signal)) func() {
	h := &handle
	s.m.mu.Lock()
	s.m.handlers[s.id] = h
	s.m.mu.Unlock()
	return func() {
		s.m.mu.Lock()
		if s.m.handlers[s.id] == h {
			delete(s.m.handlers, s.id)
		}
		s.m.mu.Unlock()
	}
}
