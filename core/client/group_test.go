package client

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// groupCluster is three core/server brokers (each a controller voter) in a
// sim, with producers and group consumers: every test here goes through
// the real group coordinator.
type groupCluster struct {
	t         *testing.T
	s         *sim.Sim
	ids       []core.NodeID
	servers   map[core.NodeID]*server.Server
	events    []sim.Observed
	prod      *Producer
	sent      int
	consumers map[core.NodeID]*Consumer
	cfgs      map[core.NodeID]ConsumerConfig
	// delivered is what the applications processed, by group: it
	// survives consumer crashes, as a database would.
	delivered map[string][]core.RecordConsumed
}

func newGroupCluster(t *testing.T, seed uint64) *groupCluster {
	t.Helper()
	gc := &groupCluster{t: t, s: sim.New(seed), ids: []core.NodeID{1, 2, 3}, servers: map[core.NodeID]*server.Server{},
		consumers: map[core.NodeID]*Consumer{}, cfgs: map[core.NodeID]ConsumerConfig{}, delivered: map[string][]core.RecordConsumed{}}
	gc.s.Net = sim.Network{MinLatencyMs: 1, MaxLatencyMs: 5}
	gc.s.OnEvent = func(o sim.Observed) { gc.events = append(gc.events, o) }
	for _, id := range gc.ids {
		gc.s.Add(gc.open(id, nil), nil)
	}
	gc.until("brokers unfenced", 30000, func() bool {
		for _, id := range gc.ids {
			if epoch, fenced := gc.servers[id].Registered(); epoch < 0 || fenced {
				return false
			}
		}
		return true
	})
	return gc
}

func (gc *groupCluster) open(id core.NodeID, store storage.Store) core.Machine {
	cfg := server.Config{Broker: broker.DefaultConfig(id)}
	cfg.Controller.Voters = gc.ids
	cfg.Controller.DefaultReplicationFactor = 3
	srv, err := server.Open(cfg, store)
	if err != nil {
		gc.t.Fatal(err)
	}
	gc.servers[id] = srv
	return srv
}

func (gc *groupCluster) until(what string, maxMs int64, cond func() bool) {
	gc.t.Helper()
	if !gc.s.RunUntil(cond, maxMs) {
		gc.t.Fatalf("%s: not within %d ms", what, maxMs)
	}
}

func (gc *groupCluster) createTopic(name string, partitions int32) {
	gc.t.Helper()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, partitions, 3
	topic.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
	a := NewAdmin(core.ClientIDBase+999-core.NodeID(len(gc.events)%100), gc.ids, topic)
	gc.s.Add(a, nil)
	gc.until("topic "+name, 60000, func() bool {
		if !a.Done() {
			return false
		}
		for _, id := range gc.ids {
			for p := range partitions {
				if info, ok := gc.servers[id].Broker().Partition(name, p); !ok || info.Leader < 0 {
					return false
				}
			}
		}
		return true
	})
	if a.Err() != nil {
		gc.t.Fatal(a.Err())
	}
}

// produce sends n records to topic, keyed, and waits for their acks.
func (gc *groupCluster) produce(topic string, n int) {
	gc.t.Helper()
	if gc.prod == nil {
		gc.prod = NewProducer(ProducerConfig{ID: core.ClientIDBase, Bootstrap: gc.ids, Seed: 1})
		gc.s.Add(gc.prod, nil)
	}
	for range n {
		gc.prod.Send(Record{Topic: topic, Partition: AnyPartition, Key: fmt.Appendf(nil, "k%d", gc.sent%7), Value: fmt.Appendf(nil, "v%d", gc.sent)})
		gc.sent++
	}
	gc.until("acks", 30000, func() bool { return gc.prod.Pending() == 0 })
}

// consumer starts a group consumer; its processing lands in delivered.
func (gc *groupCluster) consumer(id core.NodeID, cfg ConsumerConfig) *Consumer {
	cfg.ID, cfg.Bootstrap = id, gc.ids
	if cfg.Seed == 0 {
		cfg.Seed = uint64(id)
	}
	if cfg.SessionTimeoutMs == 0 {
		cfg.SessionTimeoutMs = 10000
	}
	gc.cfgs[id] = cfg
	c := gc.newConsumer(id)
	gc.s.Add(c, nil)
	return c
}

func (gc *groupCluster) newConsumer(id core.NodeID) *Consumer {
	cfg := gc.cfgs[id]
	c := NewConsumer(cfg)
	c.SetProcessor(func(r core.RecordConsumed) { gc.delivered[cfg.GroupID] = append(gc.delivered[cfg.GroupID], r) })
	gc.consumers[id] = c
	return c
}

// crash kills a consumer: what it had in memory is gone.
func (gc *groupCluster) crash(id core.NodeID) { gc.s.Crash(id) }

