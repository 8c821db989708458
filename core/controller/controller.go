// Package controller is Streamlab's controller quorum, a KRaft-like metadata
// log (KIP-500, KIP-595, KIP-631) on etcd-io/raft's RawNode: a Controller is
// one voter, a core.Machine. The raft leader is the active controller. It
// registers brokers (BrokerRegistration), keeps their sessions alive
// (BrokerHeartbeat) and fences those that go quiet, creates and deletes
// topics, places their replicas, elects partition leaders and changes ISRs
// (AlterPartition). Every change is a record in the metadata log; every voter
// applies the committed records to its Image, and brokers will apply the
// same records to theirs.
//
// Like every core machine it is deterministic: raft ticks come from Tick,
// election timeouts from a seeded source, raft messages leave through
// Ready.Messages (Envelope.Raft) and raft state through Ready.Writes.
package controller

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// Config configures a voter. Zero values take the defaults.
type Config struct {
	ID     core.NodeID   // this voter's node.id; it must be one of Voters
	Voters []core.NodeID // controller.quorum.voters: 1 or 3 (any broker ids)
	Seed   uint64        // seeds election timeouts, replica placement and topic ids
	// ClusterID, if set, must match BrokerRegistration's ClusterID.
	ClusterID string

	// TickMs is one raft tick of core time (100). An election times out
	// after ElectionTicks..2*ElectionTicks-1 ticks without a leader
	// (10: 1000 ms, Kafka's controller.quorum.election.timeout.ms); the
	// leader heartbeats every HeartbeatTicks (2: 200 ms).
	TickMs         int64
	ElectionTicks  int
	HeartbeatTicks int

	// SessionTimeoutMs is broker.session.timeout.ms (9000): a broker that
	// sends no heartbeat for that long is fenced.
	SessionTimeoutMs int64
	// NumPartitions (num.partitions, 1) and DefaultReplicationFactor
	// (default.replication.factor, 1) serve CreateTopics with -1.
	NumPartitions            int32
	DefaultReplicationFactor int16
	// UncleanLeaderElection is the cluster default of
	// unclean.leader.election.enable (false); a topic config overrides it.
	UncleanLeaderElection bool
	// SnapshotEvery snapshots the image and compacts the log every that many
	// applied entries (1000; negative: never).
	SnapshotEvery int64
	// LeaderImbalanceCheckIntervalMs is leader.imbalance.check.interval.seconds
	// (300 s): how often leadership moves back to preferred replicas;
	// negative is auto.leader.rebalance.enable=false (preferred.go).
	LeaderImbalanceCheckIntervalMs int64
}

func (c Config) withDefaults() Config {
	if c.TickMs <= 0 {
		c.TickMs = 100
	}
	if c.ElectionTicks <= 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks <= 0 {
		c.HeartbeatTicks = 2
	}
	if c.SessionTimeoutMs <= 0 {
		c.SessionTimeoutMs = 9000
	}
	if c.NumPartitions <= 0 {
		c.NumPartitions = 1
	}
	if c.DefaultReplicationFactor <= 0 {
		c.DefaultReplicationFactor = 1
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 1000
	}
	if c.LeaderImbalanceCheckIntervalMs == 0 {
		c.LeaderImbalanceCheckIntervalMs = 300000
	}
	return c
}

// Controller is one voter of the controller quorum.
type Controller struct {
	cfg    Config
	raftID uint64
	rnd    *rand.Rand
	rn     *raft.RawNode
	ms     *raft.MemoryStorage
	image  *Image

	now      int64
	nextTick int64
	elapsed  int // raft ticks since the election timer was reset
	timeout  int // this round's randomized election timeout, in ticks
	seen     raftState

	applied   uint64 // last entry applied to image
	snapIndex uint64
	logFirst  uint64  // index of the first entry in raft.log
	offsets   []int64 // byte offset of each entry in raft.log, from logFirst
	logSize   int64

	leader      bool // raft leader...
	term        uint64
	active      bool            // ...that has applied its log: the active controller
	sessions    map[int32]int64 // active only: last heartbeat of each broker
	nextBalance int64           // active only: next preferred leader election check
	queue       []core.Envelope // requests waiting for the pending proposal
	pending     *proposal
	fetches     []parkedFetch // brokers' metadata fetches waiting for a commit

	writes []storage.Write
	out    []core.Envelope
	events []core.Event
}

