package client

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// A consumer that crashes after committing starts again, in a new
// process, from the committed offsets: nothing is processed twice, nothing
// is skipped.
func TestGroupResumesFromCommittedOffsets(t *testing.T) {
	gc := newGroupCluster(t, 11)
	gc.createTopic("t", 3)
	id := core.ClientIDBase + 1
	a := gc.consumer(id, ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest", Commit: CommitAfterProcessing})
	gc.produce("t", 50)
	gc.until("processed and committed", 60000, func() bool { return len(gc.delivered["g"]) == 50 && settled(a) })
	committed := map[TopicPartition]int64{}
	for _, k := range a.Assignment() {
		committed[k], _ = a.Committed(k.Topic, k.Partition)
	}
	gc.crash(id)
	gc.produce("t", 50)
	a = gc.restart(id)
	gc.until("processed", 60000, func() bool { return len(gc.delivered["g"]) >= 100 })
	gc.s.RunFor(2000)
	seen := map[string]int{}
	for _, r := range gc.delivered["g"] {
		seen[string(r.Value)]++
	}
	if len(gc.delivered["g"]) != 100 || len(seen) != 100 {
		t.Fatalf("processed %d records, %d distinct", len(gc.delivered["g"]), len(seen))
	}
	first := map[TopicPartition]int64{}
	for _, r := range a.Processed() {
		k := TopicPartition{r.Topic, r.Partition}
		if _, ok := first[k]; !ok {
			first[k] = r.Offset
		}
	}
	for k, off := range first {
		if off != committed[k] {
			t.Fatalf("%v: the new process started at %d, committed %d", k, off, committed[k])
		}
	}
}

// auto.offset.reset decides where a group without committed offsets
// starts: earliest reads what is there, latest only what comes next, none
// stops with NoOffsetForPartitionException until the application seeks.
func TestGroupAutoOffsetReset(t *testing.T) {
	gc := newGroupCluster(t, 12)
	gc.createTopic("t", 2)
	gc.produce("t", 10)
	e := gc.consumer(core.ClientIDBase+1, ConsumerConfig{GroupID: "early", Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	l := gc.consumer(core.ClientIDBase+2, ConsumerConfig{GroupID: "late", Topics: []string{"t"}, AutoOffsetReset: "latest"})
	n := gc.consumer(core.ClientIDBase+3, ConsumerConfig{GroupID: "none", Topics: []string{"t"}, AutoOffsetReset: "none"})
	gc.until("stable", 60000, func() bool {
		_, ok := l.Position("t", 1)
		return stable(e) && stable(l) && stable(n) && len(n.Assignment()) == 2 && ok && len(gc.delivered["early"]) == 10
	})
	gc.produce("t", 5)
	gc.until("processed", 20000, func() bool { return len(gc.delivered["late"]) == 5 && len(gc.delivered["early"]) == 15 })
	if len(gc.delivered["none"]) != 0 {
		t.Fatalf("none processed %d", len(gc.delivered["none"]))
	}
	var failed []core.ConsumeFailed
	for _, o := range gc.events {
		if f, ok := o.Event.(core.ConsumeFailed); ok && o.Node == n.ID() {
			failed = append(failed, f)
		}
	}
	if len(failed) != 2 || !strings.Contains(failed[0].Error, "NoOffsetForPartitionException") {
		t.Fatalf("none: %+v", failed)
	}
	if _, ok := n.Position("t", 0); ok {
		t.Fatal("none has a position")
	}
	for p := int32(0); p < 2; p++ {
		if err := n.Seek("t", p, 0); err != nil {
			t.Fatal(err)
		}
	}
	gc.until("after seek", 20000, func() bool { return len(gc.delivered["none"]) == 15 })
}

// Commit modes: auto commit commits every auto.commit.interval.ms; the
// at-least-once and at-most-once applications commit around every poll.
func TestGroupCommitModes(t *testing.T) {
	gc := newGroupCluster(t, 13)
	gc.createTopic("t", 1)
	modes := map[string]CommitMode{"auto": CommitAuto, "after": CommitAfterProcessing, "before": CommitBeforeProcessing, "manual": CommitManual}
	cs := map[string]*Consumer{}
	id := core.ClientIDBase
	for _, g := range []string{"auto", "after", "before", "manual"} {
		id++
		cs[g] = gc.consumer(id, ConsumerConfig{GroupID: g, Topics: []string{"t"}, AutoOffsetReset: "earliest", Commit: modes[g], ProcessingDelayMs: 10})
	}
	gc.until("stable", 60000, func() bool { return stable(cs["auto"]) && stable(cs["manual"]) })
	for range 10 {
		gc.produce("t", 1)
		gc.s.RunFor(1000)
	}
	gc.s.RunFor(6000)
	commits := map[string][]int64{}
	for _, o := range gc.events {
		if e, ok := o.Event.(core.OffsetCommitted); ok {
			commits[e.Group] = append(commits[e.Group], e.Offset)
		}
	}
	// One record a second: the applications commit after each one, auto
	// commit every 5 s, manual never.
	if n := len(commits["after"]); n < 10 || commits["after"][n-1] != 10 {
		t.Fatalf("after: %v", commits["after"])
	}
	if n := len(commits["before"]); n < 10 || commits["before"][n-1] != 10 {
		t.Fatalf("before: %v", commits["before"])
	}
	if n := len(commits["auto"]); n < 2 || n > 4 || commits["auto"][n-1] != 10 {
		t.Fatalf("auto: %v", commits["auto"])
	}
	if len(commits["manual"]) != 0 {
		t.Fatalf("manual: %v", commits["manual"])
	}
	cs["manual"].Commit()
	gc.s.RunFor(1000)
	if c, ok := cs["manual"].Committed("t", 0); !ok || c != 10 {
		t.Fatalf("manual commit: %d %v", c, ok)
	}
}

// An application that does not poll for max.poll.interval.ms is put out of
// the group by its own consumer (LeaveGroup, as Java's heartbeat thread
// does); its partitions go to the others. When it polls again it has lost
// them, rejoins, and its late commit fails.
func TestGroupPollTimeoutLeavesGroup(t *testing.T) {
	gc := newGroupCluster(t, 14)
	gc.createTopic("t", 2)
	slow := gc.consumer(core.ClientIDBase+1, ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest",
		Commit: CommitAfterProcessing, ProcessingDelayMs: 2000, MaxPollIntervalMs: 15000, PartitionAssignmentStrategy: []string{"range"}})
	fast := gc.consumer(core.ClientIDBase+2, ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest",
		Commit: CommitAfterProcessing, MaxPollIntervalMs: 15000, PartitionAssignmentStrategy: []string{"range"}})
	gc.until("stable", 60000, func() bool { return stable(slow, fast) && len(slow.Assignment()) == 1 })
	mine := slow.Assignment()[0]
	gc.produce("t", 0)
	for i := range 40 {
		gc.prod.Send(Record{Topic: mine.Topic, Partition: mine.Partition, Value: []byte{byte(i)}})
	}
	gc.until("left", 40000, func() bool {
		return len(groupEvents(gc, func(e core.MemberLeft) bool { return strings.Contains(e.Reason, "consumer poll timeout has expired") })) == 1
	})
	gc.until("fast takes over", 30000, func() bool { return len(fast.Assignment()) == 2 && stable(fast) })
	gc.until("slow is back", 120000, func() bool { return stable(slow, fast) && len(slow.Assignment()) == 1 })
	rbs := slow.Rebalances()
	if last := rbs[len(rbs)-1]; len(last.Lost) != 1 {
		t.Fatalf("slow: %+v", rbs)
	}
	if slow.Stats().CommitFailures == 0 {
		t.Fatal("the slow consumer's commit did not fail")
	}
	if n := len(sentBy[*kmsg.LeaveGroupRequest](gc, slow.ID())); n != 1 {
		t.Fatalf("%d LeaveGroups", n)
	}
}

// assign() with a group.id: no membership, but committed offsets (generation
// -1): a new process goes on where the last one committed.
func TestGroupAssignModeCommits(t *testing.T) {
	gc := newGroupCluster(t, 15)
	gc.createTopic("t", 2)
	id := core.ClientIDBase + 1
	a := gc.consumer(id, ConsumerConfig{GroupID: "manual", Partitions: []TopicPartition{{"t", 0}, {"t", 1}},
		AutoOffsetReset: "earliest", Commit: CommitAfterProcessing})
	gc.produce("t", 20)
	gc.until("processed", 30000, func() bool { return len(gc.delivered["manual"]) == 20 && settled(a) })
	if a.GroupState() != "" || a.MemberID() != "" || len(sentBy[*kmsg.JoinGroupRequest](gc, id)) != 0 {
		t.Fatalf("assign mode joined: %q %q", a.GroupState(), a.MemberID())
	}
	for _, e := range groupEvents(gc, func(e core.OffsetCommitted) bool { return e.Group == "manual" }) {
		if e.Generation != -1 || e.MemberID != "" {
			t.Fatalf("commit %+v", e)
		}
	}
	gc.crash(id)
	gc.produce("t", 10)
	gc.restart(id)
	gc.until("processed", 30000, func() bool { return len(gc.delivered["manual"]) >= 30 })
	gc.s.RunFor(2000)
	if n := len(gc.delivered["manual"]); n != 30 {
		t.Fatalf("processed %d, want 30", n)
	}
}
