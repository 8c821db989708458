package assign

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
)

type plan = map[string]map[string][]int32

func sub(id string, topics ...string) Member {
	return Member{ID: id, Topics: topics, Generation: -1}
}

func owning(m Member, gen int32, owned map[string][]int32) Member {
	m.Owned, m.Generation = owned, gen
	return m
}

func checkPlan(t *testing.T, a Assignor, members []Member, partitions map[string]int32, want plan) {
	t.Helper()
	got := a.Assign(members, partitions)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", a.Name(), got, want)
	}
	// The result does not depend on the order members arrive in.
	if got2 := a.Assign(reversed(members), partitions); !reflect.DeepEqual(got, got2) {
		t.Errorf("%s depends on member order:\n%v\n%v", a.Name(), got, got2)
	}
}

func reversed(ms []Member) []Member {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}

// Cases from Kafka's RangeAssignorTest and the RangeAssignor javadoc.
func TestRange(t *testing.T) {
	r := Range()
	checkPlan(t, r, []Member{sub("c1")}, map[string]int32{"t1": 3}, plan{"c1": {}})
	checkPlan(t, r, []Member{sub("c1", "t1")}, map[string]int32{"t1": 3}, plan{"c1": {"t1": {0, 1, 2}}})
	checkPlan(t, r, []Member{sub("c1", "t1", "unknown")}, map[string]int32{"t1": 3}, plan{"c1": {"t1": {0, 1, 2}}})
	// javadoc: C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2]
	checkPlan(t, r, []Member{sub("C0", "t0", "t1"), sub("C1", "t0", "t1")}, map[string]int32{"t0": 3, "t1": 3},
		plan{"C0": {"t0": {0, 1}, "t1": {0, 1}}, "C1": {"t0": {2}, "t1": {2}}})
	// testMultipleConsumersMixedTopics
	checkPlan(t, r, []Member{sub("consumer1", "t1"), sub("consumer2", "t1", "t2"), sub("consumer3", "t1")},
		map[string]int32{"t1": 3, "t2": 2},
		plan{"consumer1": {"t1": {0}}, "consumer2": {"t1": {1}, "t2": {0, 1}}, "consumer3": {"t1": {2}}})
	// More members than partitions: the last ones get nothing.
	checkPlan(t, r, []Member{sub("a", "t"), sub("b", "t"), sub("c", "t")}, map[string]int32{"t": 2},
		plan{"a": {"t": {0}}, "b": {"t": {1}}, "c": {}})
	// Static members sort by instance id, ahead of dynamic ones
	// (testStaticMemberRangeAssignmentPersistent).
	static := func(id, inst string) Member { m := sub(id, "t"); m.InstanceID = inst; return m }
	checkPlan(t, r, []Member{sub("a", "t"), static("z", "i2"), static("y", "i1")}, map[string]int32{"t": 4},
		plan{"y": {"t": {0, 1}}, "z": {"t": {2}}, "a": {"t": {3}}})
}

// Cases from Kafka's RoundRobinAssignorTest and the RoundRobinAssignor javadoc.
func TestRoundRobin(t *testing.T) {
	rr := RoundRobin()
	checkPlan(t, rr, []Member{sub("c1", "t1")}, map[string]int32{"t1": 3}, plan{"c1": {"t1": {0, 1, 2}}})
	// javadoc: C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2]
	checkPlan(t, rr, []Member{sub("C0", "t0", "t1"), sub("C1", "t0", "t1")}, map[string]int32{"t0": 3, "t1": 3},
		plan{"C0": {"t0": {0, 2}, "t1": {1}}, "C1": {"t0": {1}, "t1": {0, 2}}})
	// javadoc, unequal subscriptions: C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0, t2p1, t2p2]
	checkPlan(t, rr, []Member{sub("C0", "t0"), sub("C1", "t0", "t1"), sub("C2", "t0", "t1", "t2")},
		map[string]int32{"t0": 1, "t1": 2, "t2": 3},
		plan{"C0": {"t0": {0}}, "C1": {"t1": {0}}, "C2": {"t1": {1}, "t2": {0, 1, 2}}})
	// testMultipleConsumersMixedTopics
	checkPlan(t, rr, []Member{sub("consumer1", "t1"), sub("consumer2", "t1", "t2"), sub("consumer3", "t1")},
		map[string]int32{"t1": 3, "t2": 2},
		plan{"consumer1": {"t1": {0}}, "consumer2": {"t1": {1}, "t2": {0, 1}}, "consumer3": {"t1": {2}}})
}

