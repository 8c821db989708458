package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// groupView finds a group in l.Groups().
func groupView(t *testing.T, l *Lab, name string) GroupView {
	t.Helper()
	for _, g := range l.Groups() {
		if g.Config.Name == name {
			return g
		}
	}
	t.Fatalf("no group %q", name)
	return GroupView{}
}

// settled reports whether the group is Stable with n running members, each
// STABLE in the group's generation and consuming what it was assigned, and
// every partition consumed by exactly one of them.
func settled(l *Lab, name string, n int) bool {
	for _, g := range l.Groups() {
		if g.Config.Name != name {
			continue
		}
		if g.State != "Stable" || len(g.Members) != n || len(g.Unowned) > 0 {
			return false
		}
		owned := 0
		for _, m := range g.Members {
			c := l.Member(m.ID)
			if m.Crashed || m.Leaving || m.State != "STABLE" || c.Generation() != g.Generation || c.AssignedGeneration() != g.Generation {
				return false
			}
			owned += len(m.Partitions)
		}
		return owned == int(l.PartitionCount())
	}
	return false
}

// waitSettled runs the lab until the group settles with n members.
func waitSettled(t *testing.T, l *Lab, name string, n int, maxMs int64) GroupView {
	t.Helper()
	for waited := int64(0); !settled(l, name, n); waited += 100 {
		if waited > maxMs {
			t.Fatalf("group %s did not settle with %d members in %d ms: %s", name, n, maxMs, describeGroup(groupView(t, l, name)))
		}
		l.Advance(100)
	}
	return groupView(t, l, name)
}

func describeGroup(g GroupView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s gen %d (%s) coordinator %d:", g.State, g.Generation, g.Protocol, g.Coordinator)
	for _, m := range g.Members {
		var ps []int32
		for _, p := range m.Partitions {
			ps = append(ps, p.Partition)
		}
		fmt.Fprintf(&b, " %s[%s crashed=%v leaving=%v idle=%v] %v;", m.Name, m.State, m.Crashed, m.Leaving, m.Idle, ps)
	}
	return b.String()
}

// split is each member's partition count, and fails the test if a
// partition is owned twice.
func split(t *testing.T, g GroupView) map[string][]int32 {
	t.Helper()
	out := map[string][]int32{}
	seen := map[int32]string{}
	for _, m := range g.Members {
		for _, p := range m.Partitions {
			if other, dup := seen[p.Partition]; dup {
				t.Fatalf("partition %d owned by %s and %s: %s", p.Partition, other, m.Name, describeGroup(g))
			}
			seen[p.Partition] = m.Name
			out[m.Name] = append(out[m.Name], p.Partition)
		}
	}
	return out
}

func sizes(s map[string][]int32) []int {
	var out []int
	for _, ps := range s {
		out = append(out, len(ps))
	}
	slices.Sort(out)
	return out
}

// states lists the group's state changes in the history, from index from.
func states(l *Lab, name string, from int) []string {
	var out []string
	for _, o := range l.History()[from:] {
		if e, ok := o.Event.(core.GroupStateChanged); ok && e.Group == name {
			out = append(out, e.To)
		}
	}
	return out
}

func rebalances(l *Lab, from int) []Rebalanced {
	var out []Rebalanced
	for _, o := range l.History()[from:] {
		if e, ok := o.Event.(Rebalanced); ok {
			out = append(out, e)
		}
	}
	return out
}

