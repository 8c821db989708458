package controller

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// solo drives a single-voter controller by hand, without sim: with one
// voter a proposal commits within the Step that makes it, so a request's
// response is in the Ready right after.
type solo struct {
	t      *testing.T
	c      *Controller
	cfg    Config
	store  *storage.Memory
	now    int64
	corr   int32
	events []core.Event
	resps  map[int32]kmsg.Response
}

func newSolo(t *testing.T, cfg Config) *solo {
	t.Helper()
	cfg.ID, cfg.Voters = 1, []core.NodeID{1}
	s := &solo{t: t, cfg: cfg, store: storage.NewMemory(), now: sim.Epoch, resps: map[int32]kmsg.Response{}}
	c, err := Open(cfg, s.store)
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	for i := 0; i < 100 && !c.Active(); i++ {
		s.advance(100)
	}
	if !c.Active() {
		t.Fatal("the single voter never became active")
	}
	return s
}

func (s *solo) drain() {
	rd := s.c.Ready()
	if err := storage.Apply(s.store, rd.Writes); err != nil {
		s.t.Fatal(err)
	}
	for _, env := range rd.Messages {
		if env.Response != nil {
			s.resps[env.CorrelationID] = env.Response
		}
	}
	s.events = append(s.events, rd.Events...)
	s.c.Advance()
}

// advance moves the clock in raft ticks.
func (s *solo) advance(ms int64) {
	for end := s.now + ms; s.now < end; {
		s.now = min(s.now+100, end)
		s.c.Tick(s.now)
		s.drain()
	}
}

// do sends a request from broker (or client) from and returns the response.
func (s *solo) do(from core.NodeID, req kmsg.Request) kmsg.Response {
	s.t.Helper()
	s.corr++
	s.c.Step(core.Envelope{From: from, To: 1, CorrelationID: s.corr, Request: req})
	s.drain()
	resp := s.resps[s.corr]
	if resp == nil {
		s.t.Fatalf("no response to %s", core.APIName(req.Key()))
	}
	return resp
}

// register registers and unfences a broker, returning its epoch.
func (s *solo) register(id int32) int64 {
	s.t.Helper()
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.IncarnationID = id, [16]byte{byte(id), 1}
	resp := s.do(core.NodeID(id), req).(*kmsg.BrokerRegistrationResponse)
	if resp.ErrorCode != 0 {
		s.t.Fatalf("register %d: %v", id, kerr.ErrorForCode(resp.ErrorCode))
	}
	if hb := s.heartbeat(id, resp.BrokerEpoch, resp.BrokerEpoch, false); hb.IsFenced {
		s.t.Fatalf("broker %d still fenced", id)
	}
	return resp.BrokerEpoch
}

func (s *solo) heartbeat(id int32, epoch, offset int64, wantFence bool) *kmsg.BrokerHeartbeatResponse {
	s.t.Helper()
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset, req.WantFence = id, epoch, offset, wantFence
	return s.do(core.NodeID(id), req).(*kmsg.BrokerHeartbeatResponse)
}

func (s *solo) createTopic(name string, parts int32, rf int16, configs map[string]string, asg ...[]int32) *kmsg.CreateTopicsResponseTopic {
	s.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
	for i, r := range asg {
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, kmsg.CreateTopicsRequestTopicReplicaAssignment{Partition: int32(i), Replicas: r})
	}
	for _, k := range sortedKeys(configs) {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(configs[k])})
	}
	req.Topics = append(req.Topics, rt)
	resp := s.do(1000, req).(*kmsg.CreateTopicsResponse)
	return &resp.Topics[0]
}

func (s *solo) partition(topic string, p int32) Partition {
	s.t.Helper()
	part, ok := s.c.Image().Partition(topic, p)
	if !ok {
		s.t.Fatalf("no partition %s-%d", topic, p)
	}
	return part
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).(*kerr.Error).Message
}

