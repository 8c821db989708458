package lab

import (
	"fmt"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// The lessons' steps, driven as a learner on the page would: each step's
// check must stay false until its action was done (the negative control),
// then turn true by itself. The page (ui/lessontext.go) uses the same
// checks in the same order.

// reach runs the lab until n steps are done, failing after maxMs.
func reach(t *testing.T, l *Lab, pr *Progress, n int, maxMs int64) {
	t.Helper()
	for waited := int64(0); pr.Update() < n; waited += 100 {
		if waited > maxMs {
			t.Fatalf("after %d ms: %d steps done, want %d", maxMs, pr.Done(), n)
		}
		l.Advance(100)
	}
}

// stays runs the lab for ms and fails if more than n steps got done.
func stays(t *testing.T, l *Lab, pr *Progress, n int, ms int64) {
	t.Helper()
	for waited := int64(0); waited < ms; waited += 100 {
		if got := pr.Update(); got != n {
			t.Fatalf("%d steps done before the learner acted, want %d", got, n)
		}
		l.Advance(100)
	}
}

func pageLab(t *testing.T) *Lab {
	t.Helper()
	l := New(Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000})
	if !l.TopicReady() {
		t.Fatal("the cluster did not come up")
	}
	return l
}

func produceTen(l *Lab) {
	for i := range 10 {
		l.Produce([]byte(fmt.Sprint("user-", i)), []byte(fmt.Sprint("v", i)))
	}
}

func TestLessonKeysAndPartitions(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{KeyAcked("user-1", 1), KeysSpread(2), All(KeyAcked("user-1", 2), KeyInOrder("user-1")), KeyConsumed("user-1", 2)})
	stays(t, l, pr, 0, 2000)
	l.Produce([]byte("carol"), []byte("x")) // partition 2, as user-1
	stays(t, l, pr, 0, 2000)
	l.Produce([]byte("user-1"), []byte("a"))
	reach(t, l, pr, 1, 5000)
	stays(t, l, pr, 1, 1000)
	l.Produce([]byte("user-2"), []byte("b")) // partition 2 again
	stays(t, l, pr, 1, 2000)
	l.Produce([]byte("alice"), []byte("b")) // partition 3
	reach(t, l, pr, 2, 5000)
	l.Produce([]byte("user-1"), []byte("c"))
	reach(t, l, pr, 4, 10000)
}

func TestLessonOffsetsAndRetention(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{AckedSince(client.AcksAll, 10), LogStartMoved, AckedPastLogStart})
	l.Produce([]byte("user-1"), []byte("a"))
	stays(t, l, pr, 0, 2000)
	produceTen(l)
	reach(t, l, pr, 1, 10000)
	stays(t, l, pr, 1, 2000) // the followers learn the high watermark: retention deletes only below it
	l.Skip(7 * 24 * 3600 * 1000)
	reach(t, l, pr, 2, 60000)
	stays(t, l, pr, 2, 1000)
	l.Produce([]byte("user-1"), []byte("b"))
	reach(t, l, pr, 3, 60000)
}

func TestLessonReplicasAndISR(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{FullyReplicated, ISRShrunk, All(AckedSince(client.AcksAll, 1), ISRShrunk), AllInSync})
	stays(t, l, pr, 0, 2000)
	l.Produce([]byte("user-1"), []byte("a"))
	reach(t, l, pr, 1, 5000)
	stays(t, l, pr, 1, 2000)
	l.PauseBroker(2)
	stays(t, l, pr, 1, 5000) // broker.session.timeout.ms not over yet
	reach(t, l, pr, 2, 20000)
	stays(t, l, pr, 2, 1000)
	produceTen(l)
	reach(t, l, pr, 3, 20000)
	stays(t, l, pr, 3, 2000)
	l.ResumeBroker(2)
	reach(t, l, pr, 4, 40000)
}

func TestLessonLeaderDies(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{KeyAcked("user-1", 1), KeyLeaderDown("user-1"), KeyLeaderEpochRose("user-1"),
		All(AllInSync, NoneLost(client.AcksAll))})
	l.Produce([]byte("user-1"), []byte("a"))
	reach(t, l, pr, 1, 5000)
	stays(t, l, pr, 1, 1000)
	leader, _ := l.Leader(l.PartitionFor([]byte("user-1")))
	for _, id := range l.BrokerIDs() {
		if id != core.NodeID(leader) {
			l.KillBroker(id) // not the leader: nothing to see yet
			l.Advance(100)
			if pr.Update() != 1 {
				t.Fatalf("killing follower %d completed the step", id)
			}
			l.RestartBroker(id)
			break
		}
	}
	l.Advance(20000)
	killed := l.Now()
	l.KillBroker(core.NodeID(leader))
	reach(t, l, pr, 2, 100)
	stays(t, l, pr, 2, 4000) // broker.session.timeout.ms (9 s) not over yet
	reach(t, l, pr, 3, 15000)
	if took := l.Now() - killed; took < 5000 {
		t.Errorf("new leader after %d ms: before the session timeout", took)
	}
	stays(t, l, pr, 3, 2000)
	l.RestartBroker(core.NodeID(leader))
	reach(t, l, pr, 4, 40000)
}

