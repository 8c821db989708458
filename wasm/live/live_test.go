//go:build js && wasm

// These tests need a browser (IndexedDB, Web Locks, BroadcastChannel,
// WebRTC): `make test-browser` runs them in headless Chromium.
package live

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/wasm/webrtctest"
)

// record is what the test knows of one record.
type record struct {
	partition int32
	offset    int64
	value     string
}

// observer collects the events of every member.
type observer struct {
	mu       sync.Mutex
	acked    map[string]record // by value
	failed   []string
	consumed []record
	read     map[string]bool // distinct values consumed
}

func (o *observer) event(e Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range e.Core {
		switch ev := ev.(type) {
		case core.RecordAcked:
			o.acked[string(ev.Value)] = record{ev.Partition, ev.Offset, string(ev.Value)}
		case core.ProduceFailed:
			o.failed = append(o.failed, string(ev.Value)+": "+ev.Error)
		case core.RecordConsumed:
			o.consumed = append(o.consumed, record{ev.Partition, ev.Offset, string(ev.Value)})
			o.read[string(ev.Value)] = true
		}
	}
}

func (o *observer) counts() (acked, failed, consumed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.acked), len(o.failed), len(o.read)
}

const topic = "orders"

// Three members in one page form a cluster over the browser's WebRTC, take
// 2,000 records with acks=all that a consumer group reads back in order;
// then the leader of a partition is closed (a crashed tab): leadership moves,
// producing goes on and nothing acknowledged is lost; the member reopens on
// its database and rejoins every ISR.
//
// The brokers use broker.session.timeout.ms=3000 (heartbeats every 500 ms)
// instead of 9000, and the clients request.timeout.ms=5000 instead of
// 30000, to keep the test short: a closed tab sends no FIN, so requests in
// flight to it only end when they time out, as with a vanished Kafka broker.
func TestLiveCluster(t *testing.T) {
	webrtctest.AllowLocalCandidates(t)
	cluster := fmt.Sprintf("livetest%d", time.Now().UnixNano())
	obs := &observer{acked: map[string]record{}, read: map[string]bool{}}
	cfg := Config{
		Cluster: cluster,
		Configure: func(c *server.Config) {
			c.Controller.SessionTimeoutMs = 3000
			c.HeartbeatIntervalMs = 500
		},
		Events: obs.event,
		Logf:   t.Logf,
	}
	join := func(id core.NodeID) *Member {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := cfg
		c.ID = id
		m, err := Join(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	members := map[core.NodeID]*Member{}
	t.Cleanup(func() {
		for _, m := range members {
			m.Close()
		}
		for id := core.NodeID(1); id <= 3; id++ {
			deleteDatabase(t, DatabaseName(cluster, id))
		}
	})

	// Joined without an id, the members take the lowest free ones.
	start := time.Now()
	for want := core.NodeID(1); want <= 3; want++ {
		m := join(0)
		members[m.ID()] = m
		if m.ID() != want {
			t.Fatalf("member took id %d, want %d", m.ID(), want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if _, err := Join(ctx, Config{Cluster: cluster, ID: 2}); err == nil {
		t.Fatal("a second member took broker id 2")
	}
	cancel()
	waitFor(t, 90*time.Second, "the brokers to register and unfence", func() bool {
		for _, m := range members {
			if !unfenced(m) {
				return false
			}
		}
		return true
	})
	t.Logf("figure: cluster formed (3 brokers connected, registered, unfenced) in %v", time.Since(start).Round(time.Millisecond))

	// The topic, from an admin client in member 1's tab.
	m1 := members[1]
	req := kmsg.NewCreateTopicsRequestTopic()
	req.Topic, req.NumPartitions, req.ReplicationFactor = topic, 3, 3
	req.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
	brokers := []core.NodeID{1, 2, 3}
	admin, err := m1.AddClient(func(id core.NodeID) core.Machine { return client.NewAdmin(id, brokers, req) })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the topic", func() bool {
		var done bool
		var aerr error
		admin.Do(func(mc core.Machine) { done, aerr = mc.(*client.Admin).Done(), mc.(*client.Admin).Err() })
		if aerr != nil {
			t.Fatalf("creating %s: %v", topic, aerr)
		}
		if !done {
			return false
		}
		for _, m := range members {
			for p := int32(0); p < 3; p++ {
				if info := partition(m, p); info.Leader < 0 || len(info.ISR) < 3 {
					return false
				}
			}
		}
		return true
	})
	admin.Close()

	prod, err := m1.AddClient(func(id core.NodeID) core.Machine {
		return client.NewProducer(client.ProducerConfig{ID: id, Bootstrap: brokers, Acks: client.AcksAll, RequestTimeoutMs: 5000, Seed: uint64(id)})
	})
	if err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		prod.Do(func(mc core.Machine) {
			p := mc.(*client.Producer)
			for i := from; i < to; i++ {
				p.Send(client.Record{Topic: topic, Partition: -1, Value: value(i)})
			}
		})
	}
	const n = 2000
	start = time.Now()
	produce(0, n)
	waitAcked(t, obs, n, 90*time.Second)
	el := time.Since(start)
	t.Logf("figure: %d records of 100 B with acks=all, RF=3, min.insync.replicas=2: %v, %.0f records/s", n, el.Round(time.Millisecond), float64(n)/el.Seconds())

	if _, err := m1.AddClient(func(id core.NodeID) core.Machine {
		return client.NewConsumer(client.ConsumerConfig{ID: id, Bootstrap: brokers, Topics: []string{topic}, GroupID: "readers", AutoOffsetReset: "earliest", RequestTimeoutMs: 5000, Seed: uint64(id)})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the consumer group to read every record", func() bool {
		_, _, c := obs.counts()
		return c >= n
	})
	checkConsumed(t, obs)

	// A crashed tab: the leader of a partition member 1 does not lead.
	victim, part := core.NodeID(-1), int32(-1)
	for p := int32(0); p < 3 && victim < 0; p++ {
		if l := partition(m1, p).Leader; l != 1 {
			victim, part = core.NodeID(l), p
		}
	}
	if victim < 0 {
		t.Fatal("member 1 leads every partition")
	}
	epoch := partition(m1, part).LeaderEpoch
	members[victim].Close()
	delete(members, victim)
	start = time.Now()
	produce(n, 2*n)
	waitFor(t, 90*time.Second, fmt.Sprintf("a new leader of %s-%d", topic, part), func() bool {
		info := partition(m1, part)
		return info.LeaderEpoch > epoch && info.Leader >= 0 && core.NodeID(info.Leader) != victim
	})
	t.Logf("figure: failover of %s-%d after broker %d was closed: new leader %d in %v (session timeout 3 s)",
		topic, part, victim, partition(m1, part).Leader, time.Since(start).Round(time.Millisecond))
	waitAcked(t, obs, 2*n, 90*time.Second)
	t.Logf("figure: %d more records acked %v after the crash", n, time.Since(start).Round(time.Millisecond))
	checkLogs(t, obs, members)
	waitFor(t, 90*time.Second, "the consumer group to read the records produced after the crash", func() bool {
		_, _, c := obs.counts()
		return c >= 2*n
	})
	checkConsumed(t, obs)

	// The closed tab comes back on its database and catches up.
	start = time.Now()
	members[victim] = join(victim)
	waitFor(t, 90*time.Second, fmt.Sprintf("broker %d to rejoin every ISR", victim), func() bool {
		for p := int32(0); p < 3; p++ {
			if !slices.Contains(partition(m1, p).ISR, int32(victim)) {
				return false
			}
		}
		return true
	})
	t.Logf("figure: broker %d reopened from IndexedDB and back in every ISR in %v", victim, time.Since(start).Round(time.Millisecond))
}

// value is record i's 100-byte value.
func value(i int) []byte {
	v := fmt.Appendf(nil, "record-%06d-", i)
	for len(v) < 100 {
		v = append(v, 'x')
	}
	return v
}

func unfenced(m *Member) bool {
	ok := false
	m.Server(func(s *server.Server) {
		epoch, fenced := s.Registered()
		ok = epoch >= 0 && !fenced
	})
	return ok && len(m.Peers()) == 2
}

func partition(m *Member, p int32) (info struct {
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}) {
	info.Leader = -1
	m.Server(func(s *server.Server) {
		if pi, ok := s.Broker().Partition(topic, p); ok {
			info.Leader, info.LeaderEpoch, info.ISR = pi.Leader, pi.LeaderEpoch, slices.Clone(pi.ISR)
		}
	})
	return info
}

func waitAcked(t *testing.T, obs *observer, n int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d acknowledgements", n), func() bool {
		a, f, _ := obs.counts()
		if f > 0 {
			obs.mu.Lock()
			defer obs.mu.Unlock()
			t.Fatalf("%d records failed, first: %s", f, obs.failed[0])
		}
		return a >= n
	})
}

