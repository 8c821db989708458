// Package gossip is what each member of a live cluster shares of its broker
// with the other members, every second, so that every tab can draw every
// broker — the offsets of its replicas, how it sees itself, the clients run
// beside it — and not only what its own broker's metadata says.
//
// Kafka has no such protocol: a follower's log end offset is known to its
// leader (from the follower's fetches) and to metrics, not to clients. So
// this travels beside the Kafka traffic, in the peer protocol's state frames
// (p2p/frame), and changes nothing in the cluster: it is what a monitoring
// dashboard scraping every broker would show.
package gossip

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/p2p/frame"
	"github.com/streamlab/streamlab/p2p/mesh"
)

// State is one broker as its member last shared it.
type State struct {
	Broker core.NodeID `json:"broker"`
	Time   int64       `json:"time"` // Unix ms on the sender's clock
	// Killed: the broker is stopped (a classroom teacher killed it);
	// nothing else is set.
	Killed      bool      `json:"killed,omitempty"`
	BrokerEpoch int64     `json:"brokerEpoch"` // -1: not registered
	Fenced      bool      `json:"fenced"`
	Replicas    []Replica `json:"replicas"`
	Producer    *Producer `json:"producer,omitempty"`
	Consumer    *Consumer `json:"consumer,omitempty"`
	// Sent is what the member's machines sent to other members over the
	// last WindowMs: each message is counted by its sender once, so
	// every member's together are all the cluster's traffic.
	Sent     []Link `json:"sent,omitempty"`
	WindowMs int64  `json:"windowMs,omitempty"`
	// Events is what the member's machines reported lately, told in
	// words by the member (newest last, at most maxEvents), so that every
	// tab's log tells the whole cluster's story.
	Events []Told `json:"events,omitempty"`
}

// Told is an event as its member told it.
type Told struct {
	Seq  uint64      `json:"seq"`  // rises with each event of the member
	Time int64       `json:"time"` // Unix ms on the member's clock
	Node core.NodeID `json:"node"`
	Kind string      `json:"kind"` // the event's type name
	Text string      `json:"text"`
}

// Link is how many messages of one API and direction went from one
// machine to another.
type Link struct {
	From core.NodeID `json:"f"`
	To   core.NodeID `json:"t"`
	API  string      `json:"api"`            // Kafka's API name, or "raft"
	Kind string      `json:"kind,omitempty"` // "request", "response" or "" (raft)
	N    int         `json:"n"`
}

// Replica is one partition's log on the broker.
type Replica struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Leader      bool   `json:"leader"` // the broker leads it (as it believes)
	LeaderEpoch int32  `json:"leaderEpoch"`
	LogStart    int64  `json:"logStart"`
	HW          int64  `json:"hw"`
	LEO         int64  `json:"leo"`
	// Tail is the newest records, oldest first (see tailRecords), so
	// that every tab draws every replica's log as the simulated view does:
	// offsets coloured by key.
	Tail []Record `json:"tail,omitempty"`
}

// Record is a record of a replica's tail, its key and value cut to
// maxKey and maxValue bytes (a longer key is coloured by its cut).
type Record struct {
	Offset int64  `json:"o"`
	Key    []byte `json:"k,omitempty"` // nil: a null key
	Value  []byte `json:"v,omitempty"`
}

// Producer is the producer run beside the broker (a tab's), if any.
type Producer struct {
	Sent   int `json:"sent"`
	Acked  int `json:"acked"`
	Failed int `json:"failed"`
}

// Consumer is the consumer group member run beside the broker, if any.
type Consumer struct {
	Group      string  `json:"group"`
	Topic      string  `json:"topic"`
	Read       int     `json:"read"`
	Assignment []int32 `json:"assignment"`
}

