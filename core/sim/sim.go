// Package sim runs brokers and clients in one goroutine on a virtual clock with
// a seeded network model. Tests use it to replay runs exactly; the single-tab
// mode of the page is a Sim driven by the page's clock.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// Network is the network model. Each link is FIFO like a TCP connection:
// jitter never reorders two messages on the same link.
type Network struct {
	MinLatencyMs, MaxLatencyMs int64
	// DropRate is the probability that a message is lost (0..1).
	DropRate float64
}

// Observed is an event with where and when it happened.
type Observed struct {
	Time  int64
	Node  core.NodeID
	Event core.Event
}

// Sim is a set of machines, their stores, the messages in flight and a clock.
type Sim struct {
	Net Network
	// TickMs is how often every machine is ticked (virtual milliseconds).
	TickMs int64

	now      int64
	nextTick int64
	rnd      *rand.Rand
	ids      []core.NodeID // sorted, for a deterministic order
	machines map[core.NodeID]core.Machine
	stores   map[core.NodeID]storage.Store
	cut      map[[2]core.NodeID]bool
	linkTail map[[2]core.NodeID]int64
	flight   flightQueue
	seq      uint64
	events   []Observed
	// OnEvent, if set, sees every event as it is recorded.
	OnEvent func(Observed)
}

// Epoch is the virtual clock's default start: 2026-01-01T00:00:00Z.
const Epoch int64 = 1767225600000

// New returns an empty simulation whose randomness all comes from seed.
func New(seed uint64) *Sim {
	return &Sim{
		Net:      Network{MinLatencyMs: 1, MaxLatencyMs: 3},
		TickMs:   10,
		now:      Epoch,
		nextTick: Epoch,
		rnd:      rand.New(rand.NewPCG(seed, seed^0x5bd1e995)),
		machines: map[core.NodeID]core.Machine{},
		stores:   map[core.NodeID]storage.Store{},
		cut:      map[[2]core.NodeID]bool{},
		linkTail: map[[2]core.NodeID]int64{},
	}
}

// Rand is the simulation's seeded source, for deriving machine seeds.
func (s *Sim) Rand() *rand.Rand { return s.rnd }

// Now is the virtual time in Unix milliseconds.
func (s *Sim) Now() int64 { return s.now }

// Add starts a machine; store receives its Ready.Writes (nil: a memory store).
// The machine is ticked once at the current time.
func (s *Sim) Add(m core.Machine, store storage.Store) {
	id := m.ID()
	if _, dup := s.machines[id]; dup {
		panic(fmt.Sprintf("sim: machine %d added twice", id))
	}
	if store == nil {
		store = storage.NewMemory()
	}
	s.machines[id] = m
	s.stores[id] = store
	s.ids = append(s.ids, id)
	sort.Slice(s.ids, func(i, j int) bool { return s.ids[i] < s.ids[j] })
	m.Tick(s.now)
	s.drain(id)
}

// Machine returns the machine with that id, or nil.
func (s *Sim) Machine(id core.NodeID) core.Machine { return s.machines[id] }

// Store returns the store of a machine, which outlives a Crash.
func (s *Sim) Store(id core.NodeID) storage.Store { return s.stores[id] }

// Crash stops a machine at once: messages in flight to or from it are lost.
// Its store is kept so that a new machine can be opened from it and Added.
func (s *Sim) Crash(id core.NodeID) {
	delete(s.machines, id)
	for i, x := range s.ids {
		if x == id {
			s.ids = append(s.ids[:i], s.ids[i+1:]...)
			break
		}
	}
	s.dropFlights(func(e core.Envelope) bool { return e.To == id || e.From == id }, fmt.Sprintf("node %d crashed", id))
}

// Cut drops every message between a and b, in both directions, until Heal;
// messages already in flight between them are lost too.
func (s *Sim) Cut(a, b core.NodeID) {
	s.cut[link(a, b)] = true
	s.dropFlights(func(e core.Envelope) bool { return link(e.From, e.To) == link(a, b) }, "network cut")
}

