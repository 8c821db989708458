package broker_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// cluster is three brokers in a sim with topic "r" (one partition,
// replicas 1,2,3) placed by hand, as the controller's metadata will do.
type cluster struct {
	t       *testing.T
	s       *sim.Sim
	brokers map[core.NodeID]*broker.Node
	state   broker.PartitionState
	configs map[string]string
	acked   []core.RecordAcked
	failed  []core.ProduceFailed
	// refusals counts NOT_ENOUGH_REPLICAS answers.
	refusals int
}

func newCluster(t *testing.T, seed uint64, configs map[string]string) *cluster {
	c := &cluster{t: t, s: sim.New(seed), brokers: map[core.NodeID]*broker.Node{}, configs: configs,
		state: broker.PartitionState{Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}}
	c.s.OnEvent = func(o sim.Observed) {
		switch e := o.Event.(type) {
		case core.RecordAcked:
			c.acked = append(c.acked, e)
		case core.ProduceFailed:
			c.failed = append(c.failed, e)
		case core.RequestFailed:
			if e.Error == "NOT_ENOUGH_REPLICAS" {
				c.refusals++
			}
		}
	}
	for id := core.NodeID(1); id <= 3; id++ {
		c.start(id, nil)
	}
	return c
}

// start runs broker id on store (nil: a new one).
func (c *cluster) start(id core.NodeID, store storage.Store) {
	c.s.Add(c.open(id, store), store)
}

// open opens broker id on store (nil: a new one) and applies the metadata.
func (c *cluster) open(id core.NodeID, store storage.Store) *broker.Node {
	cfg := broker.DefaultConfig(id)
	var n *broker.Node
	if store == nil {
		n = broker.New(cfg)
	} else {
		var err error
		if n, err = broker.Open(cfg, store); err != nil {
			c.t.Fatal(err)
		}
	}
	for b := int32(1); b <= 3; b++ {
		n.ApplyBroker(broker.BrokerAddr{ID: b, Host: fmt.Sprint("broker-", b), Port: 9092})
	}
	if err := n.ApplyTopic("r", [16]byte{1}, 1, c.configs); err != nil {
		c.t.Fatal(err)
	}
	n.ApplyPartition("r", 0, c.state)
	c.brokers[id] = n
	return n
}

// elect gives the partition a new leader and ISR on every broker (a crashed
// one too: the instance a restart is opening may already be in c.brokers).
func (c *cluster) elect(leader int32, isr []int32) {
	c.state.Leader, c.state.ISR = leader, isr
	c.state.LeaderEpoch++
	for _, n := range c.brokers {
		n.ApplyPartition("r", 0, c.state)
	}
}

func (c *cluster) info(id core.NodeID) broker.PartitionInfo {
	info, _ := c.brokers[id].Partition("r", 0)
	return info
}

func (c *cluster) values(id core.NodeID) []string {
	var out []string
	for _, r := range c.brokers[id].Records("r", 0, 0, 1<<20) {
		out = append(out, string(r.Value))
	}
	return out
}

func (c *cluster) producer(id core.NodeID, acks client.Acks) *client.Producer {
	p := client.NewProducer(client.ProducerConfig{ID: id, Bootstrap: []core.NodeID{1, 2, 3}, Acks: acks,
		Seed: uint64(id)})
	c.s.Add(p, nil)
	return p
}

func send(p *client.Producer, prefix string, n int) {
	for i := 0; i < n; i++ {
		p.Send(client.Record{Topic: "r", Partition: 0, Value: []byte(fmt.Sprint(prefix, i))})
	}
}

func TestReplicationAcksAll(t *testing.T) {
	c := newCluster(t, 1, nil)
	p := c.producer(core.ClientIDBase, client.AcksAll)
	send(p, "v", 50)
	if !c.s.RunUntil(func() bool { return len(c.acked) == 50 }, 10000) {
		t.Fatalf("%d of 50 acknowledged, failed %v", len(c.acked), c.failed)
	}
	c.s.RunFor(2000) // followers learn the final high watermark
	want := c.values(1)
	for id := core.NodeID(1); id <= 3; id++ {
		info := c.info(id)
		if !slices.Equal(c.values(id), want) || info.LogEndOffset != 50 || info.HighWatermark != 50 {
			t.Errorf("broker %d: end %d hw %d, %d values", id, info.LogEndOffset, info.HighWatermark, len(c.values(id)))
		}
	}
	if got := c.brokers[1].Replicas("r", 0); len(got) != 3 || got[2].LogEndOffset != 50 || !got[2].InSync {
		t.Errorf("leader's view of its replicas: %+v", got)
	}
}