// checkConsumed: each partition was read in offset order (a rebalance may
// start again from the last commit: at least once), and what was read is
// what was acknowledged there.
func checkConsumed(t *testing.T, obs *observer) {
	t.Helper()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	next := map[int32]int64{}
	for _, r := range obs.consumed {
		if n, ok := next[r.partition]; ok && r.offset > n {
			t.Fatalf("partition %d: read offset %d, expected %d or before", r.partition, r.offset, n)
		}
		next[r.partition] = r.offset + 1
		if a, ok := obs.acked[r.value]; !ok || a != r {
			t.Fatalf("read %+v, acknowledged as %+v (%v)", r, a, ok)
		}
	}
}

// checkLogs: every acknowledged record is in its partition's leader's log,
// at its offset, below the high watermark.
func checkLogs(t *testing.T, obs *observer, members map[core.NodeID]*Member) {
	t.Helper()
	obs.mu.Lock()
	acked := make([]record, 0, len(obs.acked))
	for _, r := range obs.acked {
		acked = append(acked, r)
	}
	obs.mu.Unlock()
	logs := map[int32]map[int64]string{}
	for p := int32(0); p < 3; p++ {
		leader := members[core.NodeID(partition(members[1], p).Leader)]
		if leader == nil {
			t.Fatalf("partition %d has no live leader", p)
		}
		logs[p] = map[int64]string{}
		leader.Server(func(s *server.Server) {
			info, _ := s.Broker().Partition(topic, p)
			for _, r := range s.Broker().Records(topic, p, 0, 1<<30) {
				if r.Offset < info.HighWatermark {
					logs[p][r.Offset] = string(r.Value)
				}
			}
		})
	}
	for _, r := range acked {
		if got, ok := logs[r.partition][r.offset]; !ok || got != r.value {
			t.Fatalf("acknowledged %s at %d-%d; the leader's log has %q (%v)", r.value, r.partition, r.offset, got, ok)
		}
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deleteDatabase(t *testing.T, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := idb.Global().DeleteDatabase(name)
	if err == nil {
		err = req.Await(ctx)
	}
	if err != nil {
		t.Errorf("delete database %s: %v", name, err)
	}
}
