package broker

import "github.com/streamlab/streamlab/core"

// The group coordinator's seam. The coordinator for a group is the leader of
// its __consumer_offsets partition; these hooks let it serve its APIs, keep
// time, and follow leadership and high watermark changes of that topic.

// groupRequest serves a group coordinator API (FindCoordinator, JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// DescribeGroups, ListGroups); it reports whether env was one of them. It
// may answer later through n.reply (a JoinGroup waits for the rebalance).
func (n *Node) groupRequest(env core.Envelope) bool { return false }

// tickGroups runs the coordinator's timers (sessions, rebalance timeouts).
func (n *Node) tickGroups() {}

// groupsPartitionChanged is called after p's leader or leader epoch changed.
func (n *Node) groupsPartitionChanged(p *partition) {}

// groupsHWAdvanced is called after p's high watermark advanced on its leader.
func (n *Node) groupsHWAdvanced(p *partition) {}
