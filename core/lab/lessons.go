package lab

import (
	"slices"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// Lessons: each step of a lesson is checked against the lab's real state,
// never against what the learner clicked. The page (ui/lessontext.go) pairs
// the words with these checks; Progress completes the steps in order.

// Snapshot is what a step's check compares with: the lab as it was when
// the step became the current one, so that "a leader epoch rose" means
// "since you were asked to act", not "ever".
type Snapshot struct {
	At           int64
	LeaderEpochs []int32             // by partition, from the controller's image
	Acked        map[client.Acks]int // acknowledged records so far, by acks setting
	Groups       map[string]GroupMark
}

// GroupMark is a group's generation and running members at a Snapshot.
type GroupMark struct {
	Generation int32
	Members    int
}

// Snapshot reads the lab now.
func (l *Lab) Snapshot() Snapshot {
	s := Snapshot{At: l.Now(), Acked: map[client.Acks]int{}, Groups: map[string]GroupMark{}}
	for p := range l.cfg.Partitions {
		_, e := l.Leader(p)
		s.LeaderEpochs = append(s.LeaderEpochs, e)
	}
	for _, a := range l.acked {
		s.Acked[a.acks]++
	}
	for _, g := range l.Groups() {
		s.Groups[g.Config.Name] = GroupMark{g.Generation, running(g)}
	}
	return s
}

// Check is a step's condition.
type Check func(l *Lab, since Snapshot) bool

// Progress follows one lesson: the first step not done yet is current, and
// only it is checked, against a Snapshot taken when it became current. A
// step done stays done: the cluster moves on (a killed broker restarts) and
// the learner should not lose the ✓.
type Progress struct {
	lab    *Lab
	checks []Check
	done   int
	since  Snapshot
}

// NewProgress starts following a lesson's checks on l.
func NewProgress(l *Lab, checks []Check) *Progress {
	return &Progress{lab: l, checks: checks, since: l.Snapshot()}
}

// Update checks the current step, and the next ones while they hold too;
// it returns how many steps are done.
func (p *Progress) Update() int {
	for p.done < len(p.checks) && p.checks[p.done](p.lab, p.since) {
		p.done++
		p.since = p.lab.Snapshot()
	}
	return p.done
}

// Done is how many steps are done (as of the last Update).
func (p *Progress) Done() int { return p.done }

// Lab is the lab the progress follows.
func (p *Progress) Lab() *Lab { return p.lab }

// KeyAcked: at least n records with this key were acknowledged.
func KeyAcked(key string, n int) Check {
	return func(l *Lab, _ Snapshot) bool { return len(l.ackedWithKey(key)) >= n }
}

func (l *Lab) ackedWithKey(key string) []ack {
	var out []ack
	for _, a := range l.acked {
		if k := l.ackKey(a); k != nil && string(k) == key {
			out = append(out, a)
		}
	}
	return out
}

// KeyInOrder: the last two acknowledged records with this key are in one
// partition, the newer at the higher offset: murmur2 sends a key to one
// partition, and its log keeps them in the order sent.
func KeyInOrder(key string) Check {
	return func(l *Lab, _ Snapshot) bool {
		as := l.ackedWithKey(key)
		if len(as) < 2 {
			return false
		}
		a, b := as[len(as)-2], as[len(as)-1]
		return a.Partition == b.Partition && b.Offset > a.Offset
	}
}

// KeysSpread: acknowledged records with keys are in at least n partitions.
func KeysSpread(n int) Check {
	return func(l *Lab, _ Snapshot) bool {
		parts := map[int32]bool{}
		for _, a := range l.acked {
			if a.keyLen >= 0 {
				parts[a.Partition] = true
			}
		}
		return len(parts) >= n
	}
}

// KeyConsumed: the lab's consumer read at least n records with this key.
func KeyConsumed(key string, n int) Check {
	return func(l *Lab, _ Snapshot) bool {
		got := 0
		for _, r := range l.Consumed() {
			if r.Key != nil && string(r.Key) == key {
				got++
			}
		}
		return got >= n
	}
}

// AckedSince: at least n more records were acknowledged with this acks
// setting since the step began.
func AckedSince(acks client.Acks, n int) Check {
	return func(l *Lab, since Snapshot) bool { return l.ackedCount(acks)-since.Acked[acks] >= n }
}

func (l *Lab) ackedCount(acks client.Acks) int {
	n := 0
	for _, a := range l.acked {
		if a.acks == acks {
			n++
		}
	}
	return n
}

// LogStartMoved: retention deleted the start of some partition's log on
// some replica (its log start offset is above 0).
func LogStartMoved(l *Lab, _ Snapshot) bool {
	for _, pv := range l.PartitionViews() {
		for _, r := range pv.Brokers {
			if r.Holds && r.LogStartOffset > 0 {
				return true
			}
		}
	}
	return false
}

// AckedPastLogStart: a record was acknowledged at or above its partition's
// moved log start: after retention, offsets go on counting, never reused.
func AckedPastLogStart(l *Lab, _ Snapshot) bool {
	start := map[int32]int64{}
	for _, pv := range l.PartitionViews() {
		for _, r := range pv.Brokers {
			start[pv.Partition] = max(start[pv.Partition], r.LogStartOffset)
		}
	}
	for _, a := range l.acked {
		if s := start[a.Partition]; s > 0 && a.Offset >= s {
			return true
		}
	}
	return false
}

// FullyReplicated: some partition has records, and every replica holds
// them all, up to the leader's high watermark.
func FullyReplicated(l *Lab, _ Snapshot) bool {
	for _, pv := range l.PartitionViews() {
		if pv.Leader < 0 || len(pv.ISR) != len(pv.Replicas) {
			continue
		}
		hw := pv.Brokers[pv.Leader-1].HighWatermark
		all := hw > 0
		for _, r := range pv.Brokers {
			if r.Holds && (r.Down || r.LogEndOffset != hw) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// ISRShrunk: some partition's ISR is smaller than its replica set.
func ISRShrunk(l *Lab, _ Snapshot) bool {
	for _, pv := range l.PartitionViews() {
		if len(pv.ISR) < len(pv.Replicas) {
			return true
		}
	}
	return false
}

// AllInSync: every broker is live and every replica is in its ISR.
func AllInSync(l *Lab, _ Snapshot) bool {
	for _, b := range l.Brokers() {
		if b.State != BrokerLive {
			return false
		}
	}
	for _, pv := range l.PartitionViews() {
		if pv.Leader < 0 || len(pv.ISR) != len(pv.Replicas) {
			return false
		}
	}
	return true
}

// KeyLeaderDown: the broker the controller names leader of the key's
// partition is crashed (until the controller elects another).
func KeyLeaderDown(key string) Check {
	return func(l *Lab, _ Snapshot) bool {
		leader, _ := l.Leader(l.PartitionFor([]byte(key)))
		return leader >= 0 && l.Sim.Machine(core.NodeID(leader)) == nil
	}
}

// KeyLeaderEpochRose: the key's partition has a running leader in a higher
// leader epoch than when the step began.
func KeyLeaderEpochRose(key string) Check {
	return func(l *Lab, since Snapshot) bool {
		p := l.PartitionFor([]byte(key))
		leader, epoch := l.Leader(p)
		return leader >= 0 && l.Sim.Machine(core.NodeID(leader)) != nil && int(p) < len(since.LeaderEpochs) && epoch > since.LeaderEpochs[p]
	}
}

// NoneLost: records were acknowledged with this acks setting and every one
// is still in its leader's log (or deleted by retention).
func NoneLost(acks client.Acks) Check {
	return func(l *Lab, _ Snapshot) bool {
		c, ok := l.ackCheck(acks)
		return ok && c.Acked > 0 && len(c.Lost) == 0 && c.Unknown == 0
	}
}

// SomeLost: a record acknowledged with this acks setting is not in its
// leader's log any more.
func SomeLost(acks client.Acks) Check {
	return func(l *Lab, _ Snapshot) bool {
		c, ok := l.ackCheck(acks)
		return ok && len(c.Lost) > 0
	}
}

func (l *Lab) ackCheck(acks client.Acks) (AckCheck, bool) {
	for _, c := range l.CheckAcked() {
		if c.Acks == acks {
			return c, true
		}
	}
	return AckCheck{}, false
}

// AcksIs: the producer uses this acks setting.
func AcksIs(acks client.Acks) Check {
	return func(l *Lab, _ Snapshot) bool { return l.Acks() == acks }
}

// AnyIsolated: some broker is cut off from the others.
func AnyIsolated(l *Lab, _ Snapshot) bool {
	return slices.ContainsFunc(l.Brokers(), func(b BrokerView) bool { return b.Isolated })
}

// All: every check holds.
func All(checks ...Check) Check {
	return func(l *Lab, since Snapshot) bool {
		for _, c := range checks {
			if !c(l, since) {
				return false
			}
		}
		return true
	}
}

// Eager and cooperative assignors (KIP-429: only cooperative-sticky keeps
// what does not move).
var (
	EagerAssignors       = []string{"range", "roundrobin", "sticky"}
	CooperativeAssignors = []string{"cooperative-sticky"}
)

// GroupSplit: a group using one of the assignors (any if none) is Stable
// with at least n running members, each partition read by exactly one, and
// each member reading some.
func GroupSplit(n int, assignors ...string) Check {
	return func(l *Lab, _ Snapshot) bool {
		return slices.ContainsFunc(l.Groups(), func(g GroupView) bool { return uses(g, assignors) && splitOnce(g) && running(g) >= n })
	}
}

// GroupsSplit: at least n groups are Stable, each with every partition
// read by exactly one of its members.
func GroupsSplit(n int) Check {
	return func(l *Lab, _ Snapshot) bool {
		k := 0
		for _, g := range l.Groups() {
			if splitOnce(g) {
				k++
			}
		}
		return k >= n
	}
}

// GroupGrew: a group that existed when the step began, using one of the
// assignors, has more running members now, has rebalanced at least gens
// generations since, and is split again.
func GroupGrew(gens int32, assignors ...string) Check {
	return func(l *Lab, since Snapshot) bool {
		return slices.ContainsFunc(l.Groups(), func(g GroupView) bool {
			m, ok := since.Groups[g.Config.Name]
			return ok && uses(g, assignors) && splitOnce(g) && running(g) > m.Members && g.Generation-m.Generation >= gens
		})
	}
}

// GroupTookOver: a group using this commit mode lost a member to a crash
// and its other members read all the partitions again.
func GroupTookOver(commit client.CommitMode) Check {
	return func(l *Lab, _ Snapshot) bool {
		return slices.ContainsFunc(l.Groups(), func(g GroupView) bool {
			crashed := slices.ContainsFunc(g.Members, func(m MemberView) bool { return m.Crashed })
			return g.Config.Commit == commit && splitOnce(g) && running(g) > 0 && (crashed || l.crashedIn(g.Config.Name))
		})
	}
}

// GroupCommitted: a group using this commit mode has committed an offset.
func GroupCommitted(commit client.CommitMode) Check {
	return func(l *Lab, _ Snapshot) bool {
		return slices.ContainsFunc(l.Groups(), func(g GroupView) bool { return g.Config.Commit == commit && len(g.Committed) > 0 })
	}
}

// crashedIn reports whether a member of the group was crashed (it may be
// gone from the group's members since).
func (l *Lab) crashedIn(group string) bool {
	for _, m := range l.grp.members {
		if m.crashed && m.g.cfg.Name == group {
			return true
		}
	}
	return false
}

func uses(g GroupView, assignors []string) bool {
	return len(assignors) == 0 || slices.Contains(assignors, g.Config.Assignor)
}

// running counts the members neither crashed nor leaving.
func running(g GroupView) int {
	n := 0
	for _, m := range g.Members {
		if !m.Crashed && !m.Leaving {
			n++
		}
	}
	return n
}

// splitOnce: the group is Stable, every partition is read by exactly one
// running member, and no running member is left without (more members
// than partitions is another lesson).
func splitOnce(g GroupView) bool {
	if g.State != "Stable" || len(g.Unowned) > 0 {
		return false
	}
	seen := map[int32]bool{}
	for _, m := range g.Members {
		if m.Crashed || m.Leaving {
			continue
		}
		if len(m.Partitions) == 0 || m.State != "STABLE" {
			return false
		}
		for _, p := range m.Partitions {
			if seen[p.Partition] {
				return false
			}
			seen[p.Partition] = true
		}
	}
	return len(seen) > 0
}