type raftState struct {
	term, vote, lead uint64
	state            raft.StateType
}

// proposal is the one batch of records in flight, and the request it
// answers once committed (env is nil for the controller's own changes).
type proposal struct {
	index, term uint64
	env         *core.Envelope
	resp        kmsg.Response
}

// New returns a voter with an empty store.
func New(cfg Config) (*Controller, error) { return Open(cfg, nil) }

// Open returns a voter that recovers its raft state from store (nil: an
// empty one), as a restarted voter does: the snapshot, the log after it and
// the HardState. A torn tail of the log is cut off (a LogRecovered event).
func Open(cfg Config, store storage.Store) (*Controller, error) {
	cfg = cfg.withDefaults()
	if cfg.ID < 0 || !slices.Contains(cfg.Voters, cfg.ID) {
		return nil, fmt.Errorf("controller: node %d is not one of the voters %v", cfg.ID, cfg.Voters)
	}
	c := &Controller{cfg: cfg, raftID: raftID(cfg.ID), ms: raft.NewMemoryStorage(), image: NewImage()}
	rec := &recovered{hs: &pb.HardState{}}
	if store != nil {
		var err error
		if rec, err = recoverStore(store); err != nil {
			return nil, err
		}
	}
	// Static membership: the voters are the initial ConfState (etcd raft's
	// recommended bootstrap: a snapshot at index 0 that only has it).
	snap := rec.snap
	if snap == nil {
		snap = &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: c.confState()}}
	} else {
		c.loadSnapshot(snap)
	}
	if err := c.ms.ApplySnapshot(snap); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	c.logFirst, c.offsets, c.logSize = c.snapIndex+1, rec.offsets, rec.size
	if rec.cut > 0 {
		c.writes = append(c.writes, storage.Write{Op: storage.OpTruncate, Name: logName, Size: rec.size})
		c.events = append(c.events, core.LogRecovered{Topic: "__cluster_metadata", Segment: logName,
			TruncatedBytes: rec.cut, NextOffset: int64(c.snapIndex) + int64(len(rec.entries)) + 1, Reason: "torn or corrupt raft entry"})
	}
	if err := c.ms.Append(rec.entries); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	last, _ := c.ms.LastIndex()
	hs := rec.hs
	if commit := hs.GetCommit(); commit > last || commit < c.snapIndex {
		hs.Commit = proto.Uint64(min(max(commit, c.snapIndex), last)) // the log lost its tail
	}
	if err := c.ms.SetHardState(hs); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              c.raftID,
		ElectionTick:    cfg.ElectionTicks,
		HeartbeatTick:   cfg.HeartbeatTicks,
		Storage:         c.ms,
		Applied:         c.snapIndex,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		CheckQuorum:     true, // a leader cut off from a majority steps down (KIP-595's fetch timeout)
		PreVote:         true, // a returning voter does not disrupt the quorum (KIP-996)
		Logger:          quietLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	c.rn = rn
	// A restarted voter must not draw the same topic ids as in its last
	// life: mix what it persisted into the seed. Replays stay exact.
	c.rnd = rand.New(rand.NewPCG(cfg.Seed, hs.GetTerm()<<32^last))
	c.resetTimer()
	c.observe()
	return c, nil
}

// raftID maps a node id to a raft id (raft ids are non-zero).
func raftID(id core.NodeID) uint64 { return uint64(id) + 1 }
func nodeID(id uint64) core.NodeID { return core.NodeID(id - 1) }

func (c *Controller) confState() *pb.ConfState {
	cs := &pb.ConfState{}
	for _, v := range c.cfg.Voters {
		cs.Voters = append(cs.Voters, raftID(v))
	}
	return cs
}

// ID implements core.Machine.
func (c *Controller) ID() core.NodeID { return c.cfg.ID }