// Two members of a group split the 6 partitions 3/3, each owned once; a
// third member makes the coordinator rebalance (PreparingRebalance,
// CompletingRebalance, Stable, one generation more) to 2/2/2. Under the
// eager range assignor every member gave up everything first.
func TestGroupSplitsAndRebalances(t *testing.T) {
	l := newLab(t, 7)
	if err := l.AddGroup(GroupConfig{Name: "scores", Assignor: "range", Members: 2, SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	g := waitSettled(t, l, "scores", 2, 30000)
	if got := sizes(split(t, g)); !slices.Equal(got, []int{3, 3}) {
		t.Fatalf("2 members: split %v, want 3/3: %s", got, describeGroup(g))
	}
	if g.Protocol != "range" || g.Coordinator < 1 || g.OffsetsPartition < 0 || g.OffsetsPartition >= OffsetsTopicPartitions {
		t.Errorf("protocol %q coordinator %d partition %d", g.Protocol, g.Coordinator, g.OffsetsPartition)
	}
	gen := g.Generation
	mark := len(l.History())

	id, err := l.AddMember("scores")
	if err != nil {
		t.Fatal(err)
	}
	g = waitSettled(t, l, "scores", 3, 30000)
	if got := sizes(split(t, g)); !slices.Equal(got, []int{2, 2, 2}) {
		t.Fatalf("3 members: split %v, want 2/2/2: %s", got, describeGroup(g))
	}
	if g.Generation != gen+1 {
		t.Errorf("generation %d → %d, want one rebalance", gen, g.Generation)
	}
	if got := states(l, "scores", mark); !slices.Equal(got, []string{"PreparingRebalance", "CompletingRebalance", "Stable"}) {
		t.Errorf("state changes %v", got)
	}
	name, _ := MemberName(id)
	for _, rb := range rebalances(l, mark) {
		switch {
		case rb.Member == name:
			if len(rb.Added) != 2 || len(rb.Revoked) != 0 || len(rb.From) != 2 {
				t.Errorf("new member %s: added %v (from %v) revoked %v", name, rb.Added, rb.From, rb.Revoked)
			}
		case len(rb.Revoked) != 3 || len(rb.Added) != 2:
			// Eager: all 3 given up before rejoining, 2 assigned again.
			t.Errorf("%s under range: revoked %v, added %v; want all 3 revoked and 2 assigned", rb.Member, rb.Revoked, rb.Added)
		}
	}
}

// Under cooperative-sticky a third member takes one partition from each of
// the two others, over two rebalances: the first revokes only what moves,
// the second assigns it. No member gives up a partition it keeps.
func TestCooperativeStickyMovesOnlyWhatItMust(t *testing.T) {
	l := newLab(t, 8)
	if err := l.AddGroup(GroupConfig{Name: "coop", Assignor: "cooperative-sticky", Members: 2, SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	before := split(t, waitSettled(t, l, "coop", 2, 30000))
	gen := groupView(t, l, "coop").Generation
	mark := len(l.History())
	id, _ := l.AddMember("coop")
	g := waitSettled(t, l, "coop", 3, 30000)
	after := split(t, g)
	if got := sizes(after); !slices.Equal(got, []int{2, 2, 2}) {
		t.Fatalf("split %v: %s", got, describeGroup(g))
	}
	if g.Generation != gen+2 {
		t.Errorf("generation %d → %d, want two rebalances", gen, g.Generation)
	}
	newName, _ := MemberName(id)
	moved := 0
	for name, ps := range before {
		for _, p := range after[name] {
			if !slices.Contains(ps, p) {
				t.Errorf("%s got %d, which it did not have", name, p)
			}
		}
		moved += len(ps) - len(after[name])
	}
	if moved != 2 {
		t.Errorf("%d partitions moved, want 2: before %v after %v", moved, before, after)
	}
	revoked := map[int32]string{}
	for _, rb := range rebalances(l, mark) {
		for _, p := range rb.Revoked {
			if slices.Contains(after[rb.Member], p) {
				t.Errorf("%s revoked %d, which it keeps", rb.Member, p)
			}
			revoked[p] = rb.Member
		}
		if rb.Member == newName && len(rb.Added) > 0 {
			for _, p := range rb.Added {
				if rb.From[p] == "" || rb.From[p] != revoked[p] {
					t.Errorf("%s added %d from %q, want from the member that revoked it (%q)", newName, p, rb.From[p], revoked[p])
				}
			}
		}
	}
	if len(revoked) != 2 {
		t.Errorf("revoked %v, want the 2 moved partitions", revoked)
	}
}

// A removed member leaves at once (LeaveGroup) and its partitions go to the
// other; a crashed one is noticed only after session.timeout.ms.
func TestRemoveAndCrashHandOver(t *testing.T) {
	l := newLab(t, 9)
	const session = 10000
	if err := l.AddGroup(GroupConfig{Name: "g", Assignor: "roundrobin", Members: 3, SessionTimeoutMs: session}); err != nil {
		t.Fatal(err)
	}
	g := waitSettled(t, l, "g", 3, 30000)
	a, b, c := g.Members[0].ID, g.Members[1].ID, g.Members[2].ID

	mark := len(l.History())
	l.RemoveMember(a)
	waitSettled(t, l, "g", 2, 5000) // no session timeout to wait for
	if n := count[core.MemberLeft](l.History()[mark:], func(e core.MemberLeft) bool { return strings.HasPrefix(e.Reason, "LeaveGroup") }); n != 1 {
		t.Errorf("%d MemberLeft by LeaveGroup, want 1", n)
	}

	l.CrashMember(b)
	start := l.Now()
	crashed := groupView(t, l, "g")
	if len(crashed.Members) != 2 || !crashed.Members[0].Crashed || len(crashed.Members[0].Partitions) != 3 {
		t.Fatalf("right after the crash: %s", describeGroup(crashed))
	}
	l.Advance(session - 2000)
	if g := groupView(t, l, "g"); g.State != "Stable" || len(g.Members) != 2 {
		t.Fatalf("before session.timeout.ms: %s", describeGroup(g))
	}
	g = waitSettled(t, l, "g", 1, session+10000)
	if took := l.Now() - start; took < session {
		t.Errorf("the crash was handled after %d ms, before session.timeout.ms", took)
	}
	if g.Members[0].ID != c || len(g.Members[0].Partitions) != 6 {
		t.Errorf("the survivor should own everything: %s", describeGroup(g))
	}
	if n := count[core.MemberLeft](l.History()[mark:], func(e core.MemberLeft) bool { return strings.HasPrefix(e.Reason, "session timeout") }); n != 1 {
		t.Errorf("%d MemberLeft by session timeout, want 1", n)
	}
}

// More members than partitions: the extra one is idle.
func TestIdleMember(t *testing.T) {
	l := newLab(t, 10)
	if err := l.AddGroup(GroupConfig{Name: "many", Assignor: "range", Members: 7, SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	g := waitSettled(t, l, "many", 7, 30000)
	idle := 0
	for _, m := range g.Members {
		if m.Idle {
			idle++
		}
	}
	if got := sizes(split(t, g)); idle != 1 || !slices.Equal(got, []int{1, 1, 1, 1, 1, 1}) {
		t.Errorf("%d idle, split %v: %s", idle, got, describeGroup(g))
	}
}

// Two groups read the same topic independently: each processes every
// record, and commits its own offsets.
func TestTwoGroupsReadEveryRecord(t *testing.T) {
	l := newLab(t, 11)
	for _, cfg := range []GroupConfig{
		{Name: "billing", Assignor: "range", Members: 2, Commit: client.CommitAfterProcessing, ProcessingDelayMs: 5},
		{Name: "audit", Assignor: "cooperative-sticky", Members: 1, Commit: client.CommitBeforeProcessing},
	} {
		if err := l.AddGroup(cfg); err != nil {
			t.Fatal(err)
		}
	}
	waitSettled(t, l, "billing", 2, 30000)
	waitSettled(t, l, "audit", 1, 30000)
	for i := range 30 {
		l.Produce(fmt.Appendf(nil, "user-%d", i%7), fmt.Appendf(nil, "v%d", i))
	}
	want := map[[2]int64]bool{}
	read := func(name string) map[[2]int64]bool {
		got := map[[2]int64]bool{}
		for _, m := range groupView(t, l, name).Members {
			for _, r := range l.Member(m.ID).Processed() {
				got[[2]int64{int64(r.Partition), r.Offset}] = true
			}
		}
		return got
	}
	ok := l.Sim.RunUntil(func() bool {
		if len(l.Acked()) < 30 {
			return false
		}
		for _, a := range l.Acked() {
			want[[2]int64{int64(a.Partition), a.Offset}] = true
		}
		return len(read("billing")) == 30 && len(read("audit")) == 30
	}, 30000)
	if !ok {
		t.Fatalf("acked %d; billing read %d, audit read %d of 30", len(l.Acked()), len(read("billing")), len(read("audit")))
	}
	for _, name := range []string{"billing", "audit"} {
		got := read(name)
		for k := range want {
			if !got[k] {
				t.Errorf("group %s did not read partition %d offset %d", name, k[0], k[1])
			}
		}
	}
	// Each group commits its own offsets: both reach the log end.
	l.Advance(2000)
	for _, name := range []string{"billing", "audit"} {
		g := groupView(t, l, name)
		total := int64(0)
		for _, off := range g.Committed {
			total += off
		}
		if total != 30 {
			t.Errorf("group %s committed %v (sum %d), want the 30 records", name, g.Committed, total)
		}
	}
}

func TestAddGroupRefuses(t *testing.T) {
	l := New(Config{Seed: 1, NoWarmup: true})
	for _, c := range []struct {
		cfg  GroupConfig
		want string
	}{
		{GroupConfig{Name: " "}, "empty"},
		{GroupConfig{Name: "g", Assignor: "fair"}, "partition.assignment.strategy"},
		{GroupConfig{Name: "g", SessionTimeoutMs: 3000}, "heartbeat.interval.ms"},
		{GroupConfig{Name: "g", Members: MaxMembersPerGroup + 1}, "members"},
		{GroupConfig{Name: "g", Commit: client.CommitManual}, "commit mode"},
	} {
		if err := l.AddGroup(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("AddGroup(%+v) = %v, want an error about %s", c.cfg, err, c.want)
		}
	}
	if err := l.AddGroup(GroupConfig{Name: "g"}); err != nil {
		t.Fatal(err)
	}
	if err := l.AddGroup(GroupConfig{Name: "g"}); err == nil {
		t.Error("a second group g was accepted")
	}
	if _, err := l.AddMember("nope"); err == nil {
		t.Error("AddMember to a missing group was accepted")
	}
	if len(l.Groups()) != 1 || len(l.Groups()[0].Members) != 1 {
		t.Errorf("groups %+v", l.Groups())
	}
}
