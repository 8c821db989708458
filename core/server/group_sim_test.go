package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/check"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/group"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// Consumer groups under faults: a 3-broker cluster, an idempotent acks=all
// producer, and two groups reading the same topic, one per delivery
// guarantee, while a nemesis breaks brokers and another crashes, restarts,
// pauses and resumes consumers. What each group processed is compared with
// what the producer had acknowledged.

// groupSeedCount is seedCount of failover_sim_test.go: STREAMLAB_SEEDS, 4
// by default.
// groupSim is one group of the simulation.
type groupSim struct {
	name     string // the config name of its summary line
	group    string
	commit   client.CommitMode
	strategy string
	// mustHold: at-least-once must miss nothing, at-most-once must
	// process nothing twice.
	noMissing, noDuplicate bool
}

var groupSims = []groupSim{
	{name: "group-at-least-once-cooperative", group: "alo", commit: client.CommitAfterProcessing, strategy: "cooperative-sticky", noMissing: true},
	{name: "group-at-most-once-eager", group: "amo", commit: client.CommitBeforeProcessing, strategy: "range", noDuplicate: true},
}

const (
	groupMembers    = 3
	groupFaultMs    = 120000 // producing while the nemeses work
	groupProduceMs  = 50
	groupRecoveryMs = 120000 // at most, after the faults heal
)

// groupResult adds up runs.
type groupResult struct {
	simResult
	groupViolations, missing, duplicate map[string]int
}

func (r groupResult) line(g groupSim) string {
	return fmt.Sprintf("sim: config=%s seeds=%d faults=%d acked=%d lost=%d duplicates=%d violations=%d group_violations=%d delivered_missing=%d delivered_duplicate=%d",
		g.name, r.seeds, r.faults, r.acked, r.lost, r.duplicates, r.violations, r.groupViolations[g.group], r.missing[g.group], r.duplicate[g.group])
}

// groupRun is one seed's cluster, consumers and what they processed.
type groupRun struct {
	c          *cluster
	cfgs       map[core.NodeID]client.ConsumerConfig
	consumers  map[core.NodeID]*client.Consumer
	deliveries []check.Delivery
	restarts   int
}

// open starts a consumer process (again) with its config; a restart gets
// another seed, as a new process would.
func (r *groupRun) open(id core.NodeID) *client.Consumer {
	cfg := r.cfgs[id]
	cfg.Seed += uint64(r.restarts) << 20
	r.restarts++
	cons := client.NewConsumer(cfg)
	cons.SetProcessor(func(rec core.RecordConsumed) {
		r.deliveries = append(r.deliveries, check.Delivery{RecordConsumed: rec, Group: cfg.GroupID, Member: cons.MemberID(), Generation: cons.AssignedGeneration()})
	})
	r.consumers[id] = cons
	return cons
}

// groupConfig is the coordinator's config in these runs: Kafka's
// defaults, with 5 partitions of __consumer_offsets instead of 50 to keep
// the runs fast.
func groupConfig() group.Config {
	cfg := group.DefaultConfig()
	cfg.OffsetsTopicPartitions = 5
	return cfg
}

// openGroupServer opens a server with groupConfig.
func openGroupServer(c *cluster, id core.NodeID, store storage.Store) core.Machine {
	srv := c.open(id, store)
	srv.Broker().SetGroupConfig(groupConfig())
	return srv
}

// keepGroupEvents makes the cluster keep only the events the checkers
// read: the network's own are the bulk of a run and are not needed, except
// the requests that tell which group a consumer belongs to.
func keepGroupEvents(c *cluster) {
	c.s.OnEvent = func(o sim.Observed) {
		switch e := o.Event.(type) {
		case core.MessageDelivered, core.MessageDropped, core.MessageDuplicated:
			return
		case core.MessageSent:
			switch e.Envelope.Request.(type) {
			case *kmsg.JoinGroupRequest, *kmsg.OffsetCommitRequest:
			default:
				return
			}
		case core.RecordAcked:
			c.acked = append(c.acked, e)
		case core.ProduceFailed:
			c.failed = append(c.failed, e)
		}
		c.events = append(c.events, o)
	}
}

