package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// caller sends one controller request at a time to the voter it believes
// active, and moves on to the next voter on NOT_CONTROLLER or after a
// timeout, as a broker looks for the active controller.
type caller struct {
	id       core.NodeID
	voters   []core.NodeID
	target   int
	now      int64
	corr     int32
	inflight kmsg.Request
	sentAt   int64
	done     func(kmsg.Response)
	out      []core.Envelope
}

const callTimeoutMs = 1000

func (c *caller) call(req kmsg.Request, done func(kmsg.Response)) {
	c.inflight, c.done = req, done
	c.send()
}

func (c *caller) send() {
	c.corr++
	c.sentAt = c.now
	c.out = append(c.out, core.Envelope{From: c.id, To: c.voters[c.target], CorrelationID: c.corr, Request: c.inflight})
}

func (c *caller) tick(now int64) {
	c.now = now
	if c.inflight != nil && now-c.sentAt > callTimeoutMs {
		c.target = (c.target + 1) % len(c.voters)
		c.send()
	}
}

func (c *caller) step(env core.Envelope) {
	if env.Response == nil || c.inflight == nil || env.CorrelationID != c.corr {
		return
	}
	if notController(env.Response) {
		c.target = (c.target + 1) % len(c.voters)
		c.send()
		return
	}
	done := c.done
	c.inflight, c.done = nil, nil
	done(env.Response)
}

func notController(resp kmsg.Response) bool {
	code := kerr.NotController.Code
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		return r.ErrorCode == code
	case *kmsg.BrokerHeartbeatResponse:
		return r.ErrorCode == code
	case *kmsg.AlterPartitionResponse:
		return r.ErrorCode == code
	case *kmsg.CreateTopicsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == code
	}
	return false
}

// testBroker registers with the controller quorum and heartbeats every
// broker.heartbeat.interval.ms (2000). It fetches no metadata yet, so it
// reports its own registration offset as its metadata offset.
type testBroker struct {
	caller
	incarnation [16]byte
	epoch       int64 // -1: not registered
	fenced      bool
	nextHB      int64
}

func newTestBroker(id core.NodeID, voters []core.NodeID, life byte) *testBroker {
	return &testBroker{caller: caller{id: id, voters: voters}, incarnation: [16]byte{byte(id), life}, epoch: -1, fenced: true}
}

func (b *testBroker) ID() core.NodeID { return b.id }
func (b *testBroker) Step(env core.Envelope) {
	b.step(env)
}
func (b *testBroker) Tick(now int64) {
	b.tick(now)
	if b.inflight != nil {
		return
	}
	if b.epoch < 0 {
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.BrokerID, req.IncarnationID = int32(b.id), b.incarnation
		req.Listeners = []kmsg.BrokerRegistrationRequestListener{{Name: "PLAINTEXT", Host: fmt.Sprintf("broker-%d", b.id), Port: 9092}}
		b.call(req, func(r kmsg.Response) {
			if resp := r.(*kmsg.BrokerRegistrationResponse); resp.ErrorCode == 0 {
				b.epoch, b.nextHB = resp.BrokerEpoch, 0
			}
		})
		return
	}
	if now >= b.nextHB {
		b.nextHB = now + 2000
		req := kmsg.NewPtrBrokerHeartbeatRequest()
		req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset = int32(b.id), b.epoch, b.epoch
		b.call(req, func(r kmsg.Response) {
			resp := r.(*kmsg.BrokerHeartbeatResponse)
			switch {
			case resp.ErrorCode == kerr.StaleBrokerEpoch.Code:
				b.epoch = -1 // registered again by another incarnation, or lost: register
			case resp.ErrorCode == 0:
				b.fenced = resp.IsFenced
			}
		})
	}
}
func (b *testBroker) Ready() core.Ready { return core.Ready{Messages: b.out} }
func (b *testBroker) Advance()          { b.out = nil }