func TestRegistrationAndHeartbeatRules(t *testing.T) {
	s := newSolo(t, Config{})
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.IncarnationID = 5, [16]byte{5, 1}
	resp := s.do(5, req).(*kmsg.BrokerRegistrationResponse)
	if resp.ErrorCode != 0 {
		t.Fatal(errName(resp.ErrorCode))
	}
	epoch := resp.BrokerEpoch
	b, _ := s.c.Image().Broker(5)
	if b.Epoch != epoch || !b.Fenced {
		t.Fatalf("registration: %+v, epoch %d; want it fenced with the epoch", b, epoch)
	}
	// The broker epoch is the offset of its registration record.
	var regOffset int64
	for _, ev := range s.events {
		if m, ok := ev.(core.MetadataApplied); ok && len(m.Records) > 0 && strings.HasPrefix(m.Records[len(m.Records)-1], "RegisterBroker(id=5") {
			regOffset = m.Offset
		}
	}
	if regOffset != epoch {
		t.Errorf("broker epoch %d, registration record at offset %d", epoch, regOffset)
	}

	// Not caught up with its own registration: stays fenced.
	if hb := s.heartbeat(5, epoch, epoch-1, false); !hb.IsFenced || hb.IsCaughtUp || hb.ErrorCode != 0 {
		t.Errorf("behind: %+v", hb)
	}
	// Wants to stay fenced: stays fenced.
	if hb := s.heartbeat(5, epoch, epoch, true); !hb.IsFenced || !hb.IsCaughtUp {
		t.Errorf("want fence: %+v", hb)
	}
	if hb := s.heartbeat(5, epoch, epoch, false); hb.IsFenced {
		t.Errorf("caught up: %+v", hb)
	}
	if b, _ := s.c.Image().Broker(5); b.Fenced {
		t.Error("the image still shows the broker fenced")
	}
	if hb := s.heartbeat(5, epoch+1, epoch, false); errName(hb.ErrorCode) != "STALE_BROKER_EPOCH" {
		t.Errorf("wrong epoch: %s", errName(hb.ErrorCode))
	}
	if hb := s.heartbeat(6, epoch, epoch, false); errName(hb.ErrorCode) != "STALE_BROKER_EPOCH" {
		t.Errorf("unknown broker: %s", errName(hb.ErrorCode))
	}

	// Another incarnation while the session lives: refused.
	other := kmsg.NewPtrBrokerRegistrationRequest()
	other.BrokerID, other.IncarnationID = 5, [16]byte{5, 2}
	if r := s.do(5, other).(*kmsg.BrokerRegistrationResponse); errName(r.ErrorCode) != "DUPLICATE_BROKER_REGISTRATION" {
		t.Errorf("duplicate: %s", errName(r.ErrorCode))
	}
	// Once the session expired (and the broker was fenced for it), accepted.
	s.advance(9500)
	if b, _ := s.c.Image().Broker(5); !b.Fenced {
		t.Fatal("not fenced after broker.session.timeout.ms")
	}
	if r := s.do(5, other).(*kmsg.BrokerRegistrationResponse); r.ErrorCode != 0 || r.BrokerEpoch <= epoch {
		t.Errorf("re-registration after expiry: %s epoch %d", errName(r.ErrorCode), r.BrokerEpoch)
	}

	// Wrong cluster id.
	s2 := newSolo(t, Config{ClusterID: "abc"})
	req.ClusterID = "xyz"
	if r := s2.do(5, req).(*kmsg.BrokerRegistrationResponse); errName(r.ErrorCode) != "INCONSISTENT_CLUSTER_ID" {
		t.Errorf("cluster id: %s", errName(r.ErrorCode))
	}
}

