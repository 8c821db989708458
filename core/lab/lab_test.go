package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
)

// newLab is the page's lab: the page's latency, so requests take time.
func newLab(t *testing.T, seed uint64) *Lab {
	t.Helper()
	l := New(Config{Seed: seed, MinLatencyMs: 40, MaxLatencyMs: 120})
	if !l.TopicReady() {
		t.Fatalf("the cluster did not come up: admin error %v, brokers %+v", l.AdminError(), l.Brokers())
	}
	return l
}

func count[T core.Event](h []sim.Observed, match func(T) bool) int {
	n := 0
	for _, o := range h {
		if e, ok := o.Event.(T); ok && (match == nil || match(e)) {
			n++
		}
	}
	return n
}

// The page lands on a working KRaft cluster: three brokers, all voters, one
// active controller, the topic with 6 partitions on 3 replicas each, all in
// sync, leaders spread over the brokers; the history tells each fact once.
func TestClusterComesUp(t *testing.T) {
	l := newLab(t, 42)
	if got := l.Voters(); !slices.Equal(got, []core.NodeID{1, 2, 3}) {
		t.Errorf("voters %v", got)
	}
	active := 0
	for _, b := range l.Brokers() {
		if b.State != BrokerLive || !b.Voter || !b.Registered || b.Fenced {
			t.Errorf("broker %+v", b)
		}
		if b.ActiveController {
			active++
		}
	}
	if id, epoch := l.ActiveController(); active != 1 || id < 0 || epoch < 1 {
		t.Errorf("%d active controllers; ActiveController = %d, epoch %d", active, id, epoch)
	}
	leaders := map[int32]int{}
	for _, pv := range l.PartitionViews() {
		if pv.Leader < 0 || len(pv.Replicas) != 3 || len(pv.ISR) != 3 {
			t.Errorf("partition %+v", pv)
		}
		leaders[pv.Leader]++
		for _, r := range pv.Brokers {
			if !r.Holds || !r.InISR || r.Down {
				t.Errorf("partition %d on broker %d: %+v", pv.Partition, r.Broker, r)
			}
			wantRole := "follower"
			if int32(r.Broker) == pv.Leader {
				wantRole = "leader"
			}
			if r.Role != wantRole || r.Leader != pv.Leader {
				t.Errorf("partition %d on broker %d is %s of %d, want %s of %d", pv.Partition, r.Broker, r.Role, r.Leader, wantRole, pv.Leader)
			}
		}
	}
	if len(leaders) != 3 {
		t.Errorf("leaders by broker: %v, want the 6 partitions spread over 3 brokers", leaders)
	}
	h := l.History()
	if n := count[core.ControllerElected](h, nil); n != 1 {
		t.Errorf("%d ControllerElected events, want 1", n)
	}
	if n := count[core.BrokerRegistered](h, nil); n != 3 {
		t.Errorf("%d BrokerRegistered events, want 3", n)
	}
	if n := count[core.BrokerUnfenced](h, nil); n != 3 {
		t.Errorf("%d BrokerUnfenced events, want 3", n)
	}
	if n := count[core.TopicCreated](h, nil); n != 1 {
		t.Errorf("%d TopicCreated events, want 1", n)
	}
	if n := count[core.MessageSent](h, nil); n != 0 {
		t.Errorf("%d messages in the notable history", n)
	}
	if n := count[core.MessageSent](l.Wire(), nil); n == 0 {
		t.Error("no message on the wire")
	}
}