// admin sends requests (CreateTopics...) from a client id.
type admin struct {
	caller
	queue []func()
}

func (a *admin) ID() core.NodeID        { return a.id }
func (a *admin) Step(env core.Envelope) { a.step(env) }
func (a *admin) Tick(now int64) {
	a.tick(now)
	if a.inflight == nil && len(a.queue) > 0 {
		next := a.queue[0]
		a.queue = a.queue[1:]
		next()
	}
}
func (a *admin) Ready() core.Ready { return core.Ready{Messages: a.out} }
func (a *admin) Advance()          { a.out = nil }

func (a *admin) enqueue(req kmsg.Request, done func(kmsg.Response)) {
	a.queue = append(a.queue, func() { a.call(req, done) })
}

// cluster is voters 1..n and brokers 11.. in a sim.
type cluster struct {
	t       *testing.T
	s       *sim.Sim
	voters  []core.NodeID
	brokers []core.NodeID
	cfg     Config
	admin   *admin
	lives   map[core.NodeID]byte
	trace   []sim.Observed
}

const adminID core.NodeID = core.ClientIDBase

func newCluster(t *testing.T, seed uint64, voters, brokers int, cfg Config) *cluster {
	c := &cluster{t: t, s: sim.New(seed), cfg: cfg, lives: map[core.NodeID]byte{}}
	c.s.OnEvent = func(o sim.Observed) { c.trace = append(c.trace, o) }
	for i := 1; i <= voters; i++ {
		c.voters = append(c.voters, core.NodeID(i))
	}
	for _, id := range c.voters {
		c.s.Add(c.openVoter(id, nil), nil)
	}
	for i := 0; i < brokers; i++ {
		id := core.NodeID(11 + i)
		c.brokers = append(c.brokers, id)
		c.s.Add(newTestBroker(id, c.voters, 0), nil)
	}
	c.admin = &admin{caller: caller{id: adminID, voters: c.voters}}
	c.s.Add(c.admin, nil)
	return c
}

func (c *cluster) openVoter(id core.NodeID, store storage.Store) core.Machine {
	cfg := c.cfg
	cfg.ID, cfg.Voters, cfg.Seed = id, c.voters, c.s.Rand().Uint64()
	v, err := Open(cfg, store)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// open restarts a crashed voter or broker (a new broker incarnation).
func (c *cluster) open(id core.NodeID, store storage.Store) core.Machine {
	if slices.Contains(c.voters, id) {
		return c.openVoter(id, store)
	}
	c.lives[id]++
	return newTestBroker(id, c.voters, c.lives[id])
}

func (c *cluster) restart(id core.NodeID) {
	c.s.Restart(id, func(st storage.Store) core.Machine { return c.open(id, st) })
}

func (c *cluster) voter(id core.NodeID) *Controller {
	v, _ := c.s.Machine(id).(*Controller)
	return v
}

func (c *cluster) broker(id core.NodeID) *testBroker {
	b, _ := c.s.Machine(id).(*testBroker)
	return b
}

// active lists the running voters that consider themselves active.
func (c *cluster) active() []core.NodeID {
	var out []core.NodeID
	for _, id := range c.voters {
		if v := c.voter(id); v != nil && v.Active() {
			out = append(out, id)
		}
	}
	return out
}

// settled: one active controller, every running voter on its epoch and
// with the same image, every running broker registered and unfenced in it.
func (c *cluster) settled() bool {
	act := c.active()
	if len(act) != 1 {
		return false
	}
	leader := c.voter(act[0])
	want := leader.Image().String()
	for _, id := range c.voters {
		if v := c.voter(id); v != nil && (v.Epoch() != leader.Epoch() || v.Image().String() != want) {
			return false
		}
	}
	for _, id := range c.brokers {
		if b := c.broker(id); b != nil {
			reg, ok := leader.Image().Broker(int32(id))
			if !ok || reg.Fenced || reg.Epoch != b.epoch {
				return false
			}
		}
	}
	return true
}

func (c *cluster) settle(maxMs int64) {
	c.t.Helper()
	if !c.s.RunUntil(c.settled, maxMs) {
		c.t.Fatalf("no settled cluster after %d ms: active %v\n%s", maxMs, c.active(), c.describe())
	}
	c.s.RunFor(200) // let the followers learn the last commit index
}

func (c *cluster) describe() string {
	var b strings.Builder
	for _, id := range c.voters {
		if v := c.voter(id); v != nil {
			fmt.Fprintf(&b, "voter %d epoch %d leader %d active %t\n%s", id, v.Epoch(), v.Leader(), v.Active(), v.Image())
		} else {
			fmt.Fprintf(&b, "voter %d down\n", id)
		}
	}
	return b.String()
}

func (c *cluster) createTopic(name string, parts int32, rf int16, configs map[string]string, asg ...[]int32) (code int16) {
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
	for i, r := range asg {
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: r})
	}
	for _, k := range sortedKeys(configs) {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(configs[k])})
	}
	req.Topics = append(req.Topics, rt)
	done := false
	c.admin.enqueue(req, func(r kmsg.Response) { code, done = r.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode, true })
	if !c.s.RunUntil(func() bool { return done }, 30000) {
		c.t.Fatalf("CreateTopics %s got no answer", name)
	}
	return code
}

