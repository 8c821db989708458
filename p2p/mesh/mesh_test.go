//go:build !js

package mesh

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/p2p/kafkatcp"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// TestKafkaClientsThroughProxies is the classroom's Kafka path: three
// members joined over WebRTC, and one of them (the node) serving a Kafka
// listener for each broker, two of them proxies to the other members. kgo
// creates a topic with RF=3, produces with acks=all and reads everything
// back, going to each partition's leader through its advertised address.
func TestKafkaClientsThroughProxies(t *testing.T) {
	_, seed := startCluster(t, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeTopics("classroom"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	createTopic(ctx, t, adm, "classroom", 3)
	const records = 1000
	leaders := map[int32]bool{}
	for i := range records {
		r := &kgo.Record{Topic: "classroom", Key: []byte(strconv.Itoa(i % 7)), Value: []byte(fmt.Sprint(i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		leaders[r.Partition] = true
	}
	md, err := adm.Metadata(ctx, "classroom")
	if err != nil {
		t.Fatal(err)
	}
	led := map[int32]bool{}
	for _, p := range md.Topics["classroom"].Partitions {
		led[p.Leader] = true
		if len(p.ISR) != 3 {
			t.Errorf("partition %d: ISR %v", p.Partition, p.ISR)
		}
	}
	if len(led) < 2 {
		t.Errorf("leaders %v: the test should reach a broker through a proxy", led)
	}
	seen := map[string]bool{}
	for len(seen) < records {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d: %v", len(seen), records, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
}

// startCluster starts three members joined over loopback WebRTC, member 1
// (the node) serving a Kafka listener per broker, two of them proxies, and
// returns them and the seed broker's address. sessionTimeoutMs, if not 0,
// is broker.session.timeout.ms (heartbeats every sixth of it).
func startCluster(t *testing.T, sessionTimeoutMs int64) ([3]*Member, string) {
	const n = 3
	hub := rtc.NewMemSignaling()
	var lns [n]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	var members [n]*Member
	for i := range members {
		id := core.NodeID(i + 1)
		cfg := server.Config{Broker: broker.DefaultConfig(id)}
		addr := lns[i].Addr().(*net.TCPAddr)
		cfg.Broker.Host, cfg.Broker.Port = addr.IP.String(), int32(addr.Port)
		cfg.Controller.Voters = []core.NodeID{1, 2, 3}
		cfg.Controller.DefaultReplicationFactor = 3
		if sessionTimeoutMs > 0 {
			cfg.Controller.SessionTimeoutMs, cfg.HeartbeatIntervalMs = sessionTimeoutMs, sessionTimeoutMs/6
		}
		store := storage.NewMemory()
		srv, err := server.Open(cfg, store)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Start(Config{ID: id, Cluster: "test", MaxBrokers: n, Signaler: hub.Node(id),
			Platform: rtc.PlatformConfig{API: rtc.LoopbackAPI()}, Logf: t.Logf,
			Reopen: func() (core.Machine, error) { return server.Open(cfg, store) }}, srv, store)
		if err != nil {
			t.Fatal(err)
		}
		members[i] = m
		t.Cleanup(func() { m.Close() })
	}
	for _, a := range members {
		for _, b := range members {
			if a.ID() < b.ID() {
				a.Connect(b.ID())
			}
		}
	}
	node := members[0]
	own, err := kafkatcp.Serve(lns[0], node.Proxy(1), kafkatcp.Config{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { own.Close() })
	for i := 1; i < n; i++ {
		l, err := kafkatcp.Serve(lns[i], node.Proxy(core.NodeID(i+1)), kafkatcp.Config{Versions: own.Versions(), Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}
	return members, lns[0].Addr().String()
}

// createTopic creates topic with RF=3, retrying until the brokers have
// registered (once the quorum has a leader).
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	for {
		r, err := adm.CreateTopic(ctx, partitions, 3, nil, topic)
		if err == nil && r.Err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("creating topic %s: %v %v", topic, err, r.Err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