// The first page's flow: keyed records land in the partition murmur2 picks,
// on its leader, at the next offset; they replicate to all three replicas,
// the high watermark reaches the log end everywhere, and the consumer reads
// them.
func TestProduceReplicates(t *testing.T) {
	l := newLab(t, 42)
	keys := []string{"user-1", "user-2", "user-3", "user-1", "alice", "bob"}
	for i, k := range keys {
		l.Produce([]byte(k), []byte(fmt.Sprint("v", i)))
	}
	if !l.Sim.RunUntil(func() bool { return len(l.Consumed()) == len(keys) }, 10000) {
		t.Fatalf("consumed %d of %d records", len(l.Consumed()), len(keys))
	}
	next := map[int32]int64{}
	acked := map[string]core.RecordAcked{}
	for _, a := range l.Acked() {
		acked[string(a.Value)] = a
	}
	for i, k := range keys {
		want := l.PartitionFor([]byte(k))
		ack := acked[fmt.Sprint("v", i)]
		if ack.Partition != want || ack.Offset != next[want] || string(ack.Key) != k {
			t.Errorf("record %d (%s): acked at %d/%d, want partition %d offset %d", i, k, ack.Partition, ack.Offset, want, next[want])
		}
		recs := l.Records(want, 100)
		if int64(len(recs)) <= next[want] || string(recs[next[want]].Value) != fmt.Sprint("v", i) {
			t.Errorf("record %d not in the leader's log of partition %d: %+v", i, want, recs)
		}
		next[want]++
	}
	for _, c := range l.Consumed() {
		if c.Partition != l.PartitionFor(c.Key) {
			t.Errorf("consumed %s from partition %d", c.Key, c.Partition)
		}
	}
	l.Advance(2000)
	for _, pv := range l.PartitionViews() {
		leaderRecs := l.Records(pv.Partition, 100)
		for _, r := range pv.Brokers {
			if r.LogEndOffset != next[pv.Partition] || r.HighWatermark != r.LogEndOffset {
				t.Errorf("partition %d on broker %d: LEO %d HW %d, want both %d", pv.Partition, r.Broker, r.LogEndOffset, r.HighWatermark, next[pv.Partition])
			}
			if got := l.ReplicaRecords(r.Broker, pv.Partition, 100); !sameRecords(got, leaderRecs) {
				t.Errorf("partition %d: broker %d holds %v, the leader %v", pv.Partition, r.Broker, got, leaderRecs)
			}
		}
	}
	if c := l.CheckAcked(); len(c) != 1 || c[0].Acks != client.AcksAll || c[0].Present != len(keys) {
		t.Errorf("CheckAcked: %+v", c)
	}
}

func sameRecords(a, b []broker.StoredRecord) bool {
	return slices.EqualFunc(a, b, func(x, y broker.StoredRecord) bool {
		return x.Offset == y.Offset && string(x.Key) == string(y.Key) && string(x.Value) == string(y.Value)
	})
}