// checkQuorum verifies the controller invariants on a run's events:
//   - at most one raft leader per epoch (term);
//   - the metadata logs voters applied are prefixes of each other: the
//     entry at an offset has the same epoch and CRC on every voter;
//   - each voter applies offsets in order, without gaps (a restart starts
//     over, a snapshot jumps).
func checkQuorum(events []sim.Observed) []string {
	var bad []string
	leaders := map[int64]core.NodeID{}
	type entry struct {
		epoch int64
		crc   uint32
	}
	applied := map[int64]entry{}
	last := map[core.NodeID]int64{}
	for _, o := range events {
		switch e := o.Event.(type) {
		case core.ControllerElected:
			if l, ok := leaders[e.Epoch]; ok && l != e.Controller {
				bad = append(bad, fmt.Sprintf("t=%d: epoch %d has two leaders, %d and %d", o.Time, e.Epoch, l, e.Controller))
			}
			leaders[e.Epoch] = e.Controller
		case core.FaultInjected:
			if e.Kind == core.FaultCrash || e.Kind == core.FaultPowerLoss {
				for _, n := range e.Nodes {
					delete(last, n)
				}
			}
		case core.MetadataApplied:
			if e.Snapshot {
				last[o.Node] = e.Offset
				continue
			}
			if l, ok := last[o.Node]; ok && e.Offset != l+1 {
				bad = append(bad, fmt.Sprintf("t=%d node %d: applied offset %d after %d", o.Time, o.Node, e.Offset, l))
			}
			last[o.Node] = e.Offset
			want := entry{e.Epoch, e.CRC}
			if got, ok := applied[e.Offset]; ok && got != want {
				bad = append(bad, fmt.Sprintf("t=%d node %d: offset %d is epoch %d crc %08x here, epoch %d crc %08x elsewhere",
					o.Time, o.Node, e.Offset, e.Epoch, e.CRC, got.epoch, got.crc))
			}
			applied[e.Offset] = want
		}
	}
	return bad
}

func (c *cluster) check() {
	c.t.Helper()
	for _, v := range checkQuorum(c.trace) {
		c.t.Error(v)
	}
}