// View is the read-only side of an Image.
type View interface {
	Offset() int64
	Broker(id int32) (Broker, bool)
	Brokers() []Broker
	Topic(name string) (Topic, bool)
	TopicByID(id [16]byte) (Topic, bool)
	Topics() []string
	Partition(topic string, p int32) (Partition, bool)
	Records() []Record
	String() string
}

// Image is what the metadata log says, as this voter applied it.
func (c *Controller) Image() View { return c.image }

// Active reports whether this voter is the active controller: the raft
// leader, once it has applied every entry of earlier epochs.
func (c *Controller) Active() bool { return c.active }

// Leader is the voter this one believes leads, -1 if it knows none.
func (c *Controller) Leader() core.NodeID {
	if c.seen.lead == 0 {
		return -1
	}
	return nodeID(c.seen.lead)
}

// Epoch is the raft term this voter is in (KRaft's leader epoch).
func (c *Controller) Epoch() int64 { return int64(c.seen.term) }

// Ready implements core.Machine.
func (c *Controller) Ready() core.Ready {
	return core.Ready{Writes: c.writes, Messages: c.out, Events: c.events}
}

// Advance implements core.Machine.
func (c *Controller) Advance() { c.writes, c.out, c.events = nil, nil, nil }

// Step implements core.Machine: a raft message from another voter, or a
// controller request from a broker.
func (c *Controller) Step(env core.Envelope) {
	switch {
	case env.Raft != nil:
		m := &pb.Message{}
		if proto.Unmarshal(env.Raft, m) != nil || m.GetTo() != c.raftID || m.GetFrom() != raftID(env.From) {
			return
		}
		_ = c.rn.Step(m) // errors: local message types and unknown peers, both ignored
		c.observe()
		switch m.GetType() {
		case pb.MessageType_MsgApp, pb.MessageType_MsgHeartbeat, pb.MessageType_MsgSnap:
			if m.GetFrom() == c.seen.lead && m.GetTerm() == c.seen.term {
				c.resetTimer() // the leader is alive (raft resets its own timer here too)
			}
		}
	case env.Request != nil:
		c.request(env)
	}
	c.process()
}

// Tick implements core.Machine: one raft tick per TickMs, and session
// timeouts.
func (c *Controller) Tick(now int64) {
	c.now = now
	if c.nextTick == 0 {
		c.nextTick = now + c.cfg.TickMs
	}
	for n := 0; now >= c.nextTick; n++ {
		if n == 2*c.cfg.ElectionTicks { // a clock jump: skip the ticks in between
			c.nextTick = now + c.cfg.TickMs
			break
		}
		c.nextTick += c.cfg.TickMs
		c.tickRaft()
		c.process()
	}
	c.process()
}

// tickRaft gives raft one tick.
//
// etcd raft draws each follower's randomized election timeout from its
// package-level globalRand, which reads crypto/rand: a run could not replay.
// So only the leader gets real ticks (heartbeats, check-quorum; no
// randomness there). Followers and candidates get TickQuiesced, which only
// advances raft's election clock (check-quorum's lease still expires after
// ElectionTicks) and never campaigns; they campaign on a timer of our own,
// ElectionTicks + a draw in [0, ElectionTicks) from the seeded source, reset
// whenever raft resets its own (a new term, state or vote, a message from
// the leader). Raft still calls crypto/rand on every reset, but its result
// is never used.
func (c *Controller) tickRaft() {
	if c.seen.state == raft.StateLeader {
		c.rn.Tick()
	} else {
		c.rn.TickQuiesced()
		if c.elapsed++; c.elapsed >= c.timeout {
			c.resetTimer()
			_ = c.rn.Campaign()
		}
	}
	c.observe()
}

func (c *Controller) resetTimer() {
	c.elapsed = 0
	c.timeout = c.cfg.ElectionTicks + c.rnd.IntN(c.cfg.ElectionTicks)
}