func TestLessonAcks1Loses(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{AcksIs(client.AcksLeader), AnyIsolated, All(AckedSince(client.AcksLeader, 1), AnyIsolated),
		SomeLost(client.AcksLeader), All(AcksIs(client.AcksAll), AckedSince(client.AcksAll, 1), NoneLost(client.AcksAll))})
	stays(t, l, pr, 0, 1000)
	l.SetAcks(client.AcksLeader)
	reach(t, l, pr, 1, 100)
	stays(t, l, pr, 1, 1000)
	leader, _ := l.Leader(l.PartitionFor([]byte("user-1")))
	l.Isolate(core.NodeID(leader))
	reach(t, l, pr, 2, 100)
	stays(t, l, pr, 2, 1000)
	produceTen(l)
	reach(t, l, pr, 3, 5000)
	stays(t, l, pr, 3, 3000) // the isolated leader is still the leader
	reach(t, l, pr, 4, 30000)
	l.Heal(core.NodeID(leader))
	l.Advance(5000)
	stays(t, l, pr, 4, 1000)
	l.SetAcks(client.AcksAll)
	stays(t, l, pr, 4, 1000)
	produceTen(l)
	reach(t, l, pr, 5, 30000)
}

func TestLessonGroups(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{GroupSplit(1), GroupSplit(2), GroupsSplit(2)})
	stays(t, l, pr, 0, 1000)
	if err := l.AddGroup(GroupConfig{Name: "scores", SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 1, 20000)
	stays(t, l, pr, 1, 2000)
	if _, err := l.AddMember("scores"); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 2, 20000)
	stays(t, l, pr, 2, 2000)
	if err := l.AddGroup(GroupConfig{Name: "audit", SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 3, 20000)
}

func TestLessonRebalance(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{GroupSplit(2, EagerAssignors...), GroupGrew(1, EagerAssignors...),
		GroupSplit(2, CooperativeAssignors...), GroupGrew(2, CooperativeAssignors...)})
	if err := l.AddGroup(GroupConfig{Name: "coop", Assignor: "cooperative-sticky", SessionTimeoutMs: 10000, Members: 2}); err != nil {
		t.Fatal(err)
	}
	stays(t, l, pr, 0, 8000) // a cooperative group is not the first step's
	if err := l.AddGroup(GroupConfig{Name: "scores", SessionTimeoutMs: 10000, Members: 2}); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 1, 20000)
	stays(t, l, pr, 1, 2000)
	if _, err := l.AddMember("scores"); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 3, 20000) // the cooperative group was there already
	stays(t, l, pr, 3, 2000)
	if _, err := l.AddMember("coop"); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 4, 20000)
	if g := groupView(t, l, "coop"); g.Generation < 3 {
		t.Errorf("cooperative group at generation %d after a join", g.Generation)
	}
}

func TestLessonCommits(t *testing.T) {
	l := pageLab(t)
	pr := NewProgress(l, []Check{GroupCommitted(client.CommitAfterProcessing), GroupTookOver(client.CommitAfterProcessing),
		GroupTookOver(client.CommitBeforeProcessing)})
	produceTen(l)
	if err := l.AddGroup(GroupConfig{Name: "auto", SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	stays(t, l, pr, 0, 8000) // auto commit is not the step's mode
	if err := l.AddGroup(GroupConfig{Name: "after", Commit: client.CommitAfterProcessing, ProcessingDelayMs: 500,
		SessionTimeoutMs: 10000, Members: 2}); err != nil {
		t.Fatal(err)
	}
	reach(t, l, pr, 1, 20000)
	stays(t, l, pr, 1, 2000)
	crash := func(group string) {
		for _, m := range groupView(t, l, group).Members {
			l.CrashMember(m.ID)
			return
		}
	}
	crash("after")
	stays(t, l, pr, 1, 5000) // session.timeout.ms not over yet
	reach(t, l, pr, 2, 30000)
	if err := l.AddGroup(GroupConfig{Name: "before", Commit: client.CommitBeforeProcessing, ProcessingDelayMs: 500,
		SessionTimeoutMs: 10000, Members: 2}); err != nil {
		t.Fatal(err)
	}
	l.Advance(8000)
	stays(t, l, pr, 2, 1000)
	crash("before")
	reach(t, l, pr, 3, 30000)
}