func TestSessionTimeoutFences(t *testing.T) {
	s := newSolo(t, Config{})
	e1, e2 := s.register(1), s.register(2)
	start := s.now
	for s.now-start < 20000 {
		s.advance(1000)
		s.heartbeat(1, e1, e1, false) // broker 2 went quiet
	}
	var fenced []core.BrokerFenced
	for _, ev := range s.events {
		if f, ok := ev.(core.BrokerFenced); ok {
			fenced = append(fenced, f)
		}
	}
	if len(fenced) != 1 || fenced[0].Broker != 2 || fenced[0].Epoch != e2 || !strings.Contains(fenced[0].Reason, "broker.session.timeout.ms=9000") {
		t.Fatalf("fenced: %+v", fenced)
	}
	// Heartbeating again unfences it.
	if hb := s.heartbeat(2, e2, e2, false); hb.IsFenced {
		t.Errorf("still fenced: %+v", hb)
	}
	// WantShutdown fences at once.
	if hb := s.heartbeat(2, e2, e2, false); hb.IsFenced {
		t.Fatal("fenced again")
	}
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch, req.CurrentMetadataOffset, req.WantShutdown = 2, e2, e2, true
	if hb := s.do(2, req).(*kmsg.BrokerHeartbeatResponse); !hb.IsFenced || !hb.ShouldShutdown {
		t.Errorf("shutdown: %+v", hb)
	}
}

func TestCreateTopicsPlacement(t *testing.T) {
	s := newSolo(t, Config{Seed: 7})
	for _, id := range []int32{1, 2, 3} {
		s.register(id)
	}
	st := s.createTopic("orders", 6, 3, nil)
	if st.ErrorCode != 0 || st.NumPartitions != 6 || st.ReplicationFactor != 3 || st.TopicID == [16]byte{} {
		t.Fatalf("create: %s %+v", errName(st.ErrorCode), st)
	}
	topic, _ := s.c.Image().Topic("orders")
	var got [][]int32
	for _, p := range topic.Partitions {
		got = append(got, p.Replicas)
		if p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
			t.Errorf("partition %+v: want leader = first replica, ISR = replicas, epochs 0", p)
		}
	}
	// The controller drew startIndex and replicaShift: the placement must be
	// Kafka's for one of the n*n choices.
	found := false
	for start := range 3 {
		for shift := range 3 {
			found = found || slices.EqualFunc(PlaceReplicas([]int32{1, 2, 3}, 6, 3, start, shift), got, slices.Equal)
		}
	}
	if !found {
		t.Errorf("placement %v is not Kafka's rack-unaware placement", got)
	}

	// Errors, with Kafka's codes.
	for _, tc := range []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]string
		want    string
	}{
		{"orders", 1, 1, nil, "TOPIC_ALREADY_EXISTS"},
		{"bad/name", 1, 1, nil, "INVALID_TOPIC_EXCEPTION"},
		{"ord_ers", 1, 1, nil, "NONE"},
		{"ord.ers", 1, 1, nil, "INVALID_TOPIC_EXCEPTION"}, // collides with ord_ers
		{"big", 1, 4, nil, "INVALID_REPLICATION_FACTOR"},
		{"zero", 0, 1, nil, "INVALID_PARTITIONS"},
		{"norf", 1, 0, nil, "INVALID_REPLICATION_FACTOR"},
		{"cfg", 1, 1, map[string]string{"unclean.leader.election.enable": "maybe"}, "INVALID_CONFIG"},
		{"dflt", -1, -1, nil, "NONE"},
	} {
		if got := errName(s.createTopic(tc.name, tc.parts, tc.rf, tc.configs).ErrorCode); got != tc.want {
			t.Errorf("%s parts=%d rf=%d: %s, want %s", tc.name, tc.parts, tc.rf, got, tc.want)
		}
	}
	// RF must fit the unfenced brokers.
	s.heartbeat(3, mustBroker(t, s, 3).Epoch, 0, true)
	if got := s.createTopic("rf3", 1, 3, nil); errName(got.ErrorCode) != "INVALID_REPLICATION_FACTOR" ||
		!strings.Contains(*got.ErrorMessage, "only 2 broker(s) are registered") {
		t.Errorf("rf 3 with a fenced broker: %s %v", errName(got.ErrorCode), got.ErrorMessage)
	}
	// A manual assignment: the ISR is its unfenced replicas, the leader the first of them.
	if st := s.createTopic("manual", -1, -1, nil, []int32{3, 1, 2}, []int32{1, 2, 3}); st.ErrorCode != 0 {
		t.Fatal(errName(st.ErrorCode))
	}
	if p := s.partition("manual", 0); p.Leader != 1 || !slices.Equal(p.ISR, []int32{1, 2}) {
		t.Errorf("manual partition 0: %+v", p)
	}
	if st := s.createTopic("manual2", -1, -1, nil, []int32{1, 9}); errName(st.ErrorCode) != "INVALID_REPLICA_ASSIGNMENT" {
		t.Errorf("unknown broker in assignment: %s", errName(st.ErrorCode))
	}
}