// observe notices raft state changes: it resets the election timer and
// tracks leadership.
func (c *Controller) observe() {
	st := c.rn.BasicStatus()
	now := raftState{term: st.GetTerm(), vote: st.GetVote(), lead: st.Lead, state: st.RaftState}
	if now == c.seen {
		return
	}
	c.seen = now
	c.resetTimer()
	isLeader := now.state == raft.StateLeader
	if c.leader && (!isLeader || now.term != c.term) {
		c.events = append(c.events, core.ControllerResigned{Controller: c.cfg.ID, Epoch: int64(c.term)})
		c.resign()
	}
	if isLeader && !c.leader {
		c.leader, c.term, c.active = true, now.term, false
		c.events = append(c.events, core.ControllerElected{Controller: c.cfg.ID, Epoch: int64(now.term)})
	}
}

// resign forgets what only the active controller keeps and answers the
// requests it holds with NOT_CONTROLLER: the brokers will find the new one.
// A proposal in flight may still commit under the next leader.
func (c *Controller) resign() {
	c.leader, c.active, c.sessions, c.nextBalance = false, false, nil, 0
	if p := c.pending; p != nil {
		c.pending = nil
		c.finish(p, false)
	}
	for _, env := range c.queue {
		c.respond(env, errorResponse(env.Request, kerr.NotController.Code))
	}
	c.queue = nil
}

// activate makes the leader the active controller. Like KRaft's
// BrokerHeartbeatManager on activation, it gives every broker a fresh
// session: the old leader's heartbeat times died with its leadership.
func (c *Controller) activate() {
	c.active = true
	c.sessions = map[int32]int64{}
	for id := range c.image.brokers {
		c.sessions[id] = c.now
	}
}

// process runs raft's Ready loop (as etcd's raftexample does) until raft has
// nothing more to say, then feeds it the next proposal, if any.
func (c *Controller) process() {
	for {
		for c.rn.HasReady() {
			rd := c.rn.Ready()
			c.persist(rd)
			var snaps []uint64
			for _, m := range rd.Messages {
				c.out = append(c.out, core.Envelope{From: c.cfg.ID, To: nodeID(m.GetTo()), Raft: marshal(m)})
				if m.GetType() == pb.MessageType_MsgSnap {
					snaps = append(snaps, m.GetTo())
				}
			}
			c.apply(rd.CommittedEntries)
			c.rn.Advance(rd)
			// A snapshot is sent once it leaves: raft then probes the
			// follower, and sends another if this one was lost (without
			// the report it would wait for it forever).
			for _, to := range snaps {
				c.rn.ReportSnapshot(to, raft.SnapshotFinish)
			}
			c.observe()
		}
		c.maybeSnapshot()
		if !c.pump() {
			c.serveFetches()
			return
		}
	}
}

// apply applies committed entries to the image and completes the proposal
// they commit.
func (c *Controller) apply(ents []*pb.Entry) {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= c.applied {
			continue
		}
		var recs []Record
		if e.GetType() == pb.EntryType_EntryNormal {
			var err error
			if recs, err = DecodeBatch(e.GetData()); err != nil {
				panic(fmt.Sprintf("controller %d: entry %d: %v", c.cfg.ID, idx, err))
			}
		}
		evs, err := c.image.Apply(int64(idx), recs...)
		if err != nil {
			panic(fmt.Sprintf("controller %d: %v", c.cfg.ID, err)) // the replicated state machine diverged
		}
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.String()
		}
		c.events = append(c.events, core.MetadataApplied{Offset: int64(idx), Epoch: int64(e.GetTerm()),
			Records: names, CRC: crc32.Checksum(e.GetData(), castagnoli)})
		c.events = append(c.events, evs...)
		c.applied = idx
		if p := c.pending; p != nil && idx >= p.index {
			c.pending = nil
			c.finish(p, idx == p.index && e.GetTerm() == p.term)
		}
		if c.leader && !c.active && e.GetTerm() == c.term {
			c.activate() // our epoch's first entry: everything before it is applied
		}
	}
}

