package sim

import (
	"bytes"
	"fmt"
	"sort"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// chatter sends a request to each of its peers on every tick, answers
// nothing, and appends one small record to its store per tick.
type chatter struct {
	id    core.NodeID
	peers []core.NodeID
	corr  int32
	got   map[core.NodeID]int
	out   []core.Envelope
	wr    []storage.Write
}

func newChatter(id core.NodeID, peers ...core.NodeID) *chatter {
	return &chatter{id: id, peers: peers, got: map[core.NodeID]int{}}
}

func (c *chatter) ID() core.NodeID { return c.id }
func (c *chatter) Tick(int64) {
	c.corr++
	for _, p := range c.peers {
		c.out = append(c.out, core.Envelope{From: c.id, To: p, CorrelationID: c.corr, Request: kmsg.NewPtrApiVersionsRequest()})
	}
	c.wr = append(c.wr, storage.Write{Op: storage.OpAppend, Name: "log", Data: []byte(fmt.Sprintf("%08d;", c.corr))})
}
func (c *chatter) Step(e core.Envelope) { c.got[e.From]++ }
func (c *chatter) Ready() core.Ready    { return core.Ready{Messages: c.out, Writes: c.wr} }
func (c *chatter) Advance()             { c.out, c.wr = nil, nil }

// writer makes one write per tick, cycling through every kind of write.
type writer struct {
	id core.NodeID
	i  int
	wr []storage.Write
}

func (w *writer) ID() core.NodeID { return w.id }
func (w *writer) Tick(int64) {
	w.i++
	rec := []byte(fmt.Sprintf("record-%05d;", w.i))
	switch w.i % 6 {
	case 0, 1, 2:
		w.wr = append(w.wr, storage.Write{Op: storage.OpAppend, Name: "log", Data: rec})
	case 3:
		w.wr = append(w.wr, storage.Write{Op: storage.OpPut, Name: "meta", Data: rec})
	case 4:
		w.wr = append(w.wr, storage.Write{Op: storage.OpTruncate, Name: "log", Size: int64(len(rec))})
	case 5:
		if w.i%12 == 5 {
			w.wr = append(w.wr, storage.Write{Op: storage.OpRemove, Name: "tmp"})
		} else {
			w.wr = append(w.wr, storage.Write{Op: storage.OpAppend, Name: "tmp", Data: rec})
		}
	}
}
func (w *writer) Step(core.Envelope) {}
func (w *writer) Ready() core.Ready  { return core.Ready{Writes: w.wr} }
func (w *writer) Advance()           { w.wr = nil }

func snapshot(t *testing.T, st storage.Store) map[string]string {
	t.Helper()
	names, err := st.List("")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range names {
		b, err := st.Read(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

// faultsOf returns the fault events among evs, as "injected kind detail" and
// "healed kind detail" lines.
func faultsOf(evs []Observed) []string {
	var out []string
	for _, o := range evs {
		switch e := o.Event.(type) {
		case core.FaultInjected:
			out = append(out, fmt.Sprintf("injected %s %v %s", e.Kind, e.Nodes, e.Detail))
		case core.FaultHealed:
			out = append(out, fmt.Sprintf("healed %s %v %s", e.Kind, e.Nodes, e.Detail))
		}
	}
	return out
}

func wantFaults(t *testing.T, evs []Observed, want ...string) {
	t.Helper()
	got := faultsOf(evs)
	if len(got) != len(want) {
		t.Fatalf("fault events %q, want %d", got, len(want))
	}
	for i := range want {
		if len(got[i]) < len(want[i]) || got[i][:len(want[i])] != want[i] {
			t.Fatalf("fault event %d is %q, want %q...", i, got[i], want[i])
		}
	}
}

// deliveries counts delivered messages per directed link.
func deliveries(evs []Observed) map[[2]core.NodeID]int {
	out := map[[2]core.NodeID]int{}
	for _, o := range evs {
		if e, ok := o.Event.(core.MessageDelivered); ok {
			out[[2]core.NodeID{e.Envelope.From, e.Envelope.To}]++
		}
	}
	return out
}

// latencies returns, per directed link, the largest and smallest time from
// send to delivery.
func latencies(evs []Observed) (lo, hi map[[2]core.NodeID]int64) {
	type key struct {
		from, to core.NodeID
		corr     int32
	}
	sent := map[key]int64{}
	lo, hi = map[[2]core.NodeID]int64{}, map[[2]core.NodeID]int64{}
	for _, o := range evs {
		switch e := o.Event.(type) {
		case core.MessageSent:
			sent[key{e.Envelope.From, e.Envelope.To, e.Envelope.CorrelationID}] = o.Time
		case core.MessageDelivered:
			k := key{e.Envelope.From, e.Envelope.To, e.Envelope.CorrelationID}
			at, ok := sent[k]
			if !ok {
				continue // sent before evs begin
			}
			l := [2]core.NodeID{k.from, k.to}
			d := o.Time - at
			if v, ok := lo[l]; !ok || d < v {
				lo[l] = d
			}
			hi[l] = max(hi[l], d)
		}
	}
	return lo, hi
}

func TestCrashKeepsStoreAndRestart(t *testing.T) {
	s := New(1)
	s.SyncEveryMs = 0 // nothing synced: a plain crash must keep it all anyway
	a, b := &pinger{id: 1, peer: 2, n: 1000}, &pinger{id: 2, peer: 1}
	s.Add(a, nil)
	s.Add(b, nil)
	s.RunFor(200)
	s.Events()
	if s.Unsynced(1) == 0 {
		t.Fatal("no unsynced writes to keep")
	}
	sent := a.sent
	s.Crash(1)
	if s.Machine(1) != nil {
		t.Fatal("crashed machine still there")
	}
	if data, _ := s.Store(1).Read("sent"); len(data) != sent {
		t.Fatalf("store after crash holds %d writes, the machine made %d", len(data), sent)
	}
	s.RunFor(200)
	if b.got[len(b.got)-1] == fmt.Sprint(sent+1) {
		t.Fatal("a crashed machine sent")
	}
	var reopened *pinger
	s.Restart(1, func(st storage.Store) core.Machine {
		data, err := st.Read("sent")
		if err != nil {
			t.Fatal(err)
		}
		reopened = &pinger{id: 1, peer: 2, n: 1000, sent: len(data)}
		return reopened
	})
	s.RunFor(200)
	if s.Machine(1) != reopened || reopened.sent <= sent {
		t.Fatalf("restarted machine did not run: sent %d", reopened.sent)
	}
	evs := s.Events()
	wantFaults(t, evs, "injected crash [1]", "healed crash [1] restarted")
	if s.Faults() != 1 {
		t.Fatalf("Faults() = %d", s.Faults())
	}
}

func TestRestartOpenFails(t *testing.T) {
	s := New(1)
	s.Add(&pinger{id: 1, peer: 2}, nil)
	s.Crash(1)
	s.Restart(1, func(storage.Store) core.Machine { return nil })
	if s.Machine(1) != nil {
		t.Fatal("machine running")
	}
	var failed bool
	for _, o := range s.Events() {
		_, failed = o.Event.(core.StorageFailed)
	}
	if !failed {
		t.Fatal("no StorageFailed event")
	}
}

func TestPowerLossUndoesEveryKindOfWrite(t *testing.T) {
	for _, lossy := range []bool{true, false} {
		s := New(1)
		s.SyncEveryMs = 0
		w := &writer{id: 1}
		s.Add(w, nil)
		s.RunFor(155)
		s.Sync(1)
		synced := snapshot(t, s.Store(1))
		s.RunFor(250)
		if s.Unsynced(1) != 25 {
			t.Fatalf("%d unsynced writes, want 25", s.Unsynced(1))
		}
		if lossy {
			s.CrashLosing(1, Loss{Writes: AllUnsynced})
		} else {
			s.Crash(1) // negative control: the comparison can fail
		}
		got := snapshot(t, s.Store(1))
		same := fmt.Sprint(got) == fmt.Sprint(synced)
		if lossy && !same {
			t.Fatalf("after power loss\n%v\nwant the synced state\n%v", got, synced)
		}
		if !lossy && same {
			t.Fatal("a plain crash lost unsynced writes")
		}
		if lossy {
			wantFaults(t, s.Events(), "injected power-loss [1] lost 25 of 25 unsynced writes")
		}
	}
}

// Losing K writes leaves the state after all but the last K: compare with
// the store of a run stopped K writes earlier.
func TestPowerLossOfLastWrites(t *testing.T) {
	run := func(ms int64, lose int) map[string]string {
		s := New(1)
		s.SyncEveryMs = 0
		s.Add(&writer{id: 1}, nil)
		s.RunFor(ms)
		if lose > 0 {
			s.CrashLosing(1, Loss{Writes: lose})
		}
		return snapshot(t, s.Store(1))
	}
	for k := 1; k <= 7; k++ {
		got, want := run(500, k), run(500-10*int64(k), 0)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("losing %d writes left\n%v\nwant\n%v", k, got, want)
		}
	}
}

func TestPowerLossTearsTheOldestLostAppend(t *testing.T) {
	s := New(1)
	s.SyncEveryMs = 0
	c := newChatter(1)
	s.Add(c, nil)
	s.RunFor(100) // 11 ticks, 9 bytes each
	s.Sync(1)
	s.RunFor(100)
	s.CrashLosing(1, Loss{Writes: 4, Torn: true})
	data, _ := s.Store(1).Read("log")
	keep := len(data) - 9*(int(c.corr)-4)
	if keep < 1 || keep > 8 || !bytes.HasPrefix([]byte(fmt.Sprintf("%08d;", c.corr-3)), data[len(data)-keep:]) {
		t.Fatalf("log %q after losing 4 of %d appends: want a torn part of the oldest lost", data, c.corr)
	}
	if f := faultsOf(s.Events()); len(f) != 1 || !bytes.Contains([]byte(f[0]), []byte("torn")) {
		t.Fatalf("fault events %q", f)
	}
}

func TestPeriodicSync(t *testing.T) {
	s := New(1)
	s.SyncEveryMs = 100
	s.Add(newChatter(1), nil)
	for range 20 {
		s.RunFor(37)
		if n := s.Unsynced(1); n > 10 {
			t.Fatalf("%d unsynced writes, with a sync every 100 ms and a write every 10", n)
		}
	}
	before, _ := s.Store(1).Read("log")
	n := s.Unsynced(1)
	s.CrashLosing(1, Loss{Writes: AllUnsynced})
	after, _ := s.Store(1).Read("log")
	if len(before)-len(after) != 9*n {
		t.Fatalf("lost %d bytes, want %d unsynced writes of 9", len(before)-len(after), n)
	}
}

func TestPauseQueuesMessagesUntilResume(t *testing.T) {
	for _, pause := range []bool{true, false} {
		s := New(2)
		a, b := &pinger{id: 1, peer: 2, n: 1000}, &pinger{id: 2, peer: 1, n: 1000}
		s.Add(a, nil)
		s.Add(b, nil)
		s.RunFor(100)
		got, ticks, aGot := len(b.got), b.ticks, len(a.got)
		if pause {
			s.Pause(2)
		}
		s.RunFor(300)
		if !pause {
			// Negative control: the same window without a pause.
			if len(b.got) == got || b.ticks == ticks {
				t.Fatal("nothing happened in the window")
			}
			continue
		}
		if len(b.got) != got || b.ticks != ticks {
			t.Fatalf("a paused machine handled %d messages and %d ticks", len(b.got)-got, b.ticks-ticks)
		}
		if len(a.got)-aGot > 10 {
			t.Fatalf("the pinger got %d messages from a paused machine", len(a.got)-aGot)
		}
		queued := len(s.Queued(2))
		if queued < 25 || !s.Paused(2) {
			t.Fatalf("%d messages queued for the paused machine", queued)
		}
		s.Resume(2)
		if len(b.got) != got+queued {
			t.Fatalf("resume delivered %d of %d queued messages", len(b.got)-got, queued)
		}
		// In order: the requests are numbered.
		if !sort.SliceIsSorted(b.reqs, func(i, j int) bool { return b.reqs[i] < b.reqs[j] }) {
			t.Fatalf("requests out of order: %v", b.reqs)
		}
		s.RunFor(100)
		if b.ticks == ticks {
			t.Fatal("not ticked after resume")
		}
		wantFaults(t, s.Events(), "injected pause [2]", "healed pause [2] process resumed, ")
	}
}

func TestCrashOfPausedMachineDropsQueue(t *testing.T) {
	s := New(2)
	a, b := &pinger{id: 1, peer: 2, n: 1000}, &pinger{id: 2, peer: 1}
	s.Add(a, nil)
	s.Add(b, nil)
	s.Pause(2)
	s.RunFor(100)
	queued := len(s.Queued(2))
	s.Events()
	s.Crash(2)
	dropped := 0
	for _, o := range s.Events() {
		if e, ok := o.Event.(core.MessageDropped); ok && e.Envelope.To == 2 {
			dropped++
		}
	}
	if queued == 0 || dropped < queued || s.Paused(2) || len(s.Queued(2)) != 0 {
		t.Fatalf("queued %d, dropped %d", queued, dropped)
	}
}

func chatters(s *Sim, n int) []*chatter {
	var out []*chatter
	for i := 1; i <= n; i++ {
		var peers []core.NodeID
		for j := 1; j <= n; j++ {
			if j != i {
				peers = append(peers, core.NodeID(j))
			}
		}
		c := newChatter(core.NodeID(i), peers...)
		s.Add(c, nil)
		out = append(out, c)
	}
	return out
}

// talks asserts which directed links carried messages in evs.
func talks(t *testing.T, what string, evs []Observed, n int, ok func(from, to core.NodeID) bool) {
	t.Helper()
	d := deliveries(evs)
	for a := core.NodeID(1); a <= core.NodeID(n); a++ {
		for b := core.NodeID(1); b <= core.NodeID(n); b++ {
			if a == b {
				continue
			}
			if got, want := d[[2]core.NodeID{a, b}] > 0, ok(a, b); got != want {
				t.Fatalf("%s: %d -> %d delivered %d messages, want any: %v", what, a, b, d[[2]core.NodeID{a, b}], want)
			}
		}
	}
}

func all(core.NodeID, core.NodeID) bool { return true }

func TestPartitionGroups(t *testing.T) {
	s := New(3)
	chatters(s, 5)
	s.RunFor(100)
	talks(t, "before", s.Events(), 5, all) // negative control

	// 1 and 2 against 3; 4 and 5 not named: they talk to everyone.
	s.Partition([]core.NodeID{2, 1}, []core.NodeID{3})
	s.RunFor(5) // let the messages sent before the cut be dropped or land
	evs := s.Events()
	wantFaults(t, evs, "injected partition [1 2 3] {1 2} | {3}")
	for _, o := range evs {
		if e, ok := o.Event.(core.MessageDropped); ok && e.Reason != "network partition" {
			t.Fatalf("dropped for %q", e.Reason)
		}
	}
	s.RunFor(100)
	talks(t, "partitioned", s.Events(), 5, func(a, b core.NodeID) bool {
		return !(a == 3 && b <= 2 || b == 3 && a <= 2)
	})
	if s.Connected(1, 3) || !s.Connected(1, 2) || !s.Connected(4, 3) {
		t.Fatal("Connected disagrees")
	}

	s.HealAll()
	s.RunFor(100)
	evs = s.Events()
	wantFaults(t, evs, "healed partition [] every link healed")
	talks(t, "healed", evs, 5, all)

	// A bridge: 2 is in both groups.
	s.Partition([]core.NodeID{1, 2}, []core.NodeID{2, 3})
	s.RunFor(5)
	s.Events()
	s.RunFor(100)
	talks(t, "bridge", s.Events(), 5, func(a, b core.NodeID) bool { return !(a == 1 && b == 3 || a == 3 && b == 1) })

	// Heal one link of it.
	s.Heal(3, 1)
	s.RunFor(100)
	evs = s.Events()
	wantFaults(t, evs, "healed cut [3 1]")
	talks(t, "bridge healed", evs, 5, all)
}

func TestPartitionDropsMessagesInFlight(t *testing.T) {
	s := New(3)
	s.Net = Network{MinLatencyMs: 50, MaxLatencyMs: 50}
	chatters(s, 2)
	s.RunFor(30)
	if len(s.InFlight()) == 0 {
		t.Fatal("nothing in flight")
	}
	s.Partition([]core.NodeID{1}, []core.NodeID{2})
	if n := len(s.InFlight()); n != 0 {
		t.Fatalf("%d messages still in flight across a partition", n)
	}
}

func TestCutOneWay(t *testing.T) {
	s := New(4)
	chatters(s, 3)
	s.RunFor(100)
	talks(t, "before", s.Events(), 3, all)
	s.CutOneWay(1, 2)
	s.RunFor(5)
	s.Events()
	s.RunFor(100)
	talks(t, "cut", s.Events(), 3, func(a, b core.NodeID) bool { return !(a == 1 && b == 2) })
	s.Heal(1, 2)
	s.RunFor(100)
	evs := s.Events()
	talks(t, "healed", evs, 3, all)
	wantFaults(t, evs, "healed cut [1 2] 1 <-> 2")
	if s.Faults() != 1 {
		t.Fatalf("Faults() = %d", s.Faults())
	}
}

func TestCutsAddUp(t *testing.T) {
	s := New(4)
	s.Cut(1, 2)
	s.Partition([]core.NodeID{1}, []core.NodeID{2})
	links := s.partition([][]core.NodeID{{1}, {2}})
	s.uncutLinks(links)
	if s.Connected(1, 2) || s.Connected(2, 1) {
		t.Fatal("undoing one cut healed the others")
	}
	s.Heal(1, 2)
	if !s.Connected(1, 2) || !s.Connected(2, 1) {
		t.Fatal("Heal left a cut")
	}
}

func TestDuplicate(t *testing.T) {
	for _, rate := range []float64{1, 0} {
		s := New(5)
		a, b := &pinger{id: 1, peer: 2, n: 20}, &pinger{id: 2, peer: 1}
		s.SetNetwork(Network{MinLatencyMs: 1, MaxLatencyMs: 30, DuplicateRate: rate})
		s.Add(a, nil)
		s.Add(b, nil)
		s.RunFor(1000)
		dups := 0
		for _, o := range s.Events() {
			if _, ok := o.Event.(core.MessageDuplicated); ok {
				dups++
			}
		}
		want := 1 + int(rate)
		if len(b.reqs) != want*20 || dups != int(rate)*60 { // 20 requests, 40 responses
			t.Fatalf("duplicate rate %v: %d requests delivered for 20 sent, %d duplicated", rate, len(b.reqs), dups)
		}
		// FIFO holds for the copies too.
		if !sort.SliceIsSorted(b.reqs, func(i, j int) bool { return b.reqs[i] < b.reqs[j] }) {
			t.Fatalf("out of order: %v", b.reqs)
		}
		if rate > 0 && s.Faults() != 1 || rate == 0 && s.Faults() != 0 {
			t.Fatalf("rate %v: %d faults recorded", rate, s.Faults())
		}
	}
}

func TestReorder(t *testing.T) {
	for _, reorder := range []bool{true, false} {
		s := New(3)
		s.Net = Network{MinLatencyMs: 1, MaxLatencyMs: 100, Reorder: reorder}
		a, b := &pinger{id: 1, peer: 2, n: 50}, &pinger{id: 2, peer: 1}
		s.Add(a, nil)
		s.Add(b, nil)
		s.RunFor(2000)
		inOrder := sort.SliceIsSorted(b.reqs, func(i, j int) bool { return b.reqs[i] < b.reqs[j] })
		if len(b.reqs) != 50 || inOrder == reorder {
			t.Fatalf("reorder %v: got %v", reorder, b.reqs)
		}
	}
}

func TestDelay(t *testing.T) {
	for _, rate := range []float64{0.5, 0} {
		s := New(6)
		s.Net = Network{MinLatencyMs: 1, MaxLatencyMs: 3, DelayRate: rate, DelayMs: 500}
		a, b := &pinger{id: 1, peer: 2, n: 100}, &pinger{id: 2, peer: 1}
		s.Add(a, nil)
		s.Add(b, nil)
		s.RunFor(3000)
		_, hi := latencies(s.Events())
		slow := hi[[2]core.NodeID{1, 2}] > 100
		if slow != (rate > 0) || len(b.reqs) != 100 {
			t.Fatalf("delay rate %v: highest latency %d ms", rate, hi[[2]core.NodeID{1, 2}])
		}
		if !sort.SliceIsSorted(b.reqs, func(i, j int) bool { return b.reqs[i] < b.reqs[j] }) {
			t.Fatalf("a delay broke FIFO: %v", b.reqs)
		}
	}
}

func TestSlowNodeAndLink(t *testing.T) {
	s := New(7)
	chatters(s, 3)
	s.RunFor(100)
	_, hi := latencies(s.Events())
	for l, d := range hi {
		if d > 3 {
			t.Fatalf("%v: %d ms before slowing anything", l, d) // negative control
		}
	}
	s.Slow(2, 300)
	s.SlowLink(1, 3, 200)
	s.RunFor(1000)
	s.Slow(2, 0)
	s.SlowLink(1, 3, 0)
	evs := s.Events()
	wantFaults(t, evs, "injected slow [2] +300 ms", "injected slow [1 3] +200 ms", "healed slow [2]", "healed slow [1 3]")
	lo, hi := latencies(evs)
	for l, d := range lo {
		var want int64
		switch {
		case l[0] == 2 || l[1] == 2:
			want = 300
		case l == [2]core.NodeID{1, 3}:
			want = 200
		}
		if d < want+1 || hi[l] > want+3 {
			t.Fatalf("%v: latency %d..%d ms, want %d + 1..3", l, d, hi[l], want)
		}
	}
	s.RunFor(1000)
	s.Events()
	s.RunFor(100)
	_, hi = latencies(s.Events())
	for l, d := range hi {
		if d > 3 {
			t.Fatalf("%v: %d ms after healing", l, d)
		}
	}
}

func TestClockSkew(t *testing.T) {
	s := New(8)
	a, b := &pinger{id: 1, peer: 2}, &pinger{id: 2, peer: 1}
	s.Add(a, nil)
	s.Add(b, nil)
	s.RunFor(100)
	if a.now != s.Now() || b.now != s.Now() {
		t.Fatal("clocks differ before any skew") // negative control
	}
	s.SkewClock(2, 5000)
	s.RunFor(100)
	if a.now != s.Now() || b.now != s.Now()+5000 || s.NodeNow(2) != b.now {
		t.Fatalf("skew +5000: node 1 at %+d, node 2 at %+d", a.now-s.Now(), b.now-s.Now())
	}
	s.JumpClock(2, -15000) // 10 s behind: node 2's clock stands still
	stood := b.now
	s.RunFor(14000)
	if b.now != stood {
		t.Fatalf("a clock went back or ran: %d -> %d", stood, b.now)
	}
	s.RunFor(2000)
	if b.now != s.Now()-10000 {
		t.Fatalf("node 2 at %+d, want -10000", b.now-s.Now())
	}
	s.SkewClock(2, 0)
	s.RunFor(100)
	if b.now != s.Now() {
		t.Fatal("clock not set right")
	}
	wantFaults(t, s.Events(), "injected clock [2] clock of node 2 jumps +5000 ms, now +5000 ms off",
		"injected clock [2] clock of node 2 jumps -15000 ms, now -10000 ms off", "healed clock [2]")
}

func TestNetworkFaultEvents(t *testing.T) {
	s := New(9)
	s.Net.DropRate = 0.1 // setup: no event
	s.SetNetwork(Network{MinLatencyMs: 1, MaxLatencyMs: 3, DropRate: 0.2})
	s.SetNetwork(Network{MinLatencyMs: 5, MaxLatencyMs: 9})
	s.SetNetwork(Network{MinLatencyMs: 1, MaxLatencyMs: 3})
	wantFaults(t, s.Events(), "injected network [] latency 1..3 ms, drop 20%", "healed network [] latency 5..9 ms")
}

func TestAtAndAfter(t *testing.T) {
	s := New(1)
	var got []string
	start := s.Now()
	s.At(start+50, func() { got = append(got, fmt.Sprint("a", s.Now()-start)) })
	s.After(20, func() {
		got = append(got, fmt.Sprint("b", s.Now()-start))
		s.After(5, func() { got = append(got, fmt.Sprint("c", s.Now()-start)) })
	})
	s.At(start+50, func() { got = append(got, fmt.Sprint("d", s.Now()-start)) })
	s.At(start+1000, func() { got = append(got, fmt.Sprint("e", s.Now()-start)) })
	s.RunFor(100)
	s.Jump(5000)
	if fmt.Sprint(got) != "[b20 c25 a50 d50 e1000]" {
		t.Fatalf("actions ran %v", got)
	}
}

// syncer appends to "log" with Sync and to "data" without, once per tick.
type syncer struct{ rd core.Ready }

func (m *syncer) ID() core.NodeID    { return 1 }
func (m *syncer) Step(core.Envelope) {}
func (m *syncer) Ready() core.Ready  { return m.rd }
func (m *syncer) Advance()           { m.rd = core.Ready{} }
func (m *syncer) Tick(now int64) {
	m.rd.Writes = append(m.rd.Writes,
		storage.Write{Op: storage.OpAppend, Name: "data", Data: []byte("d")},
		storage.Write{Op: storage.OpAppend, Name: "log", Data: []byte("l"), Sync: true})
}

// A write with Sync makes its object durable: power loss takes back the
// other object's unsynced appends, not the synced ones.
func TestPowerLossKeepsSyncedObjects(t *testing.T) {
	s := New(1)
	s.SyncEveryMs = 0
	s.Add(&syncer{}, nil)
	s.RunFor(100)
	log, _ := s.Store(1).Read("log")
	s.CrashLosing(1, Loss{Writes: AllUnsynced})
	after, _ := s.Store(1).Read("log")
	data, err := s.Store(1).Read("data")
	if string(after) != string(log) || len(log) == 0 {
		t.Fatalf("synced log %q became %q", log, after)
	}
	if err == nil && len(data) > 0 {
		t.Fatalf("unsynced data survived the power loss: %q", data)
	}
}