// restart starts a new process of a crashed consumer with the same configs.
func (gc *groupCluster) restart(id core.NodeID) *Consumer {
	cfg := gc.cfgs[id]
	cfg.Seed += 1000
	gc.cfgs[id] = cfg
	gc.s.Restart(id, func(storage.Store) core.Machine { return gc.newConsumer(id) })
	return gc.consumers[id]
}

// stable reports whether every consumer given is STABLE in the same
// generation with no rebalance pending.
func stable(cs ...*Consumer) bool {
	for _, c := range cs {
		if c.GroupState() != "STABLE" || c.Generation() != cs[0].Generation() || c.grp.rejoin || c.grp.hasPending || c.grp.blocked {
			return false
		}
	}
	return true
}

// sentBy returns the requests of type T the node sent.
func sentBy[T kmsg.Request](gc *groupCluster, node core.NodeID) []T {
	var out []T
	for _, o := range gc.events {
		if m, ok := o.Event.(core.MessageSent); ok && m.Envelope.From == node {
			if r, ok := m.Envelope.Request.(T); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// groupEvents returns the events of type T of a group.
func groupEvents[T core.Event](gc *groupCluster, match func(T) bool) []T {
	var out []T
	for _, o := range gc.events {
		if e, ok := o.Event.(T); ok && match(e) {
			out = append(out, e)
		}
	}
	return out
}

func parts(c *Consumer) string {
	var s []string
	for _, k := range c.Assignment() {
		s = append(s, k.String())
	}
	return strings.Join(s, ",")
}

// A lone member: FindCoordinator, JoinGroup answered MEMBER_ID_REQUIRED,
// JoinGroup again with its id, SyncGroup; then heartbeats every
// heartbeat.interval.ms, the generation stays; Close sends LeaveGroup and
// the group becomes Empty.
func TestGroupLifecycle(t *testing.T) {
	gc := newGroupCluster(t, 1)
	gc.createTopic("t", 3)
	a := gc.consumer(core.ClientIDBase+1, ConsumerConfig{GroupID: "g", Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	gc.until("stable", 60000, func() bool { return stable(a) && len(a.Assignment()) == 3 })
	if a.Generation() != 1 || !a.IsLeader() || a.MemberID() == "" || a.Protocol() != "range" {
		t.Fatalf("generation %d leader %v member %q protocol %q", a.Generation(), a.IsLeader(), a.MemberID(), a.Protocol())
	}
	if n := len(sentBy[*kmsg.FindCoordinatorRequest](gc, a.ID())); n < 1 {
		t.Fatal("no FindCoordinator")
	}
	joins := sentBy[*kmsg.JoinGroupRequest](gc, a.ID())
	if len(joins) != 2 || joins[0].MemberID != "" || joins[1].MemberID != a.MemberID() {
		t.Fatalf("joins: %d, first member %q", len(joins), joins[0].MemberID)
	}
	if n := len(sentBy[*kmsg.SyncGroupRequest](gc, a.ID())); n != 1 {
		t.Fatalf("%d SyncGroups", n)
	}
	hb := len(sentBy[*kmsg.HeartbeatRequest](gc, a.ID()))
	gc.s.RunFor(30000)
	if got := len(sentBy[*kmsg.HeartbeatRequest](gc, a.ID())) - hb; got < 9 || got > 11 {
		t.Fatalf("%d heartbeats in 30 s, want 10", got)
	}
	gc.produce("t", 30)
	gc.until("processed", 10000, func() bool { return len(gc.delivered["g"]) == 30 })
	if a.Generation() != 1 {
		t.Fatalf("generation moved to %d", a.Generation())
	}
	for _, k := range a.Assignment() {
		if lag, ok := a.Lag(k.Topic, k.Partition); !ok || lag != 0 {
			t.Fatalf("%v lag %d %v", k, lag, ok)
		}
	}
	a.Close()
	gc.until("empty", 10000, func() bool {
		return len(groupEvents(gc, func(e core.GroupStateChanged) bool { return e.Group == "g" && e.To == "Empty" && e.Generation == 2 })) > 0
	})
	leaves := sentBy[*kmsg.LeaveGroupRequest](gc, a.ID())
	if len(leaves) != 1 || !a.Closed() {
		t.Fatalf("%d LeaveGroups, closed %v", len(leaves), a.Closed())
	}
	left := groupEvents(gc, func(e core.MemberLeft) bool { return e.Group == "g" })
	if len(left) != 1 || !strings.Contains(left[0].Reason, "the consumer is being closed") {
		t.Fatalf("member left: %+v", left)
	}
	// Auto commit committed what was processed: 30 records in all.
	var committed int64
	for _, e := range groupEvents(gc, func(e core.OffsetCommitted) bool { return e.Group == "g" }) {
		committed = max(committed, e.Offset)
	}
	if committed == 0 {
		t.Fatal("nothing committed")
	}
}

// settled reports whether a consumer is idle with everything it consumed
// committed.
func settled(c *Consumer) bool {
	for _, ps := range c.parts {
		if ps.consumed > 0 && ps.position != ps.committed {
			return false
		}
	}
	return !c.app.busy()
}