func TestCheckQuorumFails(t *testing.T) {
	ev := func(node core.NodeID, e core.Event) sim.Observed { return sim.Observed{Node: node, Event: e} }
	bad := checkQuorum([]sim.Observed{
		ev(1, core.ControllerElected{Controller: 1, Epoch: 2}),
		ev(2, core.ControllerElected{Controller: 2, Epoch: 2}),
		ev(1, core.MetadataApplied{Offset: 1, Epoch: 2, CRC: 1}),
		ev(2, core.MetadataApplied{Offset: 1, Epoch: 2, CRC: 2}),
		ev(2, core.MetadataApplied{Offset: 3, Epoch: 2}),
	})
	for _, want := range []string{"two leaders", "crc", "offset 3 after 1"} {
		if !strings.Contains(strings.Join(bad, "\n"), want) {
			t.Errorf("checker missed %q: %q", want, bad)
		}
	}
}

func TestLeaderElected(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("voters=%d", n), func(t *testing.T) {
			c := newCluster(t, 1, n, 0, Config{})
			if !c.s.RunUntil(func() bool { return len(c.active()) == 1 }, 5000) {
				t.Fatalf("no active controller after 5 s")
			}
			c.s.RunFor(5000)
			act := c.active()
			if len(act) != 1 {
				t.Fatalf("active controllers: %v", act)
			}
			for _, id := range c.voters {
				if l := c.voter(id).Leader(); l != act[0] {
					t.Errorf("voter %d thinks %d leads, not %d", id, l, act[0])
				}
			}
			c.check()
		})
	}
}

func TestRegistrationAndFencing(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("voters=%d", n), func(t *testing.T) {
			c := newCluster(t, 2, n, 3, Config{})
			c.settle(10000)
			// Broker 12 stops heartbeating: it is fenced after
			// broker.session.timeout.ms, not before.
			c.s.Crash(12)
			crashed := c.s.Now()
			var fencedAt int64
			c.s.OnEvent = func(o sim.Observed) {
				c.trace = append(c.trace, o)
				if f, ok := o.Event.(core.BrokerFenced); ok && f.Broker == 12 && fencedAt == 0 {
					fencedAt = o.Time
				}
			}
			c.s.RunFor(15000)
			if fencedAt == 0 {
				t.Fatalf("broker 12 never fenced")
			}
			// Its last heartbeat was up to 2 s before the crash.
			if d := fencedAt - crashed; d < 9000-2000 || d > 9000+500 {
				t.Errorf("fenced %d ms after its last chance to heartbeat", d)
			}
			for _, id := range c.voters {
				b, _ := c.voter(id).Image().Broker(12)
				if !b.Fenced {
					t.Errorf("voter %d: broker 12 not fenced", id)
				}
			}
			// A new incarnation registers and is unfenced.
			c.restart(12)
			c.settle(10000)
			c.check()
		})
	}
}

// Leader election on fencing in a running quorum, with the topic created by
// CreateTopics over the network.
func TestElectionInQuorum(t *testing.T) {
	c := newCluster(t, 3, 3, 3, Config{})
	c.settle(10000)
	if code := c.createTopic("t", -1, -1, nil, []int32{11, 12, 13}, []int32{12, 13, 11}); code != 0 {
		t.Fatalf("create: %s", errName(code))
	}
	if code := c.createTopic("auto", 6, 3, nil); code != 0 {
		t.Fatalf("create: %s", errName(code))
	}
	if code := c.createTopic("too-big", 1, 4, nil); errName(code) != "INVALID_REPLICATION_FACTOR" {
		t.Fatalf("rf 4 on 3 brokers: %s", errName(code))
	}
	c.s.Crash(11)
	c.s.RunFor(12000)
	leader := c.voter(c.active()[0])
	p0, _ := leader.Image().Partition("t", 0)
	p1, _ := leader.Image().Partition("t", 1)
	if p0.Leader != 12 || !slices.Equal(p0.ISR, []int32{12, 13}) || p0.LeaderEpoch != 1 {
		t.Errorf("t-0 after 11 fenced: %+v", p0)
	}
	if p1.Leader != 12 || !slices.Equal(p1.ISR, []int32{12, 13}) || p1.LeaderEpoch != 0 || p1.PartitionEpoch != 1 {
		t.Errorf("t-1 after 11 fenced: %+v", p1)
	}
	auto, _ := leader.Image().Topic("auto")
	for i, p := range auto.Partitions {
		if p.Leader == 11 || slices.Contains(p.ISR, 11) {
			t.Errorf("auto-%d still has broker 11: %+v", i, p)
		}
	}
	c.restart(11)
	c.settle(10000)
	c.check()
}

