package server_test

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/storage"
)

// Three servers elect a controller, register and get unfenced; a topic
// created through any broker gets RF 3 replicas on all of them, and acks=all
// records reach every replica.
func TestClusterComesUpAndReplicates(t *testing.T) {
	c := newCluster(t, 1)
	t.Logf("up after %d ms", c.s.Now()-c.events[0].Time)
	c.createTopic("t", 3, nil)
	p := c.producer(core.ClientIDBase, client.AcksAll)
	for i := 0; i < 300; i++ {
		p.Send(client.Record{Topic: "t", Partition: client.AnyPartition, Key: value("k", i), Value: value("v", i)})
	}
	if !c.s.RunUntil(func() bool { return len(c.acked) == 300 }, 30000) {
		t.Fatalf("%d of 300 acknowledged; failed: %v", len(c.acked), c.failed)
	}
	c.s.RunFor(2000)
	for part := int32(0); part < 3; part++ {
		leader := c.leader("t", part)
		want := c.values(core.NodeID(leader), "t", part)
		if len(want) == 0 {
			t.Errorf("partition %d is empty", part)
		}
		for _, id := range c.ids {
			info, _ := c.servers[id].Broker().Partition("t", part)
			if got := c.values(id, "t", part); !slices.Equal(got, want) || len(info.Replicas) != 3 {
				t.Errorf("partition %d on broker %d: %d records (leader %d has %d), replicas %v", part, id, len(got), leader, len(want), info.Replicas)
			}
		}
	}
}

// When a partition leader's process dies, the controller fences it after
// broker.session.timeout.ms and elects the next in-sync replica with a
// higher leader epoch; the producer follows it and nothing acknowledged is
// lost.
func TestLeaderCrashFailsOver(t *testing.T) {
	c := newCluster(t, 2)
	c.createTopic("t", 1, map[string]string{"min.insync.replicas": "2"})
	p := c.producer(core.ClientIDBase, client.AcksAll)
	for i := 0; i < 100; i++ {
		p.Send(client.Record{Topic: "t", Value: value("a", i)})
	}
	if !c.s.RunUntil(func() bool { return len(c.acked) == 100 }, 30000) {
		t.Fatalf("%d of 100 acknowledged", len(c.acked))
	}
	old := c.leader("t", 0)
	oldInfo, _ := c.servers[core.NodeID(old)].Broker().Partition("t", 0)
	crashedAt := c.s.Now()
	c.s.Crash(core.NodeID(old))
	for i := 0; i < 100; i++ {
		p.Send(client.Record{Topic: "t", Value: value("b", i)})
	}
	if !c.s.RunUntil(func() bool { return len(c.acked) == 200 }, 60000) {
		t.Fatalf("%d of 200 acknowledged after the leader crashed; failed %v", len(c.acked), c.failed)
	}
	var firstAck int64
	for _, o := range c.events {
		if e, ok := o.Event.(core.RecordAcked); ok && o.Time > crashedAt && firstAck == 0 && string(e.Value) == "b0" {
			firstAck = o.Time
		}
	}
	leader := c.leader("t", 0)
	info, _ := c.servers[core.NodeID(leader)].Broker().Partition("t", 0)
	if leader == old || leader < 0 || info.LeaderEpoch <= oldInfo.LeaderEpoch {
		t.Fatalf("leader %d epoch %d after %d epoch %d crashed", leader, info.LeaderEpoch, old, oldInfo.LeaderEpoch)
	}
	got := c.values(core.NodeID(leader), "t", 0)
	for _, a := range c.acked {
		if a.Offset >= int64(len(got)) || got[a.Offset] != string(a.Value) {
			t.Fatalf("acknowledged %q at %d is not in the new leader's log", a.Value, a.Offset)
		}
	}
	t.Logf("leader %d crashed; broker %d leads at epoch %d; first acks=all produce %d ms after the crash", old, leader, info.LeaderEpoch, firstAck-crashedAt)
}

// After a failover the leadership stays with the new leader; once the
// preferred replica is back in the ISR, ElectLeaders moves it back, and so
// does the controller on its own every leader.imbalance.check.interval.seconds.
func TestPreferredLeaderElection(t *testing.T) {
	c := newCluster(t, 3)
	c.createTopic("t", 1, nil)
	info, _ := c.servers[1].Broker().Partition("t", 0)
	preferred := core.NodeID(info.Replicas[0])
	if core.NodeID(info.Leader) != preferred {
		t.Fatalf("leader %d, preferred %d", info.Leader, preferred)
	}
	c.s.Crash(preferred)
	if !c.s.RunUntil(func() bool { l := c.leader("t", 0); return l >= 0 && core.NodeID(l) != preferred }, 30000) {
		t.Fatal("no failover")
	}
	c.s.Restart(preferred, func(st storage.Store) core.Machine { return c.open(preferred, st) })
	inISR := func() bool { // as the active controller sees it
		for _, id := range c.ids {
			if ctl := c.servers[id].Controller(); ctl != nil && ctl.Active() {
				p, _ := ctl.Image().Partition("t", 0)
				b, _ := ctl.Image().Broker(int32(preferred))
				return slices.Contains(p.ISR, int32(preferred)) && !b.Fenced
			}
		}
		return false
	}
	if !c.s.RunUntil(inISR, 60000) {
		t.Fatal("the preferred replica did not rejoin the ISR")
	}
	if l := c.leader("t", 0); core.NodeID(l) == preferred {
		t.Fatal("leadership moved back before any election")
	}

	other := c.ids[0]
	if other == preferred {
		other = c.ids[1]
	}
	req := kmsg.NewPtrElectLeadersRequest()
	req.Version, req.ElectionType = 2, 0
	req.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{0}}, {Topic: "nope", Partitions: []int32{0}}}
	resp := c.call(other, req).(*kmsg.ElectLeadersResponse)
	if len(resp.Topics) != 2 || resp.Topics[0].Partitions[0].ErrorCode != 0 ||
		resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("ElectLeaders: %+v", resp.Topics)
	}
	if !c.s.RunUntil(func() bool { return core.NodeID(c.leader("t", 0)) == preferred }, 5000) {
		t.Fatal("ElectLeaders did not move the leadership back")
	}
	again := c.call(other, req).(*kmsg.ElectLeadersResponse)
	if again.Topics[0].Partitions[0].ErrorCode != kerr.ElectionNotNeeded.Code {
		t.Fatalf("second election: %v", kerr.ErrorForCode(again.Topics[0].Partitions[0].ErrorCode))
	}

	// The automatic check: fail over again, bring the preferred one back,
	// and wait out the interval.
	c.s.Crash(preferred)
	if !c.s.RunUntil(func() bool { l := c.leader("t", 0); return l >= 0 && core.NodeID(l) != preferred }, 30000) {
		t.Fatal("no second failover")
	}
	c.s.Restart(preferred, func(st storage.Store) core.Machine { return c.open(preferred, st) })
	if !c.s.RunUntil(func() bool { return core.NodeID(c.leader("t", 0)) == preferred }, 400000) {
		t.Fatal("auto.leader.rebalance.enable did not move the leadership back within 400 s")
	}
}
