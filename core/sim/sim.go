// Package sim runs brokers and clients in one goroutine on a virtual clock with
// a seeded network model. Tests use it to replay runs exactly; the single-tab
// mode of the page is a Sim driven by the page's clock.
//
// Faults are injected from outside the machines (faults.go): crash and
// restart, power loss of unsynced writes, pause and resume, partitions and
// one-way cuts, slow nodes and links, message loss, duplication, delay and
// reordering, clock skew; a seeded Nemesis (nemesis.go) schedules them at
// random. Every fault is recorded as a core.FaultInjected event and its end as
// a core.FaultHealed event.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// Network is the network model.
//
// By default each link is FIFO like a TCP connection: jitter never reorders
// two messages on the same link, and a delayed message holds back the ones
// behind it. Kafka runs over TCP, so that is what brokers and clients may
// rely on. DropRate, DuplicateRate and Reorder model a faulty transport
// instead (TCP would retransmit, discard duplicates and keep order, or break
// the connection): use them to test what the protocol does on its own.
type Network struct {
	MinLatencyMs, MaxLatencyMs int64
	// DropRate is the probability that a message is lost (0..1).
	DropRate float64
	// DuplicateRate is the probability that a message is delivered twice
	// (0..1); the copy has its own latency.
	DuplicateRate float64
	// DelayRate is the probability (0..1) that a message takes 1..DelayMs
	// more than its latency: a retransmission, a congested queue.
	DelayRate float64
	DelayMs   int64
	// Reorder lets a message overtake earlier ones on its link: each keeps
	// its own latency.
	Reorder bool
}

// faulty reports whether the model breaks messages, beyond their latency.
func (n Network) faulty() bool {
	return n.DropRate > 0 || n.DuplicateRate > 0 || (n.DelayRate > 0 && n.DelayMs > 0) || n.Reorder
}

func (n Network) String() string {
	s := fmt.Sprintf("latency %d..%d ms", n.MinLatencyMs, n.MaxLatencyMs)
	if n.DropRate > 0 {
		s += fmt.Sprintf(", drop %.0f%%", 100*n.DropRate)
	}
	if n.DuplicateRate > 0 {
		s += fmt.Sprintf(", duplicate %.0f%%", 100*n.DuplicateRate)
	}
	if n.DelayRate > 0 && n.DelayMs > 0 {
		s += fmt.Sprintf(", delay %.0f%% by up to %d ms", 100*n.DelayRate, n.DelayMs)
	}
	if n.Reorder {
		s += ", reorder"
	}
	return s
}

// Observed is an event with where and when it happened.
type Observed struct {
	Time  int64
	Node  core.NodeID
	Event core.Event
}

// HostNode is the Node of events that no single machine observed: faults of
// the network as a whole, partitions, cuts.
const HostNode core.NodeID = -1

// Sim is a set of machines, their stores, the messages in flight and a clock.
type Sim struct {
	Net Network
	// TickMs is how often every machine is ticked (virtual milliseconds).
	TickMs int64
	// SyncEveryMs is how often the writes of every machine become durable
	// (0: only on Sync), like the OS writing its page cache back: Linux does
	// every 5 s (vm.dirty_writeback_centisecs), and Kafka itself never fsyncs
	// a log by default (flush.messages and flush.ms are infinite). Only
	// CrashLosing loses writes that are not durable yet; Crash keeps them all,
	// as a killed process leaves its page cache to the OS.
	SyncEveryMs int64

	now      int64
	nextTick int64
	nextSync int64
	rnd      *rand.Rand
	ids      []core.NodeID // sorted, for a deterministic order
	machines map[core.NodeID]core.Machine
	disks    map[core.NodeID]*disk
	linkTail map[[2]core.NodeID]int64
	flight   flightQueue
	seq      uint64
	timers   timerQueue
	events   []Observed
	faults   int

	// Faults in force (faults.go).
	cut      map[[2]core.NodeID]int // directed link -> how many cuts hold it
	slow     map[core.NodeID]int64
	slowLink map[[2]core.NodeID]int64
	paused   map[core.NodeID]bool
	inbox    map[core.NodeID][]flight // messages that reached a paused node
	skew     map[core.NodeID]int64    // clock offsets
	lastTick map[core.NodeID]int64    // the last time each machine was given
	crashed  map[core.NodeID]string   // how each machine went down: a Fault kind

	// OnEvent, if set, sees every event as it is recorded.
	OnEvent func(Observed)
}

// Epoch is the virtual clock's default start: 2026-01-01T00:00:00Z.
const Epoch int64 = 1767225600000