func runGroupSim(t *testing.T, seed uint64) (*cluster, groupResult, []string) {
	c := newCluster(t, seed)
	keepGroupEvents(c)
	for _, id := range c.ids {
		c.servers[id].Broker().SetGroupConfig(groupConfig())
	}
	c.createTopic("g", 3, map[string]string{"min.insync.replicas": "2"})
	r := &groupRun{c: c, cfgs: map[core.NodeID]client.ConsumerConfig{}, consumers: map[core.NodeID]*client.Consumer{}}
	var consumerIDs []core.NodeID
	for gi, g := range groupSims {
		for i := range groupMembers {
			id := core.ClientIDBase + 10*core.NodeID(gi+1) + core.NodeID(i)
			consumerIDs = append(consumerIDs, id)
			r.cfgs[id] = client.ConsumerConfig{ID: id, Bootstrap: c.ids, GroupID: g.group, Topics: []string{"g"},
				AutoOffsetReset: "earliest", Commit: g.commit, PartitionAssignmentStrategy: []string{g.strategy},
				SessionTimeoutMs: 10000, HeartbeatIntervalMs: 3000, MaxPollIntervalMs: 30000, RequestTimeoutMs: 5000,
				ProcessingDelayMs: 5, MaxPollRecords: 50, Seed: seed<<8 | uint64(id)}
			c.s.Add(r.open(id), nil)
		}
	}
	p := c.producer(core.ClientIDBase, client.AcksAll)
	brokers := sim.StartNemesis(c.s, sim.NemesisConfig{
		Targets:       c.ids,
		MinIntervalMs: 3000, MaxIntervalMs: 10000, MaxFaultMs: 20000,
		Open: func(id core.NodeID, store storage.Store) core.Machine { return openGroupServer(c, id, store) },
	})
	consumers := sim.StartNemesis(c.s, sim.NemesisConfig{
		Kinds:         []string{sim.NemesisCrash, sim.NemesisPause},
		Targets:       consumerIDs,
		MinIntervalMs: 4000, MaxIntervalMs: 12000, MaxFaultMs: 15000,
		Open: func(id core.NodeID, _ storage.Store) core.Machine { return r.open(id) },
	})
	for i := 0; i*groupProduceMs < groupFaultMs; i++ {
		p.Send(client.Record{Topic: "g", Partition: client.AnyPartition, Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "s%d-%d", seed, i)})
		c.s.RunFor(groupProduceMs)
	}
	brokers.Stop()
	consumers.Stop()
	c.s.HealAll()
	res := groupResult{simResult: simResult{seeds: 1, faults: brokers.Faults() + consumers.Faults()},
		groupViolations: map[string]int{}, missing: map[string]int{}, duplicate: map[string]int{}}
	// Quiet: everything heals; the at-least-once group must catch up.
	for waited := int64(0); waited < groupRecoveryMs; waited += 1000 {
		c.s.RunFor(1000)
		if p.Pending() == 0 && check.Delivered(groupSims[0].group, c.acked, r.deliveries).Missing == 0 {
			break
		}
	}
	c.s.RunFor(5000)
	res.acked = len(c.acked)

	var violations []string
	values := map[string]bool{}
	for part := int32(0); part < 3; part++ {
		leader := c.leader("g", part)
		if leader < 0 {
			violations = append(violations, fmt.Sprintf("g-%d has no leader after the faults healed", part))
			continue
		}
		for _, v := range c.values(core.NodeID(leader), "g", part) {
			if values[v] {
				res.duplicates++
			}
			values[v] = true
		}
	}
	// The groups are judged on the acknowledged records the log still
	// has: a record the brokers lost (counted in lost) cannot be read.
	var inLog []core.RecordAcked
	for _, a := range c.acked {
		if !values[string(a.Value)] {
			res.lost++
			continue
		}
		inLog = append(inLog, a)
	}
	// check.Run's "one consumer reads each offset once" is for a consumer
	// that owns its partitions for good; group members legitimately read
	// again what a rebalance or a restart gives back, so their reads are
	// checked by check.Groups and check.Delivered instead.
	var brokerEvents []sim.Observed
	for _, o := range c.events {
		if _, ok := o.Event.(core.RecordConsumed); !ok {
			brokerEvents = append(brokerEvents, o)
		}
	}
	violations = append(violations, check.Run(brokerEvents, leaderLog{c})...)
	violations = append(violations, check.Leaders(c.events)...)
	res.violations = len(violations)

	gv := check.Groups(c.events, r.deliveries)
	for _, g := range groupSims {
		for _, v := range gv {
			if strings.Contains(v, "group "+g.group+" ") {
				res.groupViolations[g.group]++
			}
		}
		rep := check.Delivered(g.group, inLog, r.deliveries)
		res.missing[g.group], res.duplicate[g.group] = rep.Missing, rep.Duplicate
		for _, ex := range rep.Examples {
			if (g.noMissing && rep.Missing > 0) || (g.noDuplicate && rep.Duplicate > 0) {
				violations = append(violations, g.group+": "+ex)
			}
		}
	}
	violations = append(violations, gv...)
	for _, o := range c.events {
		// Notes that explain failures: a position reset sends a consumer
		// back (or forward), a new producer id may write a batch again.
		switch e := o.Event.(type) {
		case core.OffsetReset:
			if strings.Contains(e.Reason, "OFFSET_OUT_OF_RANGE") {
				violations = append(violations, fmt.Sprintf("(note) t=%d consumer %d: %s-%d reset to %d: %s", o.Time, o.Node, e.Topic, e.Partition, e.Offset, e.Reason))
			}
		case core.ProducerIDAssigned:
			if e.Reason != "new producer" {
				violations = append(violations, fmt.Sprintf("(note) t=%d producer %d: new producer id %d: %s", o.Time, o.Node, e.ProducerID, e.Reason))
			}
		case core.ProducerEpochBumped:
			violations = append(violations, fmt.Sprintf("(note) t=%d producer %d: producer id %d bumped to epoch %d: %s", o.Time, o.Node, e.ProducerID, e.Epoch, e.Reason))
		}
	}
	return c, res, violations
}

