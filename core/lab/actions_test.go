package lab

import (
	"fmt"
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// digest is everything a learner can see of a lab, one fact a line: the
// time, every replica as each broker holds it (crashed ones as they froze),
// the brokers, the notable history, the records consumed and acknowledged,
// the groups, the timeline marks.
func digest(l *Lab) []string {
	out := []string{fmt.Sprint("now ", l.Now())}
	for _, id := range l.BrokerIDs() {
		out = append(out, fmt.Sprintf("broker %d running %v", id, l.Sim.Machine(id) != nil))
		for p := range l.PartitionCount() {
			if info, ok := l.Server(id).Broker().Partition(l.Topic(), p); ok {
				out = append(out, fmt.Sprintf("replica %d/%d leader %d epoch %d LEO %d HW %d start %d ISR %v",
					id, p, info.Leader, info.LeaderEpoch, info.LogEndOffset, info.HighWatermark, info.LogStartOffset, info.ISR))
			}
		}
	}
	for _, b := range l.Brokers() {
		out = append(out, fmt.Sprintf("view %+v", b))
	}
	for _, o := range l.History() {
		out = append(out, fmt.Sprintf("event %d %d %T %+v", o.Time, o.Node, o.Event, o.Event))
	}
	for _, r := range l.Consumed() {
		out = append(out, fmt.Sprintf("consumed %+v", r))
	}
	for _, r := range l.Acked() {
		out = append(out, fmt.Sprintf("acked %+v", r))
	}
	for _, g := range l.Groups() {
		out = append(out, fmt.Sprintf("group %+v", g))
	}
	for _, m := range l.Marks() {
		out = append(out, fmt.Sprintf("mark %+v", m))
	}
	return out
}

// sameDigest reports the first line where two digests differ.
func sameDigest(t *testing.T, what string, got, want []string) bool {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Logf("%s: line %d differs:\n got  %s\n want %s", what, i, g, w)
			return false
		}
	}
	return true
}

// pageConfig is the page's lab (ui/page.go).
var pageConfig = Config{Seed: 7, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000}

// play runs a lab as the page does, in 100 ms frames.
func play(l *Lab, ms int64) {
	for range ms / 100 {
		l.Advance(100)
	}
}

// session runs a learner's session: records with several acks settings
// and partitioners, a group that gets a second member, the leader of
// alice's partition killed and restarted, a day skipped. It returns the
// lab and its digest at a moment in the middle (the leader just killed).
func session(t *testing.T) (l *Lab, midAt int64, mid []string) {
	t.Helper()
	l = New(pageConfig)
	for i, k := range []string{"alice", "bob", "carol"} {
		l.Produce([]byte(k), fmt.Appendf(nil, "v%d", i))
	}
	l.Produce(nil, []byte("no key"))
	l.Produce([]byte{}, []byte("empty key"))
	play(l, 2000)
	l.SetAcks(client.AcksLeader)
	l.SetStrategy(StrategyRoundRobin)
	l.Produce([]byte("dave"), []byte("acks=1"))
	if err := l.AddGroup(GroupConfig{Name: "g", Assignor: "roundrobin"}); err != nil {
		t.Fatal(err)
	}
	play(l, 6000)
	if _, err := l.AddMember("g"); err != nil {
		t.Fatal(err)
	}
	play(l, 6000)
	leader, _ := l.Leader(l.PartitionFor([]byte("alice")))
	l.KillBroker(core.NodeID(leader))
	l.Produce([]byte("alice"), []byte("during"))
	play(l, 3000)
	midAt, mid = l.Now(), digest(l)
	play(l, 12000)
	l.RestartBroker(core.NodeID(leader))
	l.SetAcks(client.AcksAll)
	play(l, 8000)
	l.Skip(24 * 3600 * 1000)
	play(l, 3000)
	return l, midAt, mid
}

