//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaGroups runs real clients' consumer groups against the node's
// group coordinator: kgo (with kadm to look at the group), sarama and
// librdkafka through kcat -G. Each group reads every record of a
// 6-partition topic exactly once across its members, commits, and a new
// member (after a node restart, for kgo) resumes from the committed offsets.
func TestKafkaGroups(t *testing.T) {
	bin := kafkaBinary(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, string)
	}{
		{"kgo", testGroupKgo},
		{"sarama", testGroupSarama},
		{"kcat", testGroupKcat},
		{"cluster", testGroupCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			tc.fn(t, bin)
			t.Logf("%s took %v", tc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

const groupPartitions = 6

// seen collects what the members of a group consumed, by partition and
// offset, to check that every record was read exactly once.
type seen struct {
	mu   sync.Mutex
	recs map[[2]int64]string // partition, offset -> member
	dups []string
}

func newSeen() *seen { return &seen{recs: map[[2]int64]string{}} }

func (s *seen) add(member string, p int32, o int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]int64{int64(p), o}
	if prev, ok := s.recs[k]; ok {
		s.dups = append(s.dups, fmt.Sprintf("%d@%d by %s and %s", p, o, prev, member))
	}
	s.recs[k] = member
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

// check verifies that exactly the offsets [from[p], to[p]) of each
// partition were seen, once each, and returns how many members read them.
func (s *seen) check(t *testing.T, from, to map[int32]int64) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.dups) > 0 {
		t.Errorf("%d records read twice, first: %v", len(s.dups), s.dups[:min(5, len(s.dups))])
	}
	want := 0
	for p := int32(0); p < groupPartitions; p++ {
		for o := from[p]; o < to[p]; o++ {
			want++
			if _, ok := s.recs[[2]int64{int64(p), o}]; !ok {
				t.Errorf("partition %d offset %d never read", p, o)
				return 0
			}
		}
	}
	if len(s.recs) != want {
		t.Errorf("read %d records, want %d", len(s.recs), want)
	}
	members := map[string]bool{}
	for _, m := range s.recs {
		members[m] = true
	}
	return len(members)
}

// produceTo produces n keyed records to topic with kgo (acks=all).
func produceTo(t *testing.T, addr, topic, batch string, n int) {
	t.Helper()
	produceKgo(t, []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic)}, records(batch, n))
}

// waitStable waits until kadm describes the group as Stable with members
// members.
func waitStable(t *testing.T, adm *kadm.Client, groupID string, members int) kadm.DescribedGroup {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last kadm.DescribedGroup
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		groups, err := adm.DescribeGroups(ctx, groupID)
		cancel()
		if err == nil {
			last = groups[groupID]
			if last.Err == nil && last.State == "Stable" && len(last.Members) == members {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s not Stable with %d members: state %q, %d members, err %v", groupID, members, last.State, len(last.Members), last.Err)
	return last
}

// committed fetches the group's committed offsets of topic with kadm.
func committed(t *testing.T, adm *kadm.Client, groupID, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", groupID, err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Fatalf("offset of %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}

func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func zeros() map[int32]int64 { return map[int32]int64{} }

// testGroupKgo: three kgo group members split a 6-partition topic, each
// record read once and committed; kadm sees the group; after the members
// leave and the node restarts, a new member reads only what came after.
func testGroupKgo(t *testing.T, bin string) {
	dir := t.TempDir()
	node := StartKafkaNode(t, bin, dir)
	const topic, groupID, n, more = "kgo-group", "kgo-group", 3000, 600
	createTopic(t, node.Addr, topic, groupPartitions)
	adm := newAdmin(t, node.Addr)

	// Members join first and the group settles: records produced then are
	// read by exactly one member each.
	s := newSeen()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var clients []*kgo.Client
	for i := 0; i < 3; i++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
			kgo.ClientID(fmt.Sprint("member-", i)), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				fs.EachError(func(topic string, p int32, err error) {
					if ctx.Err() == nil {
						t.Errorf("%s: fetch %s-%d: %v", name, topic, p, err)
					}
				})
				fs.EachRecord(func(r *kgo.Record) { s.add(name, r.Partition, r.Offset) })
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("%s: commit: %v", name, err)
				}
			}
		}(fmt.Sprint("member-", i))
	}
	described := waitStable(t, adm, groupID, 3)
	if described.Protocol == "" || described.ProtocolType != "consumer" {
		t.Errorf("described group: protocol %q type %q", described.Protocol, described.ProtocolType)
	}
	assigned := 0
	for _, m := range described.Members {
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				assigned += len(tp.Partitions)
			}
		}
	}
	if assigned != groupPartitions {
		t.Errorf("DescribeGroups shows %d partitions assigned, want %d", assigned, groupPartitions)
	}

	produceTo(t, node.Addr, topic, "first", n)
	ends := logEnds(t, node.Addr, topic, groupPartitions)
	waitFor(t, "all records consumed", func() bool { return s.count() >= n })
	waitFor(t, "offsets committed", func() bool {
		c := committed(t, adm, groupID, topic)
		for p, end := range ends {
			if c[p] != end {
				return false
			}
		}
		return true
	})
	if members := s.check(t, zeros(), ends); members != 3 {
		t.Errorf("%d members read records, want 3", members)
	}

	listed, err := adm.ListGroups(context.Background())
	if lg, ok := listed[groupID]; err != nil || !ok || lg.State != "Stable" || lg.ProtocolType != "consumer" {
		t.Errorf("ListGroups: %+v %v", listed, err)
	}
	cancel()
	wg.Wait()
	for _, cl := range clients {
		cl.Close() // LeaveGroup
	}
	waitFor(t, "group empty after the members left", func() bool {
		g, err := adm.DescribeGroups(context.Background(), groupID)
		return err == nil && g[groupID].State == "Empty"
	})

	// New records, a restart, and a new member: it starts at the committed
	// offsets, so it reads the new records only.
	produceTo(t, node.Addr, topic, "second", more)
	if err := node.Stop(); err != nil {
		t.Fatal(err)
	}
	node = StartKafkaNode(t, bin, dir)
	adm = newAdmin(t, node.Addr)
	if c := committed(t, adm, groupID, topic); fmt.Sprint(c) != fmt.Sprint(ends) {
		t.Fatalf("committed offsets after the restart %v, want %v", c, ends)
	}
	ends2 := logEnds(t, node.Addr, topic, groupPartitions)
	s2 := newSeen()
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic), kgo.ClientID("late"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer pcancel()
	for s2.count() < more && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { s2.add("late", r.Partition, r.Offset) })
	}
	s2.check(t, ends, ends2)
	if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
		t.Errorf("commit: %v", err)
	}
}