// Kill the leader's broker: within broker.session.timeout.ms (9 s) the
// controller fences it and elects another replica from the ISR with a
// higher leader epoch; no record acknowledged with acks=all is lost, and
// the producer and the consumer go on. Restarted, the broker recovers its
// log, is unfenced and rejoins every ISR with the same records.
func TestKillLeaderFailsOver(t *testing.T) {
	l := newLab(t, 7)
	p := l.PartitionFor([]byte("user-1"))
	sent := 0
	produce := func(n int) {
		for range n {
			l.Produce([]byte(fmt.Sprint("user-", sent%5)), []byte(fmt.Sprint("v", sent)))
			sent++
		}
	}
	produce(20)
	l.Advance(3000)
	old, epoch := l.Leader(p)
	if old < 0 || len(l.Acked()) != 20 {
		t.Fatalf("leader %d, %d acked", old, len(l.Acked()))
	}
	killed := l.Now()
	l.KillBroker(core.NodeID(old))
	if b := l.Brokers()[old-1]; b.State != BrokerCrashed {
		t.Fatalf("killed broker is %s", b.State)
	}
	produce(10)
	moved := l.Sim.RunUntil(func() bool { id, e := l.Leader(p); return id >= 0 && id != old && e > epoch }, 20000)
	took := l.Now() - killed
	if !moved || took < 5000 || took > 12000 {
		t.Fatalf("leader of partition %d after %d ms: %v (moved %v), want a new one after ~9 s", p, took, fmt.Sprint(l.Leader(p)), moved)
	}
	fenced := count[core.BrokerFenced](l.History(), func(e core.BrokerFenced) bool { return e.Broker == core.NodeID(old) })
	changed := count[core.PartitionLeaderChanged](l.History(), func(e core.PartitionLeaderChanged) bool {
		return e.Partition == p && e.PreviousLeader == old && e.LeaderEpoch > epoch
	})
	if fenced != 1 || changed != 1 {
		t.Errorf("history: %d BrokerFenced of broker %d, %d PartitionLeaderChanged of partition %d", fenced, old, changed, p)
	}
	if b := l.Brokers()[old-1]; b.State != BrokerCrashed || !b.Fenced {
		t.Errorf("killed broker after failover: %+v", b)
	}
	produce(10)
	l.Advance(30000)
	checkNothingLost(t, l, sent)

	l.RestartBroker(core.NodeID(old))
	back := l.Sim.RunUntil(func() bool {
		for _, pv := range l.PartitionViews() {
			if !slices.Contains(pv.ISR, old) {
				return false
			}
		}
		return true
	}, 30000)
	if !back {
		t.Fatalf("broker %d is not back in every ISR: %+v", old, l.PartitionViews())
	}
	if b := l.Brokers()[old-1]; b.State != BrokerLive {
		t.Errorf("restarted broker: %+v", b)
	}
	l.Advance(1000)
	for _, pv := range l.PartitionViews() {
		if got, want := l.ReplicaRecords(core.NodeID(old), pv.Partition, 100), l.Records(pv.Partition, 100); !sameRecords(got, want) {
			t.Errorf("partition %d: restarted broker holds %v, the leader %v", pv.Partition, got, want)
		}
	}
	checkNothingLost(t, l, sent)
}

// checkNothingLost: every record sent was acknowledged with acks=all, is in
// its leader's log, and was consumed.
func checkNothingLost(t *testing.T, l *Lab, sent int) {
	t.Helper()
	c := l.CheckAcked()
	if len(c) != 1 || c[0].Acked != sent || c[0].Present != sent || len(c[0].Lost) != 0 {
		t.Errorf("sent %d; CheckAcked %+v", sent, c)
	}
	seen := map[string]bool{}
	for _, r := range l.Consumed() {
		seen[string(r.Value)] = true
	}
	if len(seen) != sent {
		t.Errorf("consumed %d distinct records of %d", len(seen), sent)
	}
}

// Cut the leader off from the other brokers while clients still reach it:
// with acks=1 it acknowledges records its followers never get, and once the
// controller has elected another leader they are lost (the old leader
// truncates them when it comes back). With acks=all the same faults lose
// nothing: the isolated leader cannot reach min.insync.replicas, so the
// producer retries with the new leader. CheckAcked must see the difference
// (a negative control for the page's "no acknowledged record lost" line).
func TestIsolatedLeaderAcks1LosesAcksAllDoesNot(t *testing.T) {
	for _, acks := range []client.Acks{client.AcksLeader, client.AcksAll} {
		t.Run("acks="+acks.String(), func(t *testing.T) {
			l := New(Config{Seed: 1, ClientRequestTimeoutMs: 10000, MinLatencyMs: 40, MaxLatencyMs: 120})
			l.SetAcks(acks)
			l.Isolate(1)
			if b := l.Brokers()[0]; !b.Isolated {
				t.Fatalf("broker 1 not isolated: %+v", b)
			}
			for i := range 20 {
				l.Produce([]byte(fmt.Sprint("user-", i)), []byte(fmt.Sprint("v", i)))
				l.Advance(1000)
			}
			if b := l.Brokers()[0]; b.State != BrokerFenced {
				t.Errorf("isolated broker 1 after 20 s: %+v", b)
			}
			l.HealAll()
			l.Advance(40000)
			c := l.CheckAcked()
			if len(c) != 1 || c[0].Acks != acks || c[0].Acked != 20 {
				t.Fatalf("CheckAcked %+v", c)
			}
			truncated := count[core.LogTruncated](l.History(), nil)
			switch lost := len(c[0].Lost); acks {
			case client.AcksLeader:
				if lost == 0 || truncated == 0 {
					t.Errorf("acks=1 with an isolated leader lost %d records, %d truncations: want some", lost, truncated)
				}
			case client.AcksAll:
				if lost != 0 {
					t.Errorf("acks=all lost %d acknowledged records: %+v", lost, c[0].Lost)
				}
			}
		})
	}
}