// Bounds a decoded state must keep: a peer's page must not draw without
// end, whatever it is sent.
const (
	maxReplicas   = 4096
	maxName       = 249 // Kafka's longest topic name; group ids kept to it too
	maxAssignment = 4096
	// A replica's tail: the records a replica row draws (ui's window),
	// for the first tailReplicas replicas, so that a state stays far
	// below frame.MaxState (64 × 9 × ~150 bytes of JSON).
	tailRecords  = 9
	tailReplicas = 64
	maxKey       = 40
	maxValue     = 24
	maxLinks     = 512 // mesh's bound on its routes
	maxAPI       = 40
	maxEvents    = 40
	maxKind      = 40
	maxText      = 400
)

// ErrMalformed is a state that does not decode or breaks a bound.
var ErrMalformed = errors.New("gossip: malformed state")

// Read reads srv's state (on its goroutine: from Host.Do) at now (Unix ms).
// Only the replicas the metadata assigns to the broker are shared.
func Read(srv *server.Server, now int64) State {
	id := srv.Broker().ID()
	st := State{Broker: id, Time: now, Replicas: []Replica{}}
	st.BrokerEpoch, st.Fenced = srv.Registered()
	img := srv.Image()
	for _, name := range img.Topics() {
		t, ok := img.Topic(name)
		if !ok {
			continue
		}
		for p, reg := range t.Partitions {
			if !slices.Contains(reg.Replicas, int32(id)) {
				continue
			}
			info, ok := srv.Broker().Partition(name, int32(p))
			if !ok || len(st.Replicas) == maxReplicas {
				continue
			}
			r := Replica{Topic: name, Partition: int32(p), Leader: info.Leader == int32(id),
				LeaderEpoch: info.LeaderEpoch, LogStart: info.LogStartOffset, HW: info.HighWatermark, LEO: info.LogEndOffset}
			if len(st.Replicas) < tailReplicas && !strings.HasPrefix(name, "__") { // no one draws __consumer_offsets
				r.Tail = tail(srv, name, r)
			}
			st.Replicas = append(st.Replicas, r)
		}
	}
	return st
}

// tail reads r's newest records, cut to the shared sizes.
func tail(srv *server.Server, topic string, r Replica) []Record {
	from := max(r.LogStart, r.LEO-tailRecords)
	var out []Record
	for _, rec := range srv.Broker().Records(topic, r.Partition, from, tailRecords) {
		out = append(out, Record{Offset: rec.Offset, Key: cut(rec.Key, maxKey), Value: cut(rec.Value, maxValue)})
	}
	return out
}

// cut keeps b's first n bytes, nil as nil.
func cut(b []byte, n int) []byte {
	if b == nil {
		return nil
	}
	return slices.Clone(b[:min(len(b), n)])
}

// Encode encodes s for a state frame.
func (s State) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err == nil && len(b) > frame.MaxState {
		err = fmt.Errorf("gossip: %d-byte state, the limit is %d", len(b), frame.MaxState)
	}
	return b, err
}

// Decode decodes what peer from shared: a state about another broker, or
// one that breaks a bound, is an error wrapping ErrMalformed.
func Decode(b []byte, from core.NodeID) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := s.check(from); err != nil {
		return State{}, fmt.Errorf("%w from broker %d: %v", ErrMalformed, from, err)
	}
	return s, nil
}

