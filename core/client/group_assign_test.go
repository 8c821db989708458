package client

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/assign"
)

// ownedBy maps each partition to the members holding it.
func ownedBy(cs []*Consumer) map[TopicPartition][]string {
	out := map[TopicPartition][]string{}
	for _, c := range cs {
		for _, k := range c.Assignment() {
			out[k] = append(out[k], c.MemberID())
		}
	}
	return out
}

// Two and three members split the partitions of two topics as each
// assignor says: every partition has one owner, the load is balanced, and
// range and roundrobin give exactly what core/assign computes for the
// members' ids.
func TestGroupSplitsPartitionsPerAssignor(t *testing.T) {
	gc := newGroupCluster(t, 2)
	gc.createTopic("t", 5)
	gc.createTopic("u", 2)
	id := core.ClientIDBase + 10
	for _, strategy := range []string{"range", "roundrobin", "sticky", "cooperative-sticky"} {
		for _, n := range []int{2, 3} {
			group := fmt.Sprintf("%s-%d", strategy, n)
			var cs []*Consumer
			for range n {
				id++
				cs = append(cs, gc.consumer(id, ConsumerConfig{GroupID: group, Topics: []string{"t", "u"},
					PartitionAssignmentStrategy: []string{strategy}, AutoOffsetReset: "earliest"}))
			}
			gc.until(group+" stable", 120000, func() bool { return stable(cs...) && len(ownedBy(cs)) == 7 })
			owners := ownedBy(cs)
			var loads []int
			var members []assign.Member
			got := map[string]map[string][]int32{}
			for _, c := range cs {
				loads = append(loads, len(c.Assignment()))
				members = append(members, assign.Member{ID: c.MemberID(), Topics: []string{"t", "u"}, Generation: -1})
				got[c.MemberID()] = map[string][]int32{}
				for _, k := range c.Assignment() {
					got[c.MemberID()][k.Topic] = append(got[c.MemberID()][k.Topic], k.Partition)
				}
				if c.Protocol() != strategy {
					t.Fatalf("%s: protocol %s", group, c.Protocol())
				}
			}
			for k, o := range owners {
				if len(o) != 1 {
					t.Fatalf("%s: %v owned by %v", group, k, o)
				}
			}
			if slices.Max(loads)-slices.Min(loads) > 1 && strategy != "range" {
				t.Fatalf("%s: unbalanced %v", group, loads)
			}
			if strategy == "range" || strategy == "roundrobin" {
				a, _ := assign.ByName(strategy)
				want := a.Assign(members, map[string]int32{"t": 5, "u": 2})
				for m := range want {
					for t := range want[m] {
						if len(want[m][t]) == 0 {
							delete(want[m], t)
						}
					}
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: got %v, want %v", group, got, want)
				}
			}
			t.Logf("%s: loads %v, generation %d", group, loads, cs[0].Generation())
			for _, c := range cs {
				c.Close()
			}
		}
	}
}