// pump proposes the next batch if none is in flight: a broker whose session
// expired first, then queued requests in order (requests that change nothing
// are answered at once). It reports whether it proposed.
func (c *Controller) pump() bool {
	if !c.active || c.pending != nil {
		return false
	}
	if recs := c.expireSession(); recs != nil {
		return c.propose(recs, nil, nil)
	}
	if recs := c.balanceLeaders(); recs != nil {
		return c.propose(recs, nil, nil)
	}
	for len(c.queue) > 0 {
		env := c.queue[0]
		c.queue = c.queue[1:]
		recs, resp := c.handle(env.Request)
		if len(recs) == 0 {
			c.respond(env, resp)
			continue
		}
		if c.propose(recs, &env, resp) {
			return true
		}
	}
	return false
}

// nextIndex is the log index the next proposal gets.
func (c *Controller) nextIndex() uint64 {
	last, _ := c.ms.LastIndex() // the Ready loop has drained: raft's log is all in ms
	return last + 1
}

func (c *Controller) propose(recs []Record, env *core.Envelope, resp kmsg.Response) bool {
	index := c.nextIndex()
	if err := c.rn.Propose(EncodeBatch(recs)); err != nil {
		if env != nil {
			c.respond(*env, errorResponse(env.Request, kerr.NotController.Code))
		}
		return false
	}
	c.pending = &proposal{index: index, term: c.term, env: env, resp: resp}
	return true
}

// finish answers the request of a proposal: its response if it committed,
// NOT_CONTROLLER if it did not.
func (c *Controller) finish(p *proposal, committed bool) {
	if p.env == nil {
		return
	}
	resp := p.resp
	if !committed {
		resp = errorResponse(p.env.Request, kerr.NotController.Code)
	}
	c.respond(*p.env, resp)
}

func (c *Controller) respond(env core.Envelope, resp kmsg.Response) {
	c.out = append(c.out, core.Envelope{From: c.cfg.ID, To: env.From, CorrelationID: env.CorrelationID, Response: resp})
}

// quietLogger drops raft's logs (its default logger writes timestamps to
// stderr) and panics where raft would exit.
type quietLogger struct{}

func (quietLogger) Debug(...any)              {}
func (quietLogger) Debugf(string, ...any)     {}
func (quietLogger) Error(...any)              {}
func (quietLogger) Errorf(string, ...any)     {}
func (quietLogger) Info(...any)               {}
func (quietLogger) Infof(string, ...any)      {}
func (quietLogger) Warning(...any)            {}
func (quietLogger) Warningf(string, ...any)   {}
func (quietLogger) Fatal(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Fatalf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
func (quietLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (quietLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }

// DescribeRaft describes an encoded raft message (Envelope.Raft) for people:
// "MsgApp term=2 index=5 logTerm=2 entries=1 commit=5".
func DescribeRaft(b []byte) string {
	m := &pb.Message{}
	if err := proto.Unmarshal(b, m); err != nil {
		return "raft message (undecodable)"
	}
	s := fmt.Sprintf("%v term=%d", m.GetType(), m.GetTerm())
	switch m.GetType() {
	case pb.MessageType_MsgApp:
		s += fmt.Sprintf(" index=%d logTerm=%d entries=%d commit=%d", m.GetIndex(), m.GetLogTerm(), len(m.GetEntries()), m.GetCommit())
	case pb.MessageType_MsgAppResp:
		s += fmt.Sprintf(" index=%d reject=%t", m.GetIndex(), m.GetReject())
	case pb.MessageType_MsgVote, pb.MessageType_MsgPreVote:
		s += fmt.Sprintf(" lastIndex=%d lastTerm=%d", m.GetIndex(), m.GetLogTerm())
	case pb.MessageType_MsgVoteResp, pb.MessageType_MsgPreVoteResp:
		s += fmt.Sprintf(" reject=%t", m.GetReject())
	case pb.MessageType_MsgHeartbeat:
		s += fmt.Sprintf(" commit=%d", m.GetCommit())
	case pb.MessageType_MsgSnap:
		s += fmt.Sprintf(" index=%d", m.GetSnapshot().GetMetadata().GetIndex())
	}
	return s
}