func (s *Sim) dropFlights(match func(core.Envelope) bool, reason string) {
	kept := s.flight[:0]
	for _, f := range s.flight {
		if match(f.env) {
			s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	s.flight = kept
	heap.Init(&s.flight)
}

// Heal undoes Cut.
func (s *Sim) Heal(a, b core.NodeID) { delete(s.cut, link(a, b)) }

// Events returns the events recorded since the last call and forgets them.
func (s *Sim) Events() []Observed {
	ev := s.events
	s.events = nil
	return ev
}

// RunFor advances the clock by ms, delivering messages and ticking machines.
func (s *Sim) RunFor(ms int64) { s.runTo(s.now + ms) }

// RunUntil runs until cond holds (checked after every step) or maxMs passes;
// it reports whether cond held.
func (s *Sim) RunUntil(cond func() bool, maxMs int64) bool {
	end := s.now + maxMs
	for !cond() {
		if s.now >= end {
			return false
		}
		s.step(end)
	}
	return true
}

// Jump fast-forwards the clock by ms, as when a learner skips a week to
// watch retention: messages in flight are delivered at their times, but
// machines are ticked only once, at the end (so timeouts that fall inside the
// jump fire together).
func (s *Sim) Jump(ms int64) {
	end := s.now + ms
	for len(s.flight) > 0 && s.flight[0].at <= end {
		s.now = max(s.now, s.flight[0].at)
		s.deliverDue()
	}
	s.now = end
	s.nextTick = end
	s.step(end)
}

func (s *Sim) runTo(end int64) {
	for s.now < end {
		s.step(end)
	}
	// Deliver what is due exactly at end.
	s.deliverDue()
}

// step moves to the next delivery or tick, whichever is first, bounded by end.
func (s *Sim) step(end int64) {
	next := s.nextTick
	if len(s.flight) > 0 && s.flight[0].at < next {
		next = s.flight[0].at
	}
	if next > end {
		next = end
	}
	if next > s.now {
		s.now = next
	}
	s.deliverDue()
	if s.now >= s.nextTick {
		s.nextTick = s.now + s.TickMs
		for _, id := range s.ids {
			if m, ok := s.machines[id]; ok {
				m.Tick(s.now)
				s.drain(id)
			}
		}
	}
}

func (s *Sim) deliverDue() {
	for len(s.flight) > 0 && s.flight[0].at <= s.now {
		f := heap.Pop(&s.flight).(flight)
		m, ok := s.machines[f.env.To]
		if !ok {
			s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: fmt.Sprintf("no node %d", f.env.To)})
			continue
		}
		s.record(f.env.To, core.MessageDelivered{Envelope: f.env})
		m.Step(f.env)
		s.drain(f.env.To)
	}
}

// drain handles a machine's Ready until it has nothing more to say.
func (s *Sim) drain(id core.NodeID) {
	m := s.machines[id]
	for m != nil {
		rd := m.Ready()
		if rd.Empty() {
			return
		}
		if err := storage.Apply(s.stores[id], rd.Writes); err != nil {
			s.record(id, core.StorageFailed{Err: err.Error()})
			s.Crash(id)
			return
		}
		for _, ev := range rd.Events {
			s.record(id, ev)
		}
		for _, env := range rd.Messages {
			s.send(env)
		}
		m.Advance()
	}
}

func (s *Sim) send(env core.Envelope) {
	s.record(env.From, core.MessageSent{Envelope: env})
	l := link(env.From, env.To)
	if s.cut[l] {
		s.record(env.From, core.MessageDropped{Envelope: env, Reason: "network cut"})
		return
	}
	if s.Net.DropRate > 0 && s.rnd.Float64() < s.Net.DropRate {
		s.record(env.From, core.MessageDropped{Envelope: env, Reason: "random loss"})
		return
	}
	lat := s.Net.MinLatencyMs
	if d := s.Net.MaxLatencyMs - s.Net.MinLatencyMs; d > 0 {
		lat += s.rnd.Int64N(d + 1)
	}
	at := s.now + lat
	dir := [2]core.NodeID{env.From, env.To}
	if t := s.linkTail[dir]; at < t {
		at = t
	}
	s.linkTail[dir] = at
	s.seq++
	heap.Push(&s.flight, flight{sentAt: s.now, at: at, seq: s.seq, env: env})
}

func (s *Sim) record(id core.NodeID, ev core.Event) {
	o := Observed{Time: s.now, Node: id, Event: ev}
	s.events = append(s.events, o)
	if s.OnEvent != nil {
		s.OnEvent(o)
	}
}

func link(a, b core.NodeID) [2]core.NodeID {
	if a > b {
		a, b = b, a
	}
	return [2]core.NodeID{a, b}
}

type flight struct {
	sentAt, at int64
	seq        uint64
	env        core.Envelope
}

type flightQueue []flight

func (q flightQueue) Len() int { return len(q) }
func (q flightQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q flightQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *flightQueue) Push(x any)   { *q = append(*q, x.(flight)) }
func (q *flightQueue) Pop() any {
	old := *q
	f := old[len(old)-1]
	*q = old[:len(old)-1]
	return f
}

// Flight is a message on its way.
type Flight struct {
	SentAt, At int64
	Envelope   core.Envelope
}

// InFlight lists the messages on their way, soonest first.
func (s *Sim) InFlight() []Flight {
	out := make([]Flight, len(s.flight))
	for i, f := range s.flight {
		out[i] = Flight{SentAt: f.sentAt, At: f.at, Envelope: f.env}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}