// leaderLog is check.Log over each partition's current leader.
type leaderLog struct{ c *cluster }

func (l leaderLog) node(topic string, p int32) *broker.Node {
	leader := l.c.leader(topic, p)
	if leader < 0 {
		leader = int32(l.c.ids[0])
	}
	return l.c.servers[core.NodeID(leader)].Broker()
}

func (l leaderLog) Partition(topic string, p int32) (broker.PartitionInfo, bool) {
	return l.node(topic, p).Partition(topic, p)
}

func (l leaderLog) Records(topic string, p int32, offset int64, max int) []broker.StoredRecord {
	return l.node(topic, p).Records(topic, p, offset, max)
}

// TestFailoverGroups: whatever the broker faults and consumer crashes, the
// at-least-once group (commit after processing) processes every
// acknowledged record, the at-most-once group (commit before processing)
// none twice, no partition has two owners in a generation, committed
// offsets stay under the high watermark and never go back, and the
// idempotent producer writes no duplicate.
func TestFailoverGroups(t *testing.T) {
	var mu sync.Mutex
	total := groupResult{groupViolations: map[string]int{}, missing: map[string]int{}, duplicate: map[string]int{}}
	t.Run("seeds", func(t *testing.T) {
		for seed := uint64(1); seed <= uint64(seedCount()); seed++ {
			t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
				t.Parallel()
				c, res, violations := runGroupSim(t, seed)
				bad := res.lost > 0 || res.duplicates > 0 || res.violations > 0
				for _, g := range groupSims {
					bad = bad || res.groupViolations[g.group] > 0 ||
						(g.noMissing && res.missing[g.group] > 0) || (g.noDuplicate && res.duplicate[g.group] > 0)
				}
				if bad {
					t.Errorf("seed=%d lost=%d duplicates=%d violations=%d groups=%v missing=%v duplicate=%v\n%s\nreplay: STREAMLAB_SEEDS=%d go test -count=1 -v -run '%s$' ./core/server\ntrace: %s",
						seed, res.lost, res.duplicates, res.violations, res.groupViolations, res.missing, res.duplicate,
						strings.Join(head(violations, 20), "\n"), seed, t.Name(), c.writeTrace("groups", seed))
				}
				mu.Lock()
				defer mu.Unlock()
				total.add(res.simResult)
				for _, g := range groupSims {
					total.groupViolations[g.group] += res.groupViolations[g.group]
					total.missing[g.group] += res.missing[g.group]
					total.duplicate[g.group] += res.duplicate[g.group]
				}
			})
		}
	})
	for _, g := range groupSims {
		fmt.Println(total.line(g))
	}
	if total.faults < 15*total.seeds {
		t.Errorf("%d faults over %d seeds: fewer than 15 a seed", total.faults, total.seeds)
	}
}

// A goal of a match: the event a scoreboard consumes.
type goal struct {
	match, team string
}