func mustBroker(t *testing.T, s *solo, id int32) Broker {
	b, ok := s.c.Image().Broker(id)
	if !ok {
		t.Fatalf("no broker %d", id)
	}
	return b
}

// Kafka's AdminTest.testReplicaAssignment (brokers 0..4, 10 partitions,
// RF 3, fixed start index 0), and the 3-broker case worked by hand.
func TestPlaceReplicasKafkaCases(t *testing.T) {
	got := PlaceReplicas([]int32{0, 1, 2, 3, 4}, 10, 3, 0, 0)
	want := [][]int32{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1}, {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("AdminTest case:\n got %v\nwant %v", got, want)
	}
	got = PlaceReplicas([]int32{0, 1, 2}, 6, 3, 0, 0)
	want = [][]int32{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {1, 0, 2}, {2, 1, 0}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("3 brokers:\n got %v\nwant %v", got, want)
	}
	// A random start shifts the leaders; every broker leads as many.
	got = PlaceReplicas([]int32{10, 20, 30}, 3, 2, 2, 1)
	want = [][]int32{{30, 20}, {10, 30}, {20, 10}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("start 2 shift 1:\n got %v\nwant %v", got, want)
	}
}

// Leader election on fencing follows PartitionChangeBuilder: first replica
// in assignment order that is in the ISR and unfenced; the last ISR member
// stays; no leader without unclean election; unclean picks the first live
// replica and makes it the whole ISR.
func TestElectionOnFencing(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		s := newSolo(t, Config{})
		e := map[int32]int64{}
		for _, id := range []int32{1, 2, 3} {
			e[id] = s.register(id)
		}
		configs := map[string]string{"unclean.leader.election.enable": "false"}
		if unclean {
			configs["unclean.leader.election.enable"] = "true"
		}
		if st := s.createTopic("t", -1, -1, configs, []int32{1, 2, 3}, []int32{2, 3, 1}, []int32{3, 1, 2}); st.ErrorCode != 0 {
			t.Fatal(errName(st.ErrorCode))
		}
		fence := func(id int32) { s.heartbeat(id, e[id], e[id], true) }
		check := func(step string, p int32, leader int32, isr []int32, leaderEpoch, partEpoch int32) {
			t.Helper()
			got := s.partition("t", p)
			if got.Leader != leader || !slices.Equal(got.ISR, isr) || got.LeaderEpoch != leaderEpoch || got.PartitionEpoch != partEpoch {
				t.Errorf("unclean=%t %s: partition %d = leader %d isr %v epochs %d/%d; want leader %d isr %v epochs %d/%d",
					unclean, step, p, got.Leader, got.ISR, got.LeaderEpoch, got.PartitionEpoch, leader, isr, leaderEpoch, partEpoch)
			}
		}
		fence(1)
		check("1 fenced", 0, 2, []int32{2, 3}, 1, 1)
		check("1 fenced", 1, 2, []int32{2, 3}, 0, 1)
		check("1 fenced", 2, 3, []int32{3, 2}, 0, 1)
		fence(2)
		check("2 fenced", 0, 3, []int32{3}, 2, 2)
		fence(3)
		check("3 fenced", 0, NoLeader, []int32{3}, 3, 3) // the last ISR member stays
		// Broker 1 comes back: not in the ISR.
		s.heartbeat(1, e[1], e[1], false)
		if !unclean {
			check("1 back", 0, NoLeader, []int32{3}, 3, 3)
			s.heartbeat(3, e[3], e[3], false) // the last ISR member returns and leads
			check("3 back", 0, 3, []int32{3}, 4, 4)
			continue
		}
		check("1 back, unclean", 0, 1, []int32{1}, 4, 4)
		var ev core.PartitionLeaderChanged
		for _, x := range s.events {
			if l, ok := x.(core.PartitionLeaderChanged); ok && l.Partition == 0 && l.Leader == 1 {
				ev = l
			}
		}
		if !ev.Unclean {
			t.Errorf("unclean election not reported: %+v", ev)
		}
	}
}