// A crashed voter, the leader included, restarts from its store; a
// partitioned leader steps down. Both converge to one active controller
// and the same image on every voter.
func TestQuorumFaults(t *testing.T) {
	c := newCluster(t, 4, 3, 3, Config{})
	c.settle(10000)
	c.createTopic("a", 3, 2, nil)
	first := c.active()[0]

	// Crash the active controller; a new one takes over and keeps serving.
	c.s.Crash(first)
	if !c.s.RunUntil(func() bool { a := c.active(); return len(a) == 1 && a[0] != first }, 5000) {
		t.Fatalf("no new active controller: %s", c.describe())
	}
	if code := c.createTopic("b", 2, 3, nil); code != 0 {
		t.Fatalf("create with a voter down: %s", errName(code))
	}
	c.restart(first)
	c.settle(10000)
	if _, ok := c.voter(first).Image().Topic("b"); !ok {
		t.Errorf("restarted voter %d missed topic b", first)
	}

	// Cut the active controller off from everyone.
	lead := c.active()[0]
	var others []core.NodeID
	for _, id := range c.s.IDs() {
		if id != lead {
			others = append(others, id)
		}
	}
	c.s.Partition([]core.NodeID{lead}, others)
	c.s.RunFor(4000)
	if act := c.active(); len(act) != 1 || act[0] == lead {
		t.Errorf("while %d is cut off, active: %v (it must step down, another must lead)", lead, act)
	}
	if code := c.createTopic("c", 1, 1, nil); code != 0 {
		t.Fatalf("create on the majority side: %s", errName(code))
	}
	c.s.HealAll()
	c.settle(15000)
	if _, ok := c.voter(lead).Image().Topic("c"); !ok {
		t.Errorf("voter %d missed topic c after the partition healed", lead)
	}
	c.check()
}

// A voter that was down while the others snapshotted and compacted their
// logs catches up from a snapshot.
func TestSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 5, 3, 3, Config{SnapshotEvery: 4})
	c.settle(10000)
	var down core.NodeID
	for _, id := range c.voters {
		if id != c.active()[0] {
			down = id
		}
	}
	c.s.Crash(down)
	for i := range 6 {
		if code := c.createTopic(fmt.Sprintf("t%d", i), 1, 2, nil); code != 0 {
			t.Fatal(errName(code))
		}
	}
	c.restart(down)
	c.settle(10000)
	snap := false
	for _, o := range c.trace {
		if m, ok := o.Event.(core.MetadataApplied); ok && o.Node == down && m.Snapshot {
			snap = true
		}
	}
	if !snap {
		t.Errorf("voter %d did not catch up from a snapshot", down)
	}
	c.check()
}

// Random faults on voters and brokers: crashes with restarts from the
// store, partitions, pauses, slow nodes, lost messages. The invariants hold
// and the cluster settles once the faults stop.
func TestNemesis(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 2
	}
	for seed := range uint64(seeds) {
		c := newCluster(t, 100+seed, 3, 4, Config{SnapshotEvery: 20})
		runNemesis(c, 120000)
		c.check()
		if t.Failed() {
			t.Fatalf("seed %d failed", 100+seed)
		}
	}
}

// Power loss takes back every write a voter did not sync: raft's log is
// synced before votes and acknowledgements leave (storage.Write.Sync), so
// the quorum survives it as it survives crashes.
func TestNemesisPowerLoss(t *testing.T) {
	for seed := range uint64(4) {
		c := newCluster(t, 200+seed, 3, 4, Config{SnapshotEvery: 20})
		runNemesis(c, 120000, sim.NemesisPowerLoss, sim.NemesisCrash, sim.NemesisPartition)
		c.check()
		if t.Failed() {
			t.Fatalf("seed %d failed", 200+seed)
		}
	}
}

