package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// cluster is servers in a sim: brokers, some of them controller voters.
type cluster struct {
	t       testing.TB
	s       *sim.Sim
	servers map[core.NodeID]*server.Server
	events  []sim.Observed
	acked   []core.RecordAcked
	failed  []core.ProduceFailed
	ids     []core.NodeID
	voters  []core.NodeID
	quiet   bool // keep no event history (benchmarks)
	calls   int
}

// newCluster is three servers, each a broker and a voter (combined mode).
func newCluster(t testing.TB, seed uint64) *cluster {
	ids := []core.NodeID{1, 2, 3}
	return newClusterOf(t, seed, ids, ids)
}

func newClusterOf(t testing.TB, seed uint64, ids, voters []core.NodeID) *cluster {
	c := &cluster{t: t, s: sim.New(seed), servers: map[core.NodeID]*server.Server{}, ids: ids, voters: voters}
	c.s.Net = sim.Network{MinLatencyMs: 1, MaxLatencyMs: 5}
	c.s.OnEvent = func(o sim.Observed) {
		if !c.quiet {
			c.events = append(c.events, o)
		}
		switch e := o.Event.(type) {
		case core.RecordAcked:
			c.acked = append(c.acked, e)
		case core.ProduceFailed:
			c.failed = append(c.failed, e)
		}
	}
	for _, id := range c.ids {
		c.s.Add(c.open(id, nil), nil)
	}
	if !c.s.RunUntil(c.allUnfenced, 30000) {
		t.Fatal("brokers did not register and unfence within 30 s")
	}
	return c
}

func (c *cluster) allUnfenced() bool {
	for _, id := range c.ids {
		if epoch, fenced := c.servers[id].Registered(); epoch < 0 || fenced {
			return false
		}
	}
	return true
}

// open opens server id on store (nil: a new one).
func (c *cluster) open(id core.NodeID, store storage.Store) *server.Server {
	cfg := server.Config{Broker: broker.DefaultConfig(id)}
	cfg.Controller.Voters = c.voters
	cfg.Controller.DefaultReplicationFactor = 3
	var srv *server.Server
	var err error
	if store == nil {
		srv, err = server.New(cfg)
	} else {
		srv, err = server.Open(cfg, store)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.servers[id] = srv
	return srv
}

// createTopic creates a topic with RF 3 and waits until every broker knows
// its leader.
func (c *cluster) createTopic(name string, partitions int32, configs map[string]string) {
	c.t.Helper()
	c.createTopicWith(name, partitions, 3, nil, configs)
}

// createTopicWith creates a topic with partitions and rf, or with the
// replicas of each partition given.
func (c *cluster) createTopicWith(name string, partitions int32, rf int16, replicas [][]int32, configs map[string]string) {
	c.t.Helper()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, partitions, rf
	if replicas != nil {
		topic.NumPartitions, topic.ReplicationFactor = -1, -1
		for i, r := range replicas {
			topic.ReplicaAssignment = append(topic.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: r})
		}
	}
	for k, v := range configs {
		topic.Configs = append(topic.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	a := client.NewAdmin(core.ClientIDBase+999, c.ids, topic)
	c.s.Add(a, nil)
	ok := c.s.RunUntil(func() bool {
		if !a.Done() {
			return false
		}
		for _, id := range c.ids {
			for p := int32(0); p < partitions; p++ {
				if info, ok := c.servers[id].Broker().Partition(name, p); !ok || info.Leader < 0 {
					return false
				}
			}
		}
		return true
	}, 60000)
	if !ok || a.Err() != nil {
		c.t.Fatalf("creating %s: done=%v err=%v", name, a.Done(), a.Err())
	}
}

func (c *cluster) producer(id core.NodeID, acks client.Acks) *client.Producer {
	p := client.NewProducer(client.ProducerConfig{ID: id, Bootstrap: c.ids, Acks: acks, Seed: uint64(id)})
	c.s.Add(p, nil)
	return p
}

// leader is the partition's leader as the live brokers' metadata says
// (the highest leader epoch wins), -1 if none.
func (c *cluster) leader(topic string, p int32) int32 {
	leader, epoch := int32(-1), int32(-1)
	for _, id := range c.ids {
		if c.s.Machine(id) == nil {
			continue
		}
		if info, ok := c.servers[id].Broker().Partition(topic, p); ok && info.LeaderEpoch > epoch {
			leader, epoch = info.Leader, info.LeaderEpoch
		}
	}
	return leader
}

func (c *cluster) values(id core.NodeID, topic string, p int32) []string {
	var out []string
	for _, r := range c.servers[id].Broker().Records(topic, p, 0, 1<<30) {
		out = append(out, string(r.Value))
	}
	return out
}

func value(prefix string, i int) []byte { return []byte(fmt.Sprint(prefix, i)) }

// writeTrace writes every event of the run to a file and returns its path.
func (c *cluster) writeTrace(config string, seed uint64) string {
	var b strings.Builder
	for _, o := range c.events {
		fmt.Fprintf(&b, "t=%d node=%d %T %+v\n", o.Time, o.Node, o.Event, o.Event)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("streamlab-%s-seed%d.trace", config, seed))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	return path
}

// caller sends one request and keeps the response: a client for tests.
type caller struct {
	id   core.NodeID
	out  []core.Envelope
	resp kmsg.Response
}

func (c *caller) ID() core.NodeID   { return c.id }
func (c *caller) Tick(int64)        {}
func (c *caller) Ready() core.Ready { return core.Ready{Messages: c.out} }
func (c *caller) Advance()          { c.out = nil }
func (c *caller) Step(env core.Envelope) {
	if env.Response != nil {
		c.resp = env.Response
	}
}

// call sends req to broker to and waits up to 10 s for the answer.
func (c *cluster) call(to core.NodeID, req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.calls++
	cl := &caller{id: core.ClientIDBase + 500 + core.NodeID(c.calls)}
	c.s.Add(cl, nil)
	cl.out = append(cl.out, core.Envelope{From: cl.id, To: to, CorrelationID: 1, Request: req})
	c.s.RunFor(0)
	if !c.s.RunUntil(func() bool { return cl.resp != nil }, 10000) {
		c.t.Fatalf("no answer to %s from broker %d", core.APIName(req.Key()), to)
	}
	return cl.resp
}