func (s *State) check(from core.NodeID) error {
	switch {
	case s.Broker != from:
		return fmt.Errorf("it speaks for broker %d", s.Broker)
	case len(s.Replicas) > maxReplicas:
		return fmt.Errorf("%d replicas, at most %d", len(s.Replicas), maxReplicas)
	}
	for _, r := range s.Replicas {
		if !name(r.Topic) || r.Topic == "" || r.Partition < 0 || r.LogStart < 0 || r.HW < 0 || r.LEO < 0 {
			return fmt.Errorf("replica %.40q-%d: bad name or offsets (log start %d, HW %d, LEO %d)", r.Topic, r.Partition, r.LogStart, r.HW, r.LEO)
		}
		if err := r.checkTail(); err != nil {
			return fmt.Errorf("replica %.40q-%d: %v", r.Topic, r.Partition, err)
		}
	}
	if len(s.Sent) > maxLinks || s.WindowMs < 0 {
		return fmt.Errorf("%d links over %d ms, at most %d", len(s.Sent), s.WindowMs, maxLinks)
	}
	for _, l := range s.Sent {
		if l.N < 0 || len(l.API) > maxAPI || !utf8.ValidString(l.API) || l.Kind != "" && l.Kind != "request" && l.Kind != "response" {
			return fmt.Errorf("link %d→%d: %d messages of %.40q %.10q", l.From, l.To, l.N, l.API, l.Kind)
		}
	}
	if len(s.Events) > maxEvents {
		return fmt.Errorf("%d events, at most %d", len(s.Events), maxEvents)
	}
	for _, e := range s.Events {
		if len(e.Kind) > maxKind || len(e.Text) > maxText || !utf8.ValidString(e.Kind) || !utf8.ValidString(e.Text) {
			return fmt.Errorf("event %d: a %d-byte kind or a %d-byte text", e.Seq, len(e.Kind), len(e.Text))
		}
	}
	if p := s.Producer; p != nil && (p.Sent < 0 || p.Acked < 0 || p.Failed < 0) {
		return errors.New("negative producer counts")
	}
	if c := s.Consumer; c != nil && (!name(c.Group) || !name(c.Topic) || c.Read < 0 || len(c.Assignment) > maxAssignment) {
		return errors.New("bad consumer")
	}
	return nil
}

// checkTail: at most tailRecords records, offsets rising within the log,
// keys and values within their cut.
func (r Replica) checkTail() error {
	if len(r.Tail) > tailRecords {
		return fmt.Errorf("%d tail records, at most %d", len(r.Tail), tailRecords)
	}
	prev := r.LogStart - 1
	for _, rec := range r.Tail {
		switch {
		case rec.Offset <= prev || rec.Offset >= r.LEO:
			return fmt.Errorf("tail offset %d out of order or outside [%d, %d)", rec.Offset, r.LogStart, r.LEO)
		case len(rec.Key) > maxKey || len(rec.Value) > maxValue:
			return fmt.Errorf("tail record %d: %d-byte key, %d-byte value", rec.Offset, len(rec.Key), len(rec.Value))
		}
		prev = rec.Offset
	}
	return nil
}

// links lists counts by route, in a stable order.
func links(sent map[mesh.Route]int) []Link {
	out := make([]Link, 0, len(sent))
	for r, n := range sent {
		l := Link{From: r.From, To: r.To, API: "raft", N: n}
		if r.Key >= 0 {
			l.API, l.Kind = core.APIName(r.Key), "request"
			if r.Response {
				l.Kind = "response"
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Link) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.API, b.API), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

func name(s string) bool { return len(s) <= maxName && utf8.ValidString(s) }

// Share reads m's broker every interval and shares it with m's peers until
// ctx ends. extra, if set, adds what runs beside the broker (its clients).
// A killed broker is shared as killed.
func Share(ctx context.Context, m *mesh.Member, interval time.Duration, extra func(*State)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := time.Now()
	m.TakeSent() // counted from now
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixMilli()
		var st State
		if err := m.Host().Do(func(mc core.Machine) { st = Read(mc.(*server.Server), now) }); err != nil {
			st = State{Broker: m.ID(), Time: now, Killed: true}
		}
		st.Sent, st.WindowMs = links(m.TakeSent()), time.Since(last).Milliseconds()
		last = time.Now()
		if extra != nil {
			extra(&st)
		}
		b, err := st.Encode()
		if err != nil { // too large: share the offsets without the extras
			for i := range st.Replicas {
				st.Replicas[i].Tail = nil
			}
			st.Sent, st.Events = nil, nil
			b, err = st.Encode()
		}
		if err == nil {
			m.ShareState(b)
		}
	}
}