// waitFor polls cond for up to 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// saramaHandler records what a sarama group member consumes and marks it
// for commit.
type saramaHandler struct {
	name   string
	s      *seen
	claims chan int
}

func (h *saramaHandler) Setup(sess sarama.ConsumerGroupSession) error {
	n := 0
	for _, ps := range sess.Claims() {
		n += len(ps)
	}
	select {
	case h.claims <- n:
	default:
	}
	return nil
}

func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.s.add(h.name, m.Partition, m.Offset)
		sess.MarkMessage(m, "")
	}
	return nil
}

// saramaMember runs one sarama ConsumerGroup member until ctx ends.
func saramaMember(t *testing.T, ctx context.Context, wg *sync.WaitGroup, addr, groupID, topic string, h *saramaHandler) {
	cfg := sarama.NewConfig()
	cfg.ClientID = h.name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cg, err := sarama.NewConsumerGroup([]string{addr}, groupID, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cg.Close() // commits and leaves
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", h.name, err)
				return
			}
		}
	}()
}

// testGroupSarama: two sarama ConsumerGroup members (range assignor) split
// the topic, commit with auto-commit and on close, and a third member
// resumes from the committed offsets.
func testGroupSarama(t *testing.T, bin string) {
	node := StartKafkaNode(t, bin, t.TempDir())
	const topic, groupID, n, more = "sarama-group", "sarama-group", 2000, 500
	createTopic(t, node.Addr, topic, groupPartitions)
	adm := newAdmin(t, node.Addr)

	s := newSeen()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		saramaMember(t, ctx, &wg, node.Addr, groupID, topic, &saramaHandler{name: fmt.Sprint("sarama-", i), s: s, claims: make(chan int, 16)})
	}
	waitStable(t, adm, groupID, 2)
	produceTo(t, node.Addr, topic, "first", n)
	ends := logEnds(t, node.Addr, topic, groupPartitions)
	waitFor(t, "all records consumed", func() bool { return s.count() >= n })
	cancel()
	wg.Wait()
	if members := s.check(t, zeros(), ends); members != 2 {
		t.Errorf("%d members read records, want 2", members)
	}
	if c := committed(t, adm, groupID, topic); fmt.Sprint(c) != fmt.Sprint(ends) {
		t.Fatalf("committed %v, want %v", c, ends)
	}

	produceTo(t, node.Addr, topic, "second", more)
	ends2 := logEnds(t, node.Addr, topic, groupPartitions)
	s2 := newSeen()
	ctx, cancel = context.WithCancel(context.Background())
	saramaMember(t, ctx, &wg, node.Addr, groupID, topic, &saramaHandler{name: "sarama-late", s: s2, claims: make(chan int, 16)})
	waitFor(t, "new records consumed", func() bool { return s2.count() >= more })
	cancel()
	wg.Wait()
	s2.check(t, ends, ends2)
}