// The examples of the StickyAssignor javadoc.
func TestStickyJavadoc(t *testing.T) {
	s := Sticky()
	all := []string{"t0", "t1", "t2", "t3"}
	four := map[string]int32{"t0": 2, "t1": 2, "t2": 2, "t3": 2}
	// Example 1: C1 leaves. Roundrobin would move t0p1, t1p0, t1p1, t2p0
	// around; sticky keeps what C0 and C2 had and splits C1's three.
	members := []Member{
		owning(sub("C0", all...), 1, map[string][]int32{"t0": {0}, "t1": {1}, "t3": {0}}),
		owning(sub("C2", all...), 1, map[string][]int32{"t1": {0}, "t2": {1}}),
	}
	checkPlan(t, s, members, four, plan{
		"C0": {"t0": {0, 1}, "t1": {1}, "t3": {0}},
		"C2": {"t1": {0}, "t2": {0, 1}, "t3": {1}},
	})
	// Example 2: C0 [t0], C1 [t0 t1], C2 [t0 t1 t2] over 1, 2 and 3
	// partitions: sticky balances better than roundrobin...
	three := map[string]int32{"t0": 1, "t1": 2, "t2": 3}
	members = []Member{sub("C0", "t0"), sub("C1", "t0", "t1"), sub("C2", "t0", "t1", "t2")}
	want := plan{"C0": {"t0": {0}}, "C1": {"t1": {0, 1}}, "C2": {"t2": {0, 1, 2}}}
	checkPlan(t, s, members, three, want)
	// ...and when C0 leaves, moves only t0p0.
	members = []Member{owning(members[1], 1, want["C1"]), owning(members[2], 1, want["C2"])}
	checkPlan(t, s, members, three, plan{"C1": {"t0": {0}, "t1": {0, 1}}, "C2": {"t2": {0, 1, 2}}})
}

// ConstrainedAssignmentBuilder's quotas: 7 partitions over 3 members is 3, 2
// and 2. The first member (in member order) owning at least 3 keeps 3, the
// lowest partitions; the next keeps 2; the newcomer gets what they give up.
func TestStickyQuotas(t *testing.T) {
	t7 := map[string]int32{"t": 7}
	members := []Member{
		owning(sub("a", "t"), 3, map[string][]int32{"t": {0, 1, 2, 3}}),
		owning(sub("b", "t"), 3, map[string][]int32{"t": {4, 5, 6}}),
		sub("c", "t"),
	}
	want := plan{"a": {"t": {0, 1, 2}}, "b": {"t": {4, 5}}, "c": {"t": {3, 6}}}
	checkPlan(t, Sticky(), members, t7, want)
	// Cooperative: a's 3 and b's 6 change owner, so c waits for them.
	checkPlan(t, CooperativeSticky(), members, t7, plan{"a": {"t": {0, 1, 2}}, "b": {"t": {4, 5}}, "c": {}})
}

// KIP-341 and KIP-792: of two members claiming a partition, the one with the
// higher generation owned it; at equal generations neither is believed.
func TestStickyGenerations(t *testing.T) {
	parts := map[string]int32{"t": 2}
	stale := []Member{
		owning(sub("a", "t"), 4, map[string][]int32{"t": {0, 1}}), // missed a rebalance
		owning(sub("b", "t"), 5, map[string][]int32{"t": {1}}),
	}
	checkPlan(t, Sticky(), stale, parts, plan{"a": {"t": {0}}, "b": {"t": {1}}})
	// b's claim wins even over a's, so a keeps 0 and revokes 1.
	checkPlan(t, CooperativeSticky(), stale, parts, plan{"a": {"t": {0}}, "b": {"t": {1}}})

	// Swap the generations: a owned both, and b's claim on 1 is stale.
	// Balance gives b one partition; b may not simply take 1 as its own:
	// a still consumes it (kgo's AdjustCooperative, KIP-792).
	stale[0].Generation, stale[1].Generation = 5, 4
	checkPlan(t, Sticky(), stale, parts, plan{"a": {"t": {0}}, "b": {"t": {1}}})
	checkPlan(t, CooperativeSticky(), stale, parts, plan{"a": {"t": {0}}, "b": {}})

	tied := []Member{
		owning(sub("a", "t"), 5, map[string][]int32{"t": {0, 1}}),
		owning(sub("b", "t"), 5, map[string][]int32{"t": {1}}),
	}
	// Nobody owned 1; a keeps 0 and 1 goes to b, but both claim it, so
	// the cooperative assignor waits until a has revoked it.
	checkPlan(t, Sticky(), tied, parts, plan{"a": {"t": {0}}, "b": {"t": {1}}})
	checkPlan(t, CooperativeSticky(), tied, parts, plan{"a": {"t": {0}}, "b": {}})
}