func runNemesis(c *cluster, ms int64, kinds ...string) {
	c.settle(10000)
	targets := append(slices.Clone(c.voters), c.brokers...)
	n := sim.StartNemesis(c.s, sim.NemesisConfig{Targets: targets, Open: c.open, MinIntervalMs: 2000, MaxIntervalMs: 6000, Kinds: kinds})
	topics := 0
	for end := c.s.Now() + ms; c.s.Now() < end; {
		c.s.RunFor(5000)
		if len(c.admin.queue) == 0 && c.admin.inflight == nil {
			topics++
			req := kmsg.NewPtrCreateTopicsRequest()
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("t%d", topics), 2, 2
			req.Topics = append(req.Topics, rt)
			c.admin.enqueue(req, func(kmsg.Response) {})
		}
	}
	n.Stop()
	c.s.HealAll()
	for _, id := range targets {
		if c.s.Machine(id) == nil {
			c.restart(id)
		}
	}
	c.settle(30000)
	if int64(n.Faults()) < ms/12000 {
		c.t.Errorf("only %d faults in %d ms", n.Faults(), ms)
	}
}

// Same seed, same run: every event at the same time, in the same order.
func TestDeterminism(t *testing.T) {
	run := func(seed uint64) string {
		c := newCluster(t, seed, 3, 3, Config{SnapshotEvery: 10})
		runNemesis(c, 40000)
		var b strings.Builder
		for _, o := range c.trace {
			fmt.Fprintf(&b, "%d %d %s\n", o.Time, o.Node, describe(o.Event))
		}
		return b.String()
	}
	a, b := run(42), run(42)
	if a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("runs diverge at event %d:\n%s\n%s", i, al[i], bl[i])
			}
		}
		t.Fatalf("runs differ in length: %d vs %d events", len(al), len(bl))
	}
	if run(43) == a {
		t.Error("another seed replays the same run")
	}
	if !strings.Contains(a, "MsgApp") || !strings.Contains(a, "ControllerElected") {
		t.Errorf("the trace lacks raft messages or elections")
	}
}

// describe prints an event without pointers, so that traces compare.
func describe(ev core.Event) string {
	env := func(e core.Envelope) string {
		if e.Raft != nil {
			return fmt.Sprintf("%d->%d %s", e.From, e.To, DescribeRaft(e.Raft))
		}
		return e.String()
	}
	switch e := ev.(type) {
	case core.MessageSent:
		return "sent " + env(e.Envelope)
	case core.MessageDelivered:
		return "delivered " + env(e.Envelope)
	case core.MessageDropped:
		return "dropped " + env(e.Envelope) + " " + e.Reason
	case core.MessageDuplicated:
		return "duplicated " + env(e.Envelope)
	}
	return fmt.Sprintf("%T %+v", ev, ev)
}

func TestDescribeRaft(t *testing.T) {
	c := newCluster(t, 9, 3, 0, Config{})
	c.s.RunFor(3000)
	kinds := map[string]bool{}
	for _, o := range c.trace {
		if m, ok := o.Event.(core.MessageSent); ok && m.Envelope.Raft != nil {
			kinds[strings.Fields(DescribeRaft(m.Envelope.Raft))[0]] = true
			if s := m.Envelope.String(); !strings.Contains(s, "raft message") || m.Envelope.Key() != -1 {
				t.Errorf("envelope %q key %d", s, m.Envelope.Key())
			}
		}
	}
	for _, k := range []string{"MsgPreVote", "MsgVote", "MsgApp", "MsgHeartbeat"} {
		if !kinds[k] {
			t.Errorf("no %s in %v", k, kinds)
		}
	}
}