// A paused broker is fenced once its session expires, and unfenced after it
// resumes and heartbeats; a slow one is reported.
func TestPauseAndSlow(t *testing.T) {
	l := newLab(t, 3)
	l.PauseBroker(2)
	if b := l.Brokers()[1]; b.State != BrokerPaused {
		t.Fatalf("paused broker: %+v", b)
	}
	l.Advance(12000)
	if b := l.Brokers()[1]; b.State != BrokerPaused || !b.Fenced {
		t.Errorf("paused for 12 s: %+v", b)
	}
	l.ResumeBroker(2)
	if !l.Sim.RunUntil(func() bool { return l.Brokers()[1].State == BrokerLive }, 15000) {
		t.Errorf("resumed broker not unfenced: %+v", l.Brokers()[1])
	}
	l.SlowBroker(3, 500)
	if b := l.Brokers()[2]; b.SlowMs != 500 {
		t.Errorf("slow broker: %+v", b)
	}
	l.SlowBroker(3, 0)
	if b := l.Brokers()[2]; b.SlowMs != 0 {
		t.Errorf("slow broker back to normal: %+v", b)
	}
}

// Skipping past retention.ms deletes old data on every replica, but
// offsets keep counting; the cluster, whose clocks all jumped, recovers.
func TestSkipWeekAppliesRetention(t *testing.T) {
	l := newLab(t, 1)
	l.Produce([]byte("k"), []byte("old"))
	p := l.PartitionFor([]byte("k"))
	l.Sim.RunUntil(func() bool { return len(l.Consumed()) == 1 }, 5000)
	l.Advance(1000) // the followers learn the high watermark: retention deletes only below it
	l.Skip(7*24*3600*1000 + 400000)
	l.Advance(30000)
	for _, r := range l.PartitionViews()[p].Brokers {
		if r.LogStartOffset != 1 || r.LogEndOffset != 1 {
			t.Errorf("after a week, broker %d: %+v", r.Broker, r)
		}
	}
	l.Produce([]byte("k"), []byte("new"))
	l.Sim.RunUntil(func() bool { return len(l.Consumed()) == 2 && len(l.Acked()) == 2 }, 60000)
	if c := l.Consumed(); len(c) != 2 || c[1].Offset != 1 {
		t.Fatalf("after retention: %+v", c)
	}
	if c := l.CheckAcked(); len(c) != 1 || c[0].Deleted != 1 || c[0].Present != 1 {
		t.Errorf("CheckAcked after retention: %+v", c)
	}
}