// KIP-429's example: a member joins a group of one; the first rebalance
// only revokes, the second hands over.
func TestCooperativeTwoRebalances(t *testing.T) {
	parts := map[string]int32{"t": 4}
	cs := CooperativeSticky()
	a := owning(sub("a", "t"), 1, map[string][]int32{"t": {0, 1, 2, 3}})
	b := sub("b", "t")
	first := cs.Assign([]Member{a, b}, parts)
	if want := (plan{"a": {"t": {0, 1}}, "b": {}}); !reflect.DeepEqual(first, want) {
		t.Fatalf("first rebalance %v, want %v", first, want)
	}
	if got := Revoked(a.Owned, first["a"]); !reflect.DeepEqual(got, map[string][]int32{"t": {2, 3}}) {
		t.Fatalf("a revokes %v", got)
	}
	if got := Revoked(first["a"], first["a"]); got != nil {
		t.Fatalf("nothing to revoke, got %v", got)
	}
	// Both rejoin with what they now own, at generation 2.
	second := cs.Assign([]Member{owning(a, 2, first["a"]), owning(b, 2, first["b"])}, parts)
	if want := (plan{"a": {"t": {0, 1}}, "b": {"t": {2, 3}}}); !reflect.DeepEqual(second, want) {
		t.Fatalf("second rebalance %v, want %v", second, want)
	}
}

// A member that stops subscribing to a topic gives it up; under cooperative
// rebalancing nobody takes it until the member has revoked it.
func TestStickySubscriptionChange(t *testing.T) {
	parts := map[string]int32{"t": 2, "u": 2}
	members := []Member{
		owning(sub("a", "u"), 3, map[string][]int32{"t": {0, 1}}),
		owning(sub("b", "t", "u"), 3, map[string][]int32{"u": {0, 1}}),
	}
	checkPlan(t, Sticky(), members, parts, plan{"a": {"u": {0, 1}}, "b": {"t": {0, 1}}})
	// b keeps u (a cannot take it until b revokes it), and t waits for a.
	checkPlan(t, CooperativeSticky(), members, parts, plan{"a": {}, "b": {}})
}

// A member id the coordinator lists twice counts once.
func TestDuplicateMember(t *testing.T) {
	for _, a := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()} {
		checkPlan(t, a, []Member{sub("a", "t"), sub("a", "t"), sub("b", "t")}, map[string]int32{"t": 2},
			plan{"a": {"t": {0}}, "b": {"t": {1}}})
	}
}

func TestByName(t *testing.T) {
	for _, name := range []string{"range", "roundrobin", "sticky", "cooperative-sticky"} {
		if a, ok := ByName(name); !ok || a.Name() != name {
			t.Errorf("ByName(%q) = %v, %v", name, a, ok)
		}
	}
	if _, ok := ByName("uniform"); ok {
		t.Error("uniform is a server-side (KIP-848) assignor")
	}
}

// Member ids order as Java strings: by UTF-16 code units.
func TestJavaOrder(t *testing.T) {
	emoji, replacement := "\U0001F600", "\uFFFD" // Go's byte order puts U+FFFD first
	got := Range().Assign([]Member{sub(replacement, "t"), sub(emoji, "t")}, map[string]int32{"t": 1})
	if len(got[emoji]["t"]) != 1 {
		t.Errorf("Java sorts %q (surrogates D83D DE00) before U+FFFD: %v", emoji, got)
	}
}

func TestEmpty(t *testing.T) {
	for _, a := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()} {
		if got := a.Assign(nil, map[string]int32{"t": 3}); len(got) != 0 {
			t.Errorf("%s with no members: %v", a.Name(), got)
		}
		got := a.Assign([]Member{sub("a"), sub("b", "gone")}, map[string]int32{"t": 3})
		if want := (plan{"a": {}, "b": {}}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s with nothing to assign: %v", a.Name(), got)
		}
	}
}

// The general case (subscriptions differ) on a bigger group stays fast
// enough for a browser frame.
func BenchmarkStickyGeneral(b *testing.B) {
	parts := map[string]int32{}
	var members []Member
	for i := range 20 {
		parts[fmt.Sprint("t", i)] = 50
	}
	topics := slices.Sorted(maps.Keys(parts))
	for i := range 50 {
		members = append(members, sub(fmt.Sprint("m", i), topics[i%20:min(20, i%20+8)]...))
	}
	for b.Loop() {
		Sticky().Assign(members, parts)
	}
}