// A follower that stops fetching leaves the ISR after replica.lag.time.max.ms;
// acks=all then waits for the remaining ISR, and min.insync.replicas decides
// whether the leader accepts at all. Back, it catches up and rejoins.
func TestFollowerCrashShrinksAndRejoinsISR(t *testing.T) {
	c := newCluster(t, 2, map[string]string{"min.insync.replicas": "2"})
	p := c.producer(core.ClientIDBase, client.AcksAll)
	send(p, "a", 10)
	c.s.RunUntil(func() bool { return len(c.acked) == 10 }, 10000)
	store3 := c.s.Store(3)
	c.s.Crash(3)
	send(p, "b", 10)
	c.s.RunFor(20000)
	if len(c.acked) != 10 {
		t.Fatalf("acks=all answered with a dead follower still in the ISR: %d acked", len(c.acked))
	}
	c.s.RunFor(15000) // past replica.lag.time.max.ms (30 s)
	if isr := c.info(1).ISR; !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("ISR %v after the follower died", isr)
	}
	if !c.s.RunUntil(func() bool { return len(c.acked) == 20 }, 10000) {
		t.Fatalf("with ISR {1,2} and min.insync.replicas=2, acks=all should succeed: %d acked, %v", len(c.acked), c.failed)
	}
	c.start(3, store3)
	if !c.s.RunUntil(func() bool { return slices.Equal(c.info(1).ISR, []int32{1, 2, 3}) }, 20000) {
		t.Fatalf("restarted follower did not rejoin the ISR: %v", c.info(1).ISR)
	}
	if !slices.Equal(c.values(3), c.values(1)) {
		t.Fatal("rejoined follower's log differs from the leader's")
	}
}

func TestNotEnoughReplicas(t *testing.T) {
	c := newCluster(t, 3, map[string]string{"min.insync.replicas": "3"})
	c.s.Crash(3)
	c.s.RunFor(35000) // broker 3 leaves the ISR
	p := c.producer(core.ClientIDBase, client.AcksAll)
	p1 := c.producer(core.ClientIDBase+1, client.AcksLeader)
	send(p, "all", 1)
	send(p1, "one", 1)
	c.s.RunFor(5000)
	// acks=1 does not care about the ISR; acks=all is refused and retried
	// (NOT_ENOUGH_REPLICAS is retriable) until delivery.timeout.ms.
	if len(c.acked) != 1 || string(c.acked[0].Value) != "one0" {
		t.Fatalf("acked %+v", c.acked)
	}
	c.s.RunFor(120000)
	if len(c.failed) != 1 || c.refusals == 0 {
		t.Fatalf("failed %+v after %d NOT_ENOUGH_REPLICAS refusals", c.failed, c.refusals)
	}
	// With the ISR below min.insync.replicas the high watermark stays put
	// (KAFKA-15583): the acks=1 record is not readable yet.
	if info := c.info(1); info.HighWatermark != 0 || info.LogEndOffset != 1 {
		t.Fatalf("hw %d end %d", info.HighWatermark, info.LogEndOffset)
	}
}

// KIP-101: a leader takes acks=1 writes its followers never see, then loses
// leadership. When it comes back as a follower it must cut those records,
// not keep them beside the new leader's, so the replicas never diverge.
func TestOldLeaderTruncatesDivergedTail(t *testing.T) {
	c := newCluster(t, 4, nil)
	p := c.producer(core.ClientIDBase, client.AcksLeader)
	send(p, "common", 5)
	c.s.RunUntil(func() bool { return len(c.acked) == 5 }, 10000)
	c.s.RunFor(2000)
	c.s.Cut(1, 2)
	c.s.Cut(1, 3)
	send(p, "lost", 3) // broker 1 appends, nobody replicates
	c.s.RunUntil(func() bool { return len(c.acked) == 8 }, 10000)
	if c.info(1).LogEndOffset != 8 || c.info(2).LogEndOffset != 5 {
		t.Fatalf("setup: leader end %d, follower end %d", c.info(1).LogEndOffset, c.info(2).LogEndOffset)
	}
	c.elect(2, []int32{2, 3})
	q := c.producer(core.ClientIDBase+1, client.AcksAll)
	send(q, "new", 4)
	c.s.RunUntil(func() bool { return len(c.acked) == 12 }, 20000)
	c.s.Heal(1, 2)
	c.s.Heal(1, 3)
	// The fetch broker 1 sent into the cut is retried after
	// replica.socket.timeout.ms (30 s).
	if !c.s.RunUntil(func() bool { return slices.Equal(c.values(1), c.values(2)) }, 60000) {
		t.Fatalf("old leader did not converge:\n1: %v\n2: %v", c.values(1), c.values(2))
	}
	for _, v := range c.values(1) {
		if len(v) >= 4 && v[:4] == "lost" {
			t.Fatalf("the unreplicated acks=1 records survived: %v", c.values(1))
		}
	}
	if len(c.values(1)) != 9 {
		t.Fatalf("old leader holds %v", c.values(1))
	}
}