func TestAlterPartition(t *testing.T) {
	s := newSolo(t, Config{})
	e := map[int32]int64{}
	for _, id := range []int32{1, 2, 3} {
		e[id] = s.register(id)
	}
	st := s.createTopic("t", -1, -1, nil, []int32{1, 2, 3})
	id := st.TopicID
	alter := func(broker int32, epoch int64, leaderEpoch, partEpoch int32, isr ...int32) *kmsg.AlterPartitionResponse {
		req := kmsg.NewPtrAlterPartitionRequest()
		req.Version = 3
		req.BrokerID, req.BrokerEpoch = broker, epoch
		p := kmsg.NewAlterPartitionRequestTopicPartition()
		p.LeaderEpoch, p.PartitionEpoch = leaderEpoch, partEpoch
		for _, r := range isr {
			p.NewEpochISR = append(p.NewEpochISR, kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: r, BrokerEpoch: e[r]})
		}
		req.Topics = []kmsg.AlterPartitionRequestTopic{{TopicID: id, Partitions: []kmsg.AlterPartitionRequestTopicPartition{p}}}
		return s.do(core.NodeID(broker), req).(*kmsg.AlterPartitionResponse)
	}
	code := func(r *kmsg.AlterPartitionResponse) string {
		if r.ErrorCode != 0 {
			return errName(r.ErrorCode)
		}
		return errName(r.Topics[0].Partitions[0].ErrorCode)
	}
	// The leader shrinks the ISR.
	r := alter(1, e[1], 0, 0, 1, 2)
	if code(r) != "NONE" || !slices.Equal(r.Topics[0].Partitions[0].ISR, []int32{1, 2}) || r.Topics[0].Partitions[0].PartitionEpoch != 1 {
		t.Fatalf("shrink: %s %+v", code(r), r.Topics[0].Partitions[0])
	}
	if p := s.partition("t", 0); !slices.Equal(p.ISR, []int32{1, 2}) || p.PartitionEpoch != 1 || p.LeaderEpoch != 0 {
		t.Errorf("after shrink: %+v", p)
	}
	for _, tc := range []struct {
		name                   string
		broker                 int32
		epoch                  int64
		leaderEpoch, partEpoch int32
		isr                    []int32
		want                   string
	}{
		{"stale partition epoch", 1, e[1], 0, 0, []int32{1, 2, 3}, "INVALID_UPDATE_VERSION"},
		{"stale leader epoch", 1, e[1], -1, 1, []int32{1, 2, 3}, "FENCED_LEADER_EPOCH"},
		{"newer leader epoch", 1, e[1], 1, 1, []int32{1, 2, 3}, "NOT_CONTROLLER"},
		{"not the leader", 2, e[2], 0, 1, []int32{1, 2, 3}, "INVALID_REQUEST"},
		{"leader not in ISR", 1, e[1], 0, 1, []int32{2, 3}, "INVALID_REQUEST"},
		{"not a replica", 1, e[1], 0, 1, []int32{1, 7}, "INVALID_REQUEST"},
		{"stale broker epoch", 1, e[1] + 1, 0, 1, []int32{1, 2, 3}, "STALE_BROKER_EPOCH"},
		{"expand", 1, e[1], 0, 1, []int32{1, 2, 3}, "NONE"},
	} {
		if got := code(alter(tc.broker, tc.epoch, tc.leaderEpoch, tc.partEpoch, tc.isr...)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	s.heartbeat(3, e[3], e[3], true) // fence 3: it leaves the ISR
	p := s.partition("t", 0)
	if got := code(alter(1, e[1], p.LeaderEpoch, p.PartitionEpoch, 1, 2, 3)); got != "INELIGIBLE_REPLICA" {
		t.Errorf("fenced replica in the ISR: %s", got)
	}
}

func TestDeleteTopics(t *testing.T) {
	s := newSolo(t, Config{})
	s.register(1)
	st := s.createTopic("a", 2, 1, nil)
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version = 6
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("a")}, {Topic: kmsg.StringPtr("nope")}}
	resp := s.do(1000, req).(*kmsg.DeleteTopicsResponse)
	if resp.Topics[0].ErrorCode != 0 || resp.Topics[0].TopicID != st.TopicID || errName(resp.Topics[1].ErrorCode) != "UNKNOWN_TOPIC_OR_PARTITION" {
		t.Fatalf("delete: %+v", resp.Topics)
	}
	if _, ok := s.c.Image().Topic("a"); ok {
		t.Error("topic still there")
	}
	if st := s.createTopic("a", 1, 1, nil); st.ErrorCode != 0 || st.TopicID == resp.Topics[0].TopicID {
		t.Errorf("recreate: %s, id reused: %t", errName(st.ErrorCode), st.TopicID == resp.Topics[0].TopicID)
	}
}