// New returns an empty simulation whose randomness all comes from seed.
func New(seed uint64) *Sim {
	return &Sim{
		Net:         Network{MinLatencyMs: 1, MaxLatencyMs: 3},
		TickMs:      10,
		SyncEveryMs: 5000,
		now:         Epoch,
		nextTick:    Epoch,
		nextSync:    Epoch,
		rnd:         rand.New(rand.NewPCG(seed, seed^0x5bd1e995)),
		machines:    map[core.NodeID]core.Machine{},
		disks:       map[core.NodeID]*disk{},
		linkTail:    map[[2]core.NodeID]int64{},
		cut:         map[[2]core.NodeID]int{},
		slow:        map[core.NodeID]int64{},
		slowLink:    map[[2]core.NodeID]int64{},
		paused:      map[core.NodeID]bool{},
		inbox:       map[core.NodeID][]flight{},
		skew:        map[core.NodeID]int64{},
		lastTick:    map[core.NodeID]int64{},
		crashed:     map[core.NodeID]string{},
	}
}

// Rand is the simulation's seeded source, for deriving machine seeds.
func (s *Sim) Rand() *rand.Rand { return s.rnd }

// Now is the virtual time in Unix milliseconds.
func (s *Sim) Now() int64 { return s.now }

// Add starts a machine; store receives its Ready.Writes (nil: a memory store).
// What store holds when Add is called counts as durable. The machine is
// ticked once at the current time.
func (s *Sim) Add(m core.Machine, store storage.Store) {
	id := m.ID()
	if _, dup := s.machines[id]; dup {
		panic(fmt.Sprintf("sim: machine %d added twice", id))
	}
	if store == nil {
		store = storage.NewMemory()
	}
	s.machines[id] = m
	s.disks[id] = newDisk(store)
	delete(s.crashed, id)
	delete(s.lastTick, id)
	s.ids = append(s.ids, id)
	sort.Slice(s.ids, func(i, j int) bool { return s.ids[i] < s.ids[j] })
	s.tick(id)
}

// Machine returns the machine with that id, or nil.
func (s *Sim) Machine(id core.NodeID) core.Machine { return s.machines[id] }

// Store returns the store of a machine, which outlives a crash: open a new
// machine from it to restart (see Restart).
func (s *Sim) Store(id core.NodeID) storage.Store {
	if d := s.disks[id]; d != nil {
		return d.store
	}
	return nil
}

// IDs lists the running machines (paused ones included), in id order.
func (s *Sim) IDs() []core.NodeID { return append([]core.NodeID(nil), s.ids...) }

// Events returns the events recorded since the last call and forgets them.
func (s *Sim) Events() []Observed {
	ev := s.events
	s.events = nil
	return ev
}

// ForgetEvents forgets the events recorded so far, as Events does, but
// keeps the list's memory for the next ones: for a caller that sees every
// event through OnEvent (a busy lab records thousands per virtual second).
func (s *Sim) ForgetEvents() {
	clear(s.events) // no old event stays reachable
	s.events = s.events[:0]
}

// Faults is the number of faults injected so far (FaultInjected events).
func (s *Sim) Faults() int { return s.faults }

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
// watch retention: messages in flight are delivered and actions scheduled
// with At run at their times, but machines are ticked only once, at the end
// (so timeouts that fall inside the jump fire together).
func (s *Sim) Jump(ms int64) {
	end := s.now + ms
	for {
		next := end + 1
		if len(s.flight) > 0 {
			next = s.flight[0].at
		}
		if len(s.timers) > 0 && s.timers[0].at < next {
			next = s.timers[0].at
		}
		if next > end {
			break
		}
		s.now = max(s.now, next)
		s.deliverDue()
		s.runTimers()
	}
	s.now = end
	s.nextTick = end
	s.step(end)
}

// At runs fn at virtual time t (now, if t is past), after the messages due
// then and before the machines are ticked. Actions due at the same time run
// in the order they were scheduled. fn may inject faults, add machines or
// schedule more actions.
func (s *Sim) At(t int64, fn func()) {
	s.seq++
	heap.Push(&s.timers, timer{at: max(t, s.now), seq: s.seq, fn: fn})
}

// After runs fn ms from now (see At).
func (s *Sim) After(ms int64, fn func()) { s.At(s.now+ms, fn) }

func (s *Sim) runTo(end int64) {
	for s.now < end {
		s.step(end)
	}
	// Deliver what is due exactly at end.
	s.deliverDue()
	s.runTimers()
}

// step moves to the next delivery, action or tick, whichever is first,
// bounded by end.
func (s *Sim) step(end int64) {
	next := s.nextTick
	if len(s.flight) > 0 && s.flight[0].at < next {
		next = s.flight[0].at
	}
	if len(s.timers) > 0 && s.timers[0].at < next {
		next = s.timers[0].at
	}
	if next > end {
		next = end
	}
	if next > s.now {
		s.now = next
	}
	s.deliverDue()
	s.runTimers()
	if s.now >= s.nextTick {
		s.nextTick = s.now + s.TickMs
		for _, id := range s.ids {
			if _, ok := s.machines[id]; ok && !s.paused[id] {
				s.tick(id)
			}
		}
		if s.SyncEveryMs > 0 && s.now >= s.nextSync {
			s.nextSync = s.now + s.SyncEveryMs
			for _, d := range s.disks {
				d.sync()
			}
		}
	}
}