// testGroupKcat: librdkafka's balanced consumer (kcat -G) reads the topic
// from the start, commits as it closes, and a second run reads only what
// was produced after.
func testGroupKcat(t *testing.T, bin string) {
	kc := kcatPath(t)
	node := StartKafkaNode(t, bin, t.TempDir())
	const topic, groupID, n, more = "kcat-group", "kcat-group", 300, 50
	createTopic(t, node.Addr, topic, groupPartitions)
	adm := newAdmin(t, node.Addr)
	produceTo(t, node.Addr, topic, "first", n)
	ends := logEnds(t, node.Addr, topic, groupPartitions)

	run := func(count int) []string {
		out := kcat(t, kc, "", "-b", node.Addr, "-G", groupID, topic, "-c", fmt.Sprint(count), "-q",
			"-f", "%p %o %k\n", "-X", "auto.offset.reset=earliest")
		return strings.Fields(strings.ReplaceAll(out, "\n", " | "))
	}
	parse := func(out []string, s *seen) {
		line := []string{}
		for _, f := range append(out, "|") {
			if f != "|" {
				line = append(line, f)
				continue
			}
			if len(line) == 3 {
				var p int32
				var o int64
				fmt.Sscan(line[0], &p)
				fmt.Sscan(line[1], &o)
				s.add("kcat", p, o)
			}
			line = line[:0]
		}
	}
	s := newSeen()
	parse(run(n), s)
	s.check(t, zeros(), ends)
	if c := committed(t, adm, groupID, topic); fmt.Sprint(c) != fmt.Sprint(ends) {
		t.Fatalf("kcat committed %v, want %v", c, ends)
	}

	produceTo(t, node.Addr, topic, "second", more)
	ends2 := logEnds(t, node.Addr, topic, groupPartitions)
	s2 := newSeen()
	parse(run(more), s2)
	s2.check(t, ends, ends2)
}

// testGroupCluster: on a KRaft cluster of three brokers (-brokers 3) the
// controller creates __consumer_offsets with replication factor 3; two kgo
// members find their coordinator, read every record once and commit, and
// the commits are replicated before they are answered.
func testGroupCluster(t *testing.T, bin string) {
	node := StartKafkaNode(t, bin, t.TempDir(), "-brokers", "3")
	const topic, groupID, n = "cluster-group", "cluster-group", 2000
	adm := newAdmin(t, node.Addr)
	waitFor(t, "three brokers", func() bool {
		meta, err := adm.BrokerMetadata(context.Background())
		return err == nil && len(meta.Brokers) == 3 && meta.Controller >= 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitFor(t, "topic created", func() bool {
		resp, err := adm.CreateTopic(ctx, groupPartitions, 3, nil, topic)
		return err == nil && resp.Err == nil
	})

	s := newSeen()
	cctx, ccancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		name := fmt.Sprint("member-", i)
		cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.ConsumerGroup(groupID), kgo.ConsumeTopics(topic),
			kgo.ClientID(name), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			for cctx.Err() == nil {
				fs := cl.PollFetches(cctx)
				fs.EachRecord(func(r *kgo.Record) { s.add(name, r.Partition, r.Offset) })
				if err := cl.CommitUncommittedOffsets(cctx); err != nil && cctx.Err() == nil {
					t.Errorf("%s: commit: %v", name, err)
				}
			}
		}()
	}
	waitStable(t, adm, groupID, 2)
	produceTo(t, node.Addr, topic, "cluster", n)
	ends := logEnds(t, node.Addr, topic, groupPartitions)
	waitFor(t, "all records consumed", func() bool { return s.count() >= n })
	waitFor(t, "offsets committed", func() bool { return fmt.Sprint(committed(t, adm, groupID, topic)) == fmt.Sprint(ends) })
	ccancel()
	wg.Wait()
	if members := s.check(t, zeros(), ends); members != 2 {
		t.Errorf("%d members read records, want 2", members)
	}
	details, err := adm.ListTopicsWithInternal(ctx, "__consumer_offsets") // internal: ListTopics filters it out
	if err != nil {
		t.Fatal(err)
	}
	d := details["__consumer_offsets"]
	if len(d.Partitions) != 50 || len(d.Partitions[0].Replicas) != 3 {
		t.Errorf("__consumer_offsets: %d partitions, %d replicas", len(d.Partitions), len(d.Partitions[0].Replicas))
	}
}