// A voter restarted from its store has the same image; a torn tail of its
// log is cut off; snapshots compact the log and are recovered too.
func TestRestartFromStore(t *testing.T) {
	for _, every := range []int64{-1, 3} {
		s := newSolo(t, Config{SnapshotEvery: every})
		for _, id := range []int32{1, 2} {
			s.register(id)
		}
		s.createTopic("x", 3, 2, nil)
		want := s.c.Image().String()
		wantOffset := s.c.Image().Offset() + 1 // the restarted voter is elected again: one more (empty) entry
		if every > 0 {
			if _, err := s.store.Read(snapshotName); err != nil {
				t.Fatalf("no snapshot: %v", err)
			}
		}
		log, _ := s.store.Read(logName)
		if err := s.store.Append(logName, []byte{0, 0, 0, 9, 1, 2}); err != nil { // a torn frame
			t.Fatal(err)
		}
		c, err := Open(s.cfg, s.store)
		if err != nil {
			t.Fatal(err)
		}
		s.c, s.events = c, nil
		s.advance(3000)
		if got := strings.SplitN(s.c.Image().String(), "\n", 2)[1]; got != strings.SplitN(want, "\n", 2)[1] || !s.c.Active() || s.c.Image().Offset() != wantOffset {
			t.Errorf("snapshotEvery=%d: after restart (active %t):\n%s\nwant\n%s", every, s.c.Active(), got, want)
		}
		var recovered bool
		for _, ev := range s.events {
			_, ok := ev.(core.LogRecovered)
			recovered = recovered || ok
		}
		if after, _ := s.store.Read(logName); !recovered || len(after) < len(log) || string(after[:len(log)]) != string(log) {
			t.Errorf("snapshotEvery=%d: torn tail not cut (event %t, %d -> %d bytes)", every, recovered, len(log), len(after))
		}
	}
}

func TestUnknownRequestIgnored(t *testing.T) {
	s := newSolo(t, Config{})
	s.c.Step(core.Envelope{From: 5, To: 1, CorrelationID: 1, Request: kmsg.NewPtrMetadataRequest()})
	rd := s.c.Ready()
	if len(rd.Messages) != 0 || len(rd.Events) != 1 {
		t.Errorf("Metadata to a controller: %+v", rd)
	}
}