// tick gives a machine its clock: the sim's, plus its skew, never less than
// what it saw last.
func (s *Sim) tick(id core.NodeID) {
	m := s.machines[id]
	if m == nil {
		return
	}
	t := s.NodeNow(id)
	s.lastTick[id] = t
	m.Tick(t)
	s.drain(id)
}

// NodeNow is the time a machine's clock reads: the sim's clock plus the
// node's skew (SkewClock), but never less than the time it was last given,
// since a machine's clock never goes back.
func (s *Sim) NodeNow(id core.NodeID) int64 {
	t := s.now + s.skew[id]
	if last, ok := s.lastTick[id]; ok && t < last {
		t = last
	}
	return t
}

func (s *Sim) runTimers() {
	for len(s.timers) > 0 && s.timers[0].at <= s.now {
		t := heap.Pop(&s.timers).(timer)
		t.fn()
	}
}

func (s *Sim) deliverDue() {
	for len(s.flight) > 0 && s.flight[0].at <= s.now {
		f := heap.Pop(&s.flight).(flight)
		to := f.env.To
		m, ok := s.machines[to]
		switch {
		case !ok:
			s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: fmt.Sprintf("no node %d", to)})
		case s.paused[to]:
			// A stopped process: the message waits in its socket buffer.
			s.inbox[to] = append(s.inbox[to], f)
		default:
			s.record(to, core.MessageDelivered{Envelope: f.env})
			m.Step(f.env)
			s.drain(to)
		}
	}
}

// drain handles a machine's Ready until it has nothing more to say.
func (s *Sim) drain(id core.NodeID) {
	m := s.machines[id]
	for m != nil && s.machines[id] != nil {
		rd := m.Ready()
		if rd.Empty() {
			return
		}
		if err := s.disks[id].apply(rd.Writes); err != nil {
			s.record(id, core.StorageFailed{Err: err.Error()})
			s.crash(id, "storage failed")
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
	if s.cut[[2]core.NodeID{env.From, env.To}] > 0 {
		s.record(env.From, core.MessageDropped{Envelope: env, Reason: "network cut"})
		return
	}
	if s.Net.DropRate > 0 && s.rnd.Float64() < s.Net.DropRate {
		s.record(env.From, core.MessageDropped{Envelope: env, Reason: "random loss"})
		return
	}
	s.enqueue(env)
	if s.Net.DuplicateRate > 0 && s.rnd.Float64() < s.Net.DuplicateRate {
		s.record(env.From, core.MessageDuplicated{Envelope: env})
		s.enqueue(env)
	}
}

// enqueue puts a message on its way with a latency from the network model.
func (s *Sim) enqueue(env core.Envelope) {
	lat := s.Net.MinLatencyMs
	if d := s.Net.MaxLatencyMs - s.Net.MinLatencyMs; d > 0 {
		lat += s.rnd.Int64N(d + 1)
	}
	if s.Net.DelayRate > 0 && s.Net.DelayMs > 0 && s.rnd.Float64() < s.Net.DelayRate {
		lat += 1 + s.rnd.Int64N(s.Net.DelayMs)
	}
	dir := [2]core.NodeID{env.From, env.To}
	lat += s.slow[env.From] + s.slow[env.To] + s.slowLink[dir]
	at := s.now + lat
	tail := s.linkTail[dir]
	if at < tail && !s.Net.Reorder {
		at = tail
	}
	s.linkTail[dir] = max(at, tail)
	s.seq++
	heap.Push(&s.flight, flight{sentAt: s.now, at: at, seq: s.seq, env: env})
}

func (s *Sim) record(id core.NodeID, ev core.Event) {
	if _, ok := ev.(core.FaultInjected); ok {
		s.faults++
	}
	o := Observed{Time: s.now, Node: id, Event: ev}
	s.events = append(s.events, o)
	if s.OnEvent != nil {
		s.OnEvent(o)
	}
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

type timer struct {
	at  int64
	seq uint64
	fn  func()
}

type timerQueue []timer

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q timerQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *timerQueue) Push(x any)   { *q = append(*q, x.(timer)) }
func (q *timerQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = timer{}
	*q = old[:len(old)-1]
	return t
}

// Flight is a message on its way.
type Flight struct {
	SentAt, At int64
	Envelope   core.Envelope
}

// InFlight lists the messages on their way, soonest first. Messages waiting
// for a paused node are not in flight any more (see Queued).
func (s *Sim) InFlight() []Flight {
	fs := append(flightQueue(nil), s.flight...)
	sort.Slice(fs, fs.Less)
	out := make([]Flight, len(fs))
	for i, f := range fs {
		out[i] = Flight{SentAt: f.sentAt, At: f.at, Envelope: f.env}
	}
	return out
}