// TestGroupScoreboard is the classic lesson about delivery semantics. A
// match feed produces goal events keyed by match id; a consumer group
// keeps the score (the score lives outside the consumers, like a
// database). The consumer that owns a partition crashes at the worst
// moment; a new process of it and the other member carry on from the
// committed offsets.
//   - At-least-once (commit after processing): the crash comes after a goal
//     was counted and before its offset was committed. The goal is read
//     again from the committed offset and counted twice: the score is
//     wrong by one goal too many.
//   - At-most-once (commit before processing): the crash comes after the
//     commit and before the goal was counted. Nobody reads it again: the
//     score misses a goal.
func TestGroupScoreboard(t *testing.T) {
	for _, mode := range []struct {
		name   string
		commit client.CommitMode
		delta  int
	}{
		{"at-least-once", client.CommitAfterProcessing, +1},
		{"at-most-once", client.CommitBeforeProcessing, -1},
	} {
		t.Run(mode.name, func(t *testing.T) {
			c := newCluster(t, 7)
			for _, id := range c.ids {
				c.servers[id].Broker().SetGroupConfig(groupConfig())
			}
			c.createTopic("goals", 2, map[string]string{"min.insync.replicas": "2"})
			score := map[goal]int{}
			var counted []string // what the scoreboard counted, in order
			var lastCounter core.NodeID
			consumers := map[core.NodeID]*client.Consumer{}
			open := func(id core.NodeID, seed uint64) *client.Consumer {
				cons := client.NewConsumer(client.ConsumerConfig{ID: id, Bootstrap: c.ids, GroupID: "scoreboard", Topics: []string{"goals"},
					AutoOffsetReset: "earliest", Commit: mode.commit, MaxPollRecords: 1, ProcessingDelayMs: 200,
					SessionTimeoutMs: 10000, RequestTimeoutMs: 5000, Seed: seed})
				cons.SetProcessor(func(r core.RecordConsumed) {
					m, team, _ := strings.Cut(string(r.Value), ":")
					score[goal{m, team}]++
					counted = append(counted, fmt.Sprintf("%s@%s-%d:%d", r.Value, r.Topic, r.Partition, r.Offset))
					lastCounter = id
				})
				consumers[id] = cons
				return cons
			}
			ids := []core.NodeID{core.ClientIDBase + 1, core.ClientIDBase + 2}
			for _, id := range ids {
				c.s.Add(open(id, uint64(id)), nil)
			}
			if !c.s.RunUntil(func() bool {
				a, b := consumers[ids[0]], consumers[ids[1]]
				return a.GroupState() == "STABLE" && b.GroupState() == "STABLE" && len(a.Assignment())+len(b.Assignment()) == 2
			}, 60000) {
				t.Fatal("the group did not form")
			}
			p := c.producer(core.ClientIDBase, client.AcksAll)
			var goals []goal
			for i := range 20 {
				goals = append(goals, goal{fmt.Sprint("match-", 1+i%3), []string{"home", "away"}[i*7%5%2]})
			}
			// trigger says when to crash which consumer: right after the 8th
			// goal is counted (at-least-once: its commit is not answered
			// yet), or once the consumer holding the 8th goal has committed
			// past it and not counted it yet (at-most-once).
			trigger := func() (core.NodeID, string) {
				if mode.commit == client.CommitAfterProcessing {
					if len(counted) == 8 {
						return lastCounter, counted[7]
					}
					return 0, ""
				}
				if len(counted) < 7 {
					return 0, ""
				}
				for _, id := range ids {
					cons := consumers[id]
					if cons == nil || c.s.Machine(id) == nil || len(cons.Processing()) == 0 {
						continue
					}
					r := cons.Processing()[0]
					if off, ok := cons.Committed(r.Topic, r.Partition); ok && off > r.Offset {
						return id, fmt.Sprintf("%s@%s-%d:%d", r.Value, r.Topic, r.Partition, r.Offset)
					}
				}
				return 0, ""
			}
			crashed := false
			for _, g := range goals {
				p.Send(client.Record{Topic: "goals", Partition: client.AnyPartition, Key: []byte(g.match), Value: []byte(g.match + ":" + g.team)})
				end := c.s.Now() + 500
				for c.s.Now() < end {
					if crashed || !c.s.RunUntil(func() bool { id, _ := trigger(); return id != 0 }, end-c.s.Now()) {
						c.s.RunFor(end - c.s.Now())
						break
					}
					id, what := trigger()
					victim := consumers[id]
					k := strings.Split(strings.Split(what, "@")[1], ":")[0]
					topic, part, _ := strings.Cut(k, "-")
					pn, _ := strconv.Atoi(part)
					committed, _ := victim.Committed(topic, int32(pn))
					t.Logf("t=%d: consumer %d crashes holding goal %s; the committed offset of %s is %d", c.s.Now(), id, what, k, committed)
					c.s.Crash(id)
					crashed = true
					c.s.After(1000, func() {
						c.s.Restart(id, func(storage.Store) core.Machine { return open(id, uint64(id)+1000) })
					})
				}
			}
			c.s.RunFor(40000)
			if !crashed {
				t.Fatal("the crash never came")
			}
			want := map[goal]int{}
			for _, g := range goals {
				want[g]++
			}
			total, wrong := 0, []string{}
			for g, n := range score {
				total += n
				if n != want[g] {
					wrong = append(wrong, fmt.Sprintf("%s %s: counted %d, scored %d", g.match, g.team, n, want[g]))
				}
			}
			if total != len(goals)+mode.delta || len(wrong) != 1 {
				t.Fatalf("counted %d goals of %d, want %d; wrong: %v\ncounted: %v", total, len(goals), len(goals)+mode.delta, wrong, counted)
			}
			if mode.delta > 0 {
				t.Logf("%s: the goal was counted, the consumer crashed before committing its offset, and whoever got the partition next read it again from the committed offset: %v", mode.name, wrong)
			} else {
				t.Logf("%s: the offset was committed, the consumer crashed before counting the goal, and nobody reads below a committed offset: %v", mode.name, wrong)
			}
		})
	}
}
