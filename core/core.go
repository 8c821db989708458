// Package core holds the types shared by every deterministic state machine of
// Streamlab: the envelope that carries a Kafka request or response between two
// machines, the Ready batch a machine hands to its host, and the typed events
// that describe everything that happens.
//
// The contract follows etcd-io/raft: a host calls Step for every incoming
// envelope and Tick when its clock moves, then drains Ready, makes
// Ready.Writes durable, sends Ready.Messages, hands Ready.Events to whoever
// watches, and calls Advance. Machines never read a clock, never start a
// goroutine and never touch the network or the disk, so a run with the same
// seed and the same inputs replays exactly.
package core

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/storage"
)

// NodeID names a machine: brokers use their Kafka node.id (1, 2, 3...), clients
// use ids handed out by their host (see ClientIDBase).
type NodeID int32

// ClientIDBase is the first id a host gives to clients, far above broker ids.
const ClientIDBase NodeID = 1000

// Envelope carries exactly one Kafka request or response between machines,
// or one raft message between controller voters. Exactly one of Request,
// Response and Raft is set. For a request, ClientID is the Kafka client.id
// header field.
type Envelope struct {
	From, To      NodeID
	CorrelationID int32
	ClientID      string
	Request       kmsg.Request
	Response      kmsg.Response
	Raft          []byte // an encoded raftpb.Message between controller voters
	// Owned says that nothing else holds the bytes Request refers to (a
	// frame read for it alone, as package kafkatcp reads them), so the
	// machine may keep them and change them in place (a Produce's batches,
	// whose offsets the broker sets) rather than copy them. Without it, the
	// sender may still hold them: a machine may keep them but must not
	// change them. A sender never changes bytes it has sent (a follower
	// keeps a fetch response's batches as they are).
	Owned bool
}

// Key is the Kafka API key of the message the envelope carries, -1 for a
// raft message.
func (e Envelope) Key() int16 {
	if e.Request != nil {
		return e.Request.Key()
	}
	if e.Response != nil {
		return e.Response.Key()
	}
	return -1
}

func (e Envelope) String() string {
	if e.Raft != nil {
		// core stays free of raftpb (and protobuf): core/controller
		// decodes the message type (controller.DescribeRaft).
		return fmt.Sprintf("%d->%d raft message (%d bytes)", e.From, e.To, len(e.Raft))
	}
	kind := "response"
	if e.Request != nil {
		kind = "request"
	}
	return fmt.Sprintf("%d->%d %s %s corr=%d", e.From, e.To, APIName(e.Key()), kind, e.CorrelationID)
}

// APIName is Kafka's name for an API key, "Unknown(k)" if kmsg has none.
func APIName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" {
		return n
	}
	return fmt.Sprintf("Unknown(%d)", key)
}

// Ready is what a machine asks its host to do, in this order: persist Writes,
// then send Messages; Events are observations for the UI and for checkers.
type Ready struct {
	Writes   []storage.Write
	Messages []Envelope
	Events   []Event
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return len(r.Writes) == 0 && len(r.Messages) == 0 && len(r.Events) == 0
}

// Machine is a deterministic state machine: a broker Node or a Client.
type Machine interface {
	ID() NodeID
	// Step hands the machine one envelope addressed to it.
	Step(Envelope)
	// Tick moves the machine's clock to now (Unix milliseconds, never
	// decreasing) and runs whatever is due: timeouts, retention, lingers.
	Tick(now int64)
	// Ready returns the work accumulated since the last Advance.
	Ready() Ready
	// Advance tells the machine the last Ready has been handled.
	Advance()
}