// A session replayed from its seed and its action log is the same world,
// at the end and at a moment in the middle; a log with one action dropped
// is not (the comparison can fail).
func TestReplayReproducesTheSession(t *testing.T) {
	l, midAt, mid := session(t)
	acts := l.Actions()
	kinds := map[Kind]int{}
	for _, a := range acts {
		kinds[a.Kind]++
	}
	for _, k := range []Kind{ActProduce, ActSetAcks, ActSetStrategy, ActAddGroup, ActAddMember, ActKillBroker, ActRestartBroker, ActSkip} {
		if kinds[k] == 0 {
			t.Errorf("no %s action logged: %v", k, acts)
		}
	}
	want := digest(l)
	if n := len(l.Marks()); n == 0 {
		t.Error("no timeline marks")
	}

	r := Replay(l.Config(), acts, l.Now())
	if !sameDigest(t, "replay to the end", digest(r), want) {
		t.Error("the replay to the end differs from the session")
	}
	if !slices.EqualFunc(r.Actions(), acts, func(a, b Action) bool { return a.String() == b.String() && a.At == b.At }) {
		t.Error("the replay logged other actions")
	}
	if !sameDigest(t, "replay to the middle", digest(Replay(l.Config(), acts, midAt)), mid) {
		t.Error("the replay to the middle differs from the session then")
	}

	// Negative controls: the digest tells different worlds apart.
	i := slices.IndexFunc(acts, func(a Action) bool { return a.Kind == ActKillBroker })
	dropped := slices.Delete(slices.Clone(acts), i, i+1)
	if sameDigest(t, "replay without the kill (expected to differ)", digest(Replay(l.Config(), dropped, l.Now())), want) {
		t.Error("a replay without the kill looks the same: the digest sees nothing")
	}
	other := l.Config()
	other.Seed++
	if sameDigest(t, "another seed (expected to differ)", digest(Replay(other, acts, l.Now())), want) {
		t.Error("a replay with another seed looks the same")
	}
}

// The page drives a Player in small steps across frames; the result is the
// same as one Replay.
func TestPlayerInStepsEqualsReplay(t *testing.T) {
	l := New(pageConfig)
	l.Produce([]byte("k"), []byte("v"))
	play(l, 1500)
	l.PauseBroker(2)
	l.SlowBroker(3, 300)
	l.Isolate(1)
	play(l, 4000)
	l.Heal(1)
	l.ResumeBroker(2)
	l.HealAll()
	l.SlowBroker(3, 0)
	play(l, 3000)
	if n := len(l.Actions()); n != 8 {
		t.Fatalf("%d actions logged, want 8: %v", n, l.Actions())
	}
	p := NewPlayer(l.Config(), l.Actions())
	for p.Lab().Now() < l.Now() {
		p.AdvanceTo(min(p.Lab().Now()+37, l.Now()))
	}
	if len(p.Pending()) != 0 {
		t.Errorf("%d actions not applied", len(p.Pending()))
	}
	if !sameDigest(t, "player", digest(p.Lab()), digest(l)) {
		t.Error("the player in steps differs from the session")
	}
}

// OnAction sees the learner's actions, not those a Player re-applies.
func TestOnActionSkipsReplayedActions(t *testing.T) {
	l := New(Config{Seed: 3})
	var seen []Kind
	l.OnAction(func(a Action) { seen = append(seen, a.Kind) })
	l.KillBroker(2)
	l.KillBroker(99) // not a broker: nothing happens, nothing logged
	if !slices.Equal(seen, []Kind{ActKillBroker}) || l.ActionCount() != 1 {
		t.Fatalf("seen %v, logged %v", seen, l.Actions())
	}
	p := NewPlayer(l.Config(), l.Actions())
	seen = nil
	p.Lab().OnAction(func(a Action) { seen = append(seen, a.Kind) })
	p.AdvanceTo(l.Now())
	if len(seen) != 0 || p.Lab().ActionCount() != 1 {
		t.Errorf("replayed: seen %v, logged %d", seen, p.Lab().ActionCount())
	}
}