// More members than partitions: the extra members are in the group,
// STABLE, with nothing to consume.
func TestGroupMoreMembersThanPartitions(t *testing.T) {
	gc := newGroupCluster(t, 3)
	gc.createTopic("t", 2)
	var cs []*Consumer
	for i := range 4 {
		cs = append(cs, gc.consumer(core.ClientIDBase+1+core.NodeID(i), ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest"}))
	}
	gc.until("stable", 60000, func() bool { return stable(cs...) && len(ownedBy(cs)) == 2 })
	idle := 0
	for _, c := range cs {
		if len(c.Assignment()) == 0 {
			idle++
		}
	}
	if idle != 2 {
		t.Fatalf("%d idle members, want 2", idle)
	}
	gc.produce("t", 20)
	gc.until("processed", 10000, func() bool { return len(gc.delivered["g"]) == 20 })
}

// Two groups read the same topic independently: each processes every
// record once.
func TestGroupsReadIndependently(t *testing.T) {
	gc := newGroupCluster(t, 4)
	gc.createTopic("t", 3)
	for i, g := range []string{"billing", "audit", "billing", "audit"} {
		gc.consumer(core.ClientIDBase+1+core.NodeID(i), ConsumerConfig{GroupID: g, Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	}
	gc.produce("t", 60)
	gc.until("processed", 60000, func() bool { return len(gc.delivered["billing"]) == 60 && len(gc.delivered["audit"]) == 60 })
	gc.s.RunFor(5000)
	for _, g := range []string{"billing", "audit"} {
		seen := map[string]bool{}
		for _, r := range gc.delivered[g] {
			seen[string(r.Value)] = true
		}
		if len(seen) != 60 || len(gc.delivered[g]) != 60 {
			t.Fatalf("%s: %d distinct of %d processed", g, len(seen), len(gc.delivered[g]))
		}
	}
}

// rebalanceOnJoin starts a with four partitions to itself, then b joins;
// it returns their rebalances after a's first.
func rebalanceOnJoin(t *testing.T, strategy string) (gc *groupCluster, a, b *Consumer, ra, rb []Rebalance) {
	gc = newGroupCluster(t, 5)
	gc.createTopic("t", 4)
	cfg := ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest", PartitionAssignmentStrategy: []string{strategy}}
	a = gc.consumer(core.ClientIDBase+1, cfg)
	gc.until("a stable", 60000, func() bool { return stable(a) && len(a.Assignment()) == 4 })
	gc.produce("t", 40)
	first := len(a.Rebalances())
	b = gc.consumer(core.ClientIDBase+2, cfg)
	gc.until("both stable", 60000, func() bool { return stable(a, b) && len(a.Assignment()) == 2 && len(b.Assignment()) == 2 })
	gc.until("processed", 10000, func() bool { return len(gc.delivered["g"]) >= 40 })
	return gc, a, b, a.Rebalances()[first:], b.Rebalances()
}

// Cooperative-sticky (KIP-429): b joining takes two rebalances. In the
// first, a keeps two partitions, revokes only the two that move and b gets
// nothing; a rejoins at once and the second hands them to b. a never gives
// up the partitions it keeps.
func TestGroupCooperativeMovesOnlyWhatItMust(t *testing.T) {
	_, a, _, ra, rb := rebalanceOnJoin(t, "cooperative-sticky")
	if len(ra) != 2 {
		t.Fatalf("a went through %d rebalances, want 2: %+v", len(ra), ra)
	}
	kept := a.Assignment()
	if len(ra[0].Revoked) != 2 || len(ra[0].Assigned) != 2 || len(ra[0].Added) != 0 || len(ra[0].Lost) != 0 {
		t.Fatalf("first rebalance of a: %+v", ra[0])
	}
	if !reflect.DeepEqual(ra[0].Assigned, kept) || len(ra[1].Revoked) != 0 || !reflect.DeepEqual(ra[1].Assigned, kept) {
		t.Fatalf("a: %+v, then %+v; keeps %v", ra[0], ra[1], kept)
	}
	if ra[1].Generation != ra[0].Generation+1 {
		t.Fatalf("generations %d then %d", ra[0].Generation, ra[1].Generation)
	}
	last := rb[len(rb)-1]
	if !reflect.DeepEqual(last.Added, ra[0].Revoked) || last.Generation != ra[1].Generation {
		t.Fatalf("b got %+v, a revoked %v", last, ra[0].Revoked)
	}
	if len(rb) != 2 || len(rb[0].Assigned) != 0 {
		t.Fatalf("b: %+v", rb)
	}
	t.Logf("a revoked %v in generation %d; b got them in generation %d", ra[0].Revoked, ra[0].Generation, last.Generation)
}

// Eager protocols revoke everything before rejoining: one rebalance, in
// which a gives up all four partitions and gets two back.
func TestGroupEagerRevokesEverything(t *testing.T) {
	for _, strategy := range []string{"range", "sticky"} {
		t.Run(strategy, func(t *testing.T) {
			_, a, _, ra, rb := rebalanceOnJoin(t, strategy)
			if len(ra) != 1 || len(ra[0].Revoked) != 4 || len(ra[0].Added) != 2 || !reflect.DeepEqual(ra[0].Assigned, a.Assignment()) {
				t.Fatalf("a: %+v", ra)
			}
			if len(rb) != 1 || len(rb[0].Added) != 2 {
				t.Fatalf("b: %+v", rb)
			}
		})
	}
}

// A static member (group.instance.id, KIP-345) restarted within
// session.timeout.ms gets its partitions back with no rebalance: the
// generation does not move. Closing a static member sends no LeaveGroup.
func TestGroupStaticMemberRestart(t *testing.T) {
	gc := newGroupCluster(t, 6)
	gc.createTopic("t", 4)
	var cs []*Consumer
	for i, inst := range []string{"a", "b"} {
		cs = append(cs, gc.consumer(core.ClientIDBase+1+core.NodeID(i), ConsumerConfig{GroupID: "g", GroupInstanceID: inst, Topics: []string{"t"},
			AutoOffsetReset: "earliest", Commit: CommitAfterProcessing}))
	}
	gc.until("stable", 60000, func() bool { return stable(cs...) && len(ownedBy(cs)) == 4 })
	gen, before, oldID := cs[0].Generation(), cs[0].Assignment(), cs[0].MemberID()
	gc.produce("t", 20)
	gc.until("processed and committed", 10000, func() bool {
		return len(gc.delivered["g"]) == 20 && settled(cs[0]) && settled(cs[1])
	})
	mark := len(gc.events)
	gc.crash(cs[0].ID())
	gc.s.RunFor(3000)
	a := gc.restart(cs[0].ID())
	gc.until("back", 30000, func() bool { return stable(a) && len(a.Assignment()) == len(before) })
	gc.produce("t", 20)
	gc.until("processed", 20000, func() bool { return len(gc.delivered["g"]) >= 40 })
	gc.s.RunFor(1000)
	if n := len(gc.delivered["g"]); n != 40 {
		t.Fatalf("%d records processed, want 40", n)
	}
	if a.Generation() != gen || cs[1].Generation() != gen || !reflect.DeepEqual(a.Assignment(), before) || a.MemberID() == oldID {
		t.Fatalf("generation %d -> %d, assignment %v -> %v, member %s -> %s", gen, a.Generation(), before, a.Assignment(), oldID, a.MemberID())
	}
	for _, o := range gc.events[mark:] {
		if e, ok := o.Event.(core.GroupStateChanged); ok && e.Group == "g" {
			t.Fatalf("the group rebalanced: %+v", e)
		}
	}
	a.Close()
	gc.s.RunFor(2000)
	if n := len(sentBy[*kmsg.LeaveGroupRequest](gc, a.ID())); n != 0 {
		t.Fatalf("a static member sent %d LeaveGroups", n)
	}
	// Its partitions wait for it until its session times out; then b gets
	// everything.
	gc.until("b alone", 30000, func() bool { return len(cs[1].Assignment()) == 4 && stable(cs[1]) })
}

// Two processes with the same group.instance.id: the newer one fences the
// older, which stops with FENCED_INSTANCE_ID.
func TestGroupFencedInstance(t *testing.T) {
	gc := newGroupCluster(t, 7)
	gc.createTopic("t", 2)
	cfg := ConsumerConfig{GroupID: "g", GroupInstanceID: "same", Topics: []string{"t"}, AutoOffsetReset: "earliest"}
	old := gc.consumer(core.ClientIDBase+1, cfg)
	gc.until("stable", 60000, func() bool { return stable(old) })
	cur := gc.consumer(core.ClientIDBase+2, cfg)
	gc.until("fenced", 30000, func() bool { return old.GroupError() != "" && stable(cur) && len(cur.Assignment()) == 2 })
	if old.GroupError() != "FENCED_INSTANCE_ID" || len(old.Assignment()) != 0 {
		t.Fatalf("old: %q, %v", old.GroupError(), old.Assignment())
	}
}

// A group run replays exactly: the same seed gives the same events, the
// same member ids, the same rebalances.
func TestGroupRunReplays(t *testing.T) {
	run := func() string {
		gc, a, b, _, _ := rebalanceOnJoin(t, "cooperative-sticky")
		gc.crash(a.ID())
		gc.s.RunFor(15000)
		var out strings.Builder
		for _, o := range gc.events {
			switch o.Event.(type) {
			case core.MessageSent, core.MessageDelivered, core.MessageDropped:
				continue
			}
			fmt.Fprintf(&out, "%d %d %T %+v\n", o.Time, o.Node, o.Event, o.Event)
		}
		fmt.Fprintf(&out, "%s %d %v", b.MemberID(), b.Generation(), b.Rebalances())
		return out.String()
	}
	if first, second := run(), run(); first != second {
		t.Fatal("two runs with the same seed differ")
	}
}
