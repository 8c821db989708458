package server_test

import (
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
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
