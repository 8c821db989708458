package lab

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// producer is a named producer's view, failing the test if it is not listed.
func producerView(t *testing.T, l *Lab, name string) ProducerView {
	t.Helper()
	for _, v := range l.Producers() {
		if v.Spec.Name == name {
			return v
		}
	}
	t.Fatalf("no producer %q in %+v", name, l.Producers())
	return ProducerView{}
}

// Two producers with different acks both get their records acknowledged,
// and the default producer still works beside them.
func TestNamedProducersWithDifferentAcks(t *testing.T) {
	l := New(pageConfig)
	if err := l.AddProducer(ProducerSpec{Name: "p-all", Acks: client.AcksAll}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddProducer(ProducerSpec{Name: "p-one", Acks: client.AcksLeader}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if !l.ProduceTo("p-all", []byte("k"), []byte{byte('a' + i)}) || !l.ProduceTo("p-one", []byte("k"), []byte{byte('A' + i)}) {
			t.Fatal("ProduceTo refused a manual producer")
		}
	}
	l.Produce([]byte("d"), []byte("default"))
	play(l, 3000)
	all, one := producerView(t, l, "p-all"), producerView(t, l, "p-one")
	if all.Stats.Acked != 5 || one.Stats.Acked != 5 || all.Stats.Failed+one.Stats.Failed != 0 {
		t.Errorf("acked %d and %d, failed %d and %d; want 5, 5, 0, 0", all.Stats.Acked, one.Stats.Acked, all.Stats.Failed, one.Stats.Failed)
	}
	if !all.Idempotent || one.Idempotent {
		t.Errorf("idempotent: acks=all %v, acks=1 %v; want true, false (unset enable.idempotence follows acks)", all.Idempotent, one.Idempotent)
	}
	if d := l.Producers()[0]; !d.Default || d.Stats.Acked != 1 {
		t.Errorf("default producer first with 1 acked, got %+v", d)
	}
	checks := map[client.Acks]int{}
	for _, c := range l.CheckAcked() {
		checks[c.Acks] = c.Present
	}
	if checks[client.AcksAll] != 6 || checks[client.AcksLeader] != 5 {
		t.Errorf("acknowledged and present by acks: %v, want all:6 1:5", checks)
	}
}

// Kafka refuses enable.idempotence=true with acks≠all; bad names, rates and
// duplicates are refused too, and nothing refused is logged.
func TestAddProducerRefusals(t *testing.T) {
	l := New(Config{Seed: 2})
	for _, s := range []ProducerSpec{
		{Name: "x", Acks: client.AcksLeader, Idempotence: client.IdempotenceOn},
		{Name: "", Acks: client.AcksAll},
		{Name: "bad name"},
		{Name: DefaultProducerName},
		{Name: "r", Generator: GenMatchEvents, Rate: MaxRate + 1},
		{Name: "g", Generator: "nope"},
		{Name: "s", Partitioner: "nope"},
	} {
		if err := l.AddProducer(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := l.AddProducer(ProducerSpec{Name: "x", Acks: client.AcksLeader, Idempotence: client.IdempotenceOn}); err == nil ||
		!strings.Contains(err.Error(), "must set acks to all") {
		t.Errorf("idempotence with acks=1: %v, want Kafka's message", err)
	}
	if err := l.AddProducer(ProducerSpec{Name: "x", Idempotence: client.IdempotenceOn, Retries: -1}); err == nil ||
		!strings.Contains(err.Error(), "must set retries to non-zero") {
		t.Errorf("idempotence with retries=0: %v, want Kafka's message", err)
	}
	if err := l.AddProducer(ProducerSpec{Name: "x", Retries: math.MaxInt32 + 1}); err == nil {
		t.Error("retries past a Java int accepted")
	}
	if err := l.AddProducer(ProducerSpec{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddProducer(ProducerSpec{Name: "x"}); err == nil {
		t.Error("a duplicate name was accepted")
	}
	if n := l.ActionCount(); n != 1 {
		t.Errorf("%d actions logged, want 1: %v", n, l.Actions())
	}
}

type matchEvent struct {
	Match  string `json:"match"`
	Seq    int    `json:"seq"`
	Minute int    `json:"minute"`
	Event  string `json:"event"`
	Team   string `json:"team"`
}

// A live match events producer at 10 records/s sends ~10 per virtual
// second keyed by match id; each match's events are in one partition, in
// the order they were made. Removed, it stops.
func TestMatchEventsProducer(t *testing.T) {
	l := New(pageConfig)
	if err := l.AddProducer(ProducerSpec{Name: "matches", Generator: GenMatchEvents, Rate: 10}); err != nil {
		t.Fatal(err)
	}
	play(l, 5000)
	v := producerView(t, l, "matches")
	if v.Stats.Sent < 49 || v.Stats.Sent > 50 {
		t.Errorf("sent %d in 5 virtual s at 10/s, want 50", v.Stats.Sent)
	}
	play(l, 2000)
	l.RemoveProducer("matches")
	sent := v.Stats.Sent
	for _, x := range l.Producers() {
		if x.Spec.Name == "matches" {
			t.Fatal("removed producer still listed")
		}
	}
	play(l, 3000)
	if got := l.prods.byID[v.ID].p.Stats(); got.Sent > 70 || got.Sent <= sent || got.Acked != got.Sent {
		t.Errorf("after removal: sent %d acked %d (had sent %d at 5 s, 70 by 7 s); want no more and all acked", got.Sent, got.Acked, sent)
	}

	partOf, lastSeq, total := map[string]int32{}, map[string]int{}, 0
	for p := range l.PartitionCount() {
		for _, r := range l.Records(p, 1000) {
			var e matchEvent
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Fatalf("value %q: %v", r.Value, err)
			}
			total++
			if string(r.Key) != e.Match {
				t.Errorf("key %q for match %q", r.Key, e.Match)
			}
			if q, ok := partOf[e.Match]; ok && q != p {
				t.Errorf("match %s in partitions %d and %d", e.Match, q, p)
			}
			partOf[e.Match] = p
			if e.Seq != lastSeq[e.Match]+1 {
				t.Errorf("match %s: event %d after %d", e.Match, e.Seq, lastSeq[e.Match])
			}
			lastSeq[e.Match] = e.Seq
		}
	}
	if s := l.prods.byID[v.ID].p.Stats().Sent; int64(total) != s || len(partOf) < 2 {
		t.Errorf("%d records in the logs for %d sent, %d matches", total, s, len(partOf))
	}
}

// SetRate changes the pace; 0 pauses.
func TestSetRate(t *testing.T) {
	l := New(pageConfig)
	if err := l.AddProducer(ProducerSpec{Name: "clicks", Generator: GenClickstream, Rate: 5}); err != nil {
		t.Fatal(err)
	}
	play(l, 2000)
	l.SetRate("clicks", 20)
	play(l, 1000)
	if s := producerView(t, l, "clicks").Stats.Sent; s != 30 {
		t.Errorf("sent %d, want 10 + 20", s)
	}
	l.SetRate("clicks", 0)
	play(l, 2000)
	if s := producerView(t, l, "clicks").Stats; s.Sent != 30 || s.Acked != 30 {
		t.Errorf("paused: sent %d acked %d, want 30 30", s.Sent, s.Acked)
	}
}

// A session with producers replays to the same world, and its share link
// carries them.
func TestReplayWithProducers(t *testing.T) {
	l := New(pageConfig)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.AddProducer(ProducerSpec{Name: "matches", Generator: GenMatchEvents, Rate: 7, Acks: client.AcksLeader}))
	must(l.AddProducer(ProducerSpec{Name: "typed", Partitioner: StrategyRoundRobin, Idempotence: client.IdempotenceOff, Retries: 3}))
	play(l, 1500)
	l.ProduceTo("typed", nil, []byte("hello"))
	l.Produce([]byte("k"), []byte("v"))
	play(l, 1500)
	l.SetRate("matches", 30)
	play(l, 1000)
	must(l.AddProducer(ProducerSpec{Name: "clicks", Generator: GenClickstream, Rate: 3, Retries: -5}))
	play(l, 1000)
	l.RemoveProducer("matches")
	play(l, 2000)

	s, err := DecodeSession(l.Session().Encode())
	if err != nil {
		t.Fatal(err)
	}
	r := Replay(s.Config, s.Actions, s.Now)
	if !sameDigest(t, "replay", digest(r), digest(l)) {
		t.Error("the replay differs from the session")
	}
	for i, v := range l.Producers() {
		if w := r.Producers()[i]; w.Spec != v.Spec || w.Stats != v.Stats {
			t.Errorf("producer %d: replayed %+v, want %+v", i, w, v)
		}
	}
}

// The decoder refuses a producer the page could not have made.
func TestDecodeRefusesBadProducers(t *testing.T) {
	l := New(Config{Seed: 4})
	if err := l.AddProducer(ProducerSpec{Name: "ok", Generator: GenClickstream, Rate: 2}); err != nil {
		t.Fatal(err)
	}
	good := l.Session()
	if _, err := DecodeSession(good.Encode()); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Action){
		func(a *Action) { a.Producer.Generator = "nope" },
		func(a *Action) { a.Producer.Partitioner = "nope" },
		func(a *Action) { a.Producer.Rate = MaxRate + 1 },
		func(a *Action) { a.Producer.Acks = 7 },
		func(a *Action) { a.Producer.Idempotence = 9 },
		func(a *Action) { a.Producer.Retries = math.MaxInt32 + 1 },
	} {
		s := good
		s.Actions = []Action{good.Actions[0]}
		bad(&s.Actions[0])
		if _, err := DecodeSession(s.Encode()); err == nil {
			t.Errorf("%+v decoded", s.Actions[0].Producer)
		}
	}
}

// retries=0 makes a producer at-most-once: when the leader it writes to
// dies, the batches in flight fail with the first error instead of going
// to the new leader, while a producer with Kafka's default retries loses
// nothing. retries=0 also turns an unset enable.idempotence off.
func TestProducerRetriesZeroLosesUnderFaults(t *testing.T) {
	l := New(pageConfig)
	for _, s := range []ProducerSpec{
		{Name: "once", Generator: GenMatchEvents, Rate: 50, Retries: -1},
		{Name: "always", Generator: GenMatchEvents, Rate: 50},
	} {
		if err := l.AddProducer(s); err != nil {
			t.Fatal(err)
		}
	}
	play(l, 3000)
	leader, _ := l.Leader(0)
	l.KillBroker(core.NodeID(leader))
	play(l, 30000)
	once, always := producerView(t, l, "once"), producerView(t, l, "always")
	if once.Retries != 0 || once.Idempotent || once.Spec.Retries != -1 {
		t.Errorf("once: retries %d, idempotent %v, spec %d; want 0, false, -1", once.Retries, once.Idempotent, once.Spec.Retries)
	}
	if always.Retries != math.MaxInt32 || !always.Idempotent {
		t.Errorf("always: retries %d, idempotent %v; want 2147483647, true", always.Retries, always.Idempotent)
	}
	if s := once.Stats; s.Failed == 0 || s.Retries != 0 || s.Acked == 0 {
		t.Errorf("retries=0: %+v, want some failed, none retried", s)
	}
	if s := always.Stats; s.Failed != 0 || s.Retries == 0 {
		t.Errorf("default retries: %+v, want retried and none failed", s)
	}
	if got := l.Actions()[0].String(); !strings.Contains(got, "retries=0") {
		t.Errorf("action %q does not name retries=0", got)
	}
}