// A lab replays: the same seed and the same actions at the same times give
// the same history.
func TestDeterministic(t *testing.T) {
	run := func() string {
		l := New(Config{Seed: 9, MinLatencyMs: 40, MaxLatencyMs: 120})
		l.Produce([]byte("a"), []byte("1"))
		l.Advance(1500)
		l.KillBroker(2)
		l.Produce([]byte("b"), []byte("2"))
		l.Advance(15000)
		l.RestartBroker(2)
		l.Advance(10000)
		var b strings.Builder
		for _, o := range append(l.History(), l.Wire()...) {
			fmt.Fprintf(&b, "%d %d %T", o.Time, o.Node, o.Event)
			switch e := o.Event.(type) {
			case core.MessageSent:
				fmt.Fprintf(&b, " %d->%d %d #%d", e.Envelope.From, e.Envelope.To, e.Envelope.Key(), e.Envelope.CorrelationID)
			case core.MessageDelivered, core.MessageDropped, core.MetadataApplied:
			default:
				fmt.Fprintf(&b, " %+v", e)
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Error("two runs with the same seed and actions differ")
	}
}

// The partitioner strategy the learner picks decides where records go:
// round-robin spreads one key over the partitions, by-match keeps a match's
// records together without a key, default is murmur2 of the key.
func TestPartitionerStrategies(t *testing.T) {
	l := New(Config{Seed: 7})
	partitions := func(n int, key func(i int) []byte, value func(i int) []byte) []int32 {
		before := len(l.Acked())
		for i := 0; i < n; i++ {
			l.Produce(key(i), value(i))
		}
		if !l.Sim.RunUntil(func() bool { return len(l.Acked()) >= before+n }, 20000) {
			t.Fatalf("%d of %d acknowledged", len(l.Acked())-before, n)
		}
		var out []int32
		for _, a := range l.Acked()[before:] {
			out = append(out, a.Partition)
		}
		return out
	}
	same := func(i int) []byte { return []byte("same") }
	l.SetStrategy(StrategyRoundRobin)
	if got := partitions(6, same, same); len(distinct(got)) != 6 {
		t.Errorf("round-robin put one key in partitions %v, want all 6", got)
	}
	l.SetStrategy(StrategyByMatch)
	match := func(i int) []byte { return []byte(`{"match":"m1","goal":` + string(rune('0'+i)) + `}`) }
	if got := partitions(4, func(int) []byte { return nil }, match); len(distinct(got)) != 1 || got[0] != client.KeyPartition([]byte("m1"), 6) {
		t.Errorf("by match: partitions %v, want all in %d", got, client.KeyPartition([]byte("m1"), 6))
	}
	l.SetStrategy(StrategyDefault)
	if got := partitions(3, same, same); len(distinct(got)) != 1 || got[0] != l.PartitionFor([]byte("same")) {
		t.Errorf("default: partitions %v, want murmur2's %d", got, l.PartitionFor([]byte("same")))
	}
}

func distinct(ps []int32) map[int32]bool {
	m := map[int32]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// Views redraw only when Version moves, so every change of what a replica
// row draws (role, epoch, log end offset, high watermark) must move it: a
// follower's high watermark is not news but is drawn.
func TestVersionMovesWithWhatIsDrawn(t *testing.T) {
	l := New(Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120})
	drawn := func() string {
		var b strings.Builder
		for _, id := range l.BrokerIDs() {
			for p := int32(0); p < l.PartitionCount(); p++ {
				if info, ok := l.Server(id).Broker().Partition(l.Topic(), p); ok {
					fmt.Fprintf(&b, "%d/%d %d e%d leo %d hw %d isr %v; ", id, p, info.Leader, info.LeaderEpoch, info.LogEndOffset, info.HighWatermark, info.ISR)
				}
			}
		}
		return b.String()
	}
	l.Advance(3000)
	followerHW := 0
	was, v := drawn(), l.Version()
	for i := 0; i < 3000; i++ {
		if i%300 == 0 {
			l.Produce([]byte(fmt.Sprint("k", i)), []byte("v"))
		}
		l.Advance(1)
		now, nv := drawn(), l.Version()
		if now != was && nv == v {
			t.Fatalf("at %d ms the drawn state changed but Version stayed %d:\n was %s\n now %s", i, v, was, now)
		}
		if strings.Count(now, "hw 1") > strings.Count(was, "hw 1") {
			followerHW++
		}
		was, v = now, nv
	}
	if followerHW == 0 {
		t.Fatal("no high watermark moved: the test saw nothing")
	}
}
