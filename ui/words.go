package ui

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/controller"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// Helpers shared by the components: names of machines, events in words,
// record keys as colours. No component lives here.

// nodeName names a machine of the lab.
func nodeName(id core.NodeID) string {
	switch id {
	case sim.HostNode:
		return "network"
	case lab.AdminID:
		return "admin"
	case lab.ProducerID:
		return "producer"
	case lab.ProducerAcks1ID:
		return "producer acks=1"
	case lab.ProducerAcks0ID:
		return "producer acks=0"
	case lab.ConsumerID:
		return "consumer"
	}
	if name, ok := lab.MemberName(id); ok {
		return "consumer " + name
	}
	if n, ok := lab.ProducerNumber(id); ok {
		return fmt.Sprintf("producer #%d", n)
	}
	return fmt.Sprintf("broker %d", id)
}

// who is the actor of an event: controller events are the quorum's.
func who(o sim.Observed) string {
	switch o.Event.(type) {
	case core.ControllerElected, core.ControllerResigned, core.BrokerRegistered, core.BrokerFenced,
		core.BrokerUnfenced, core.PartitionLeaderChanged, core.IsrChanged:
		return fmt.Sprintf("controller %d", o.Node)
	}
	return nodeName(o.Node)
}

func message(e core.Envelope) string {
	if e.Raft != nil {
		return "raft " + controller.DescribeRaft(e.Raft)
	}
	kind := "response"
	if e.Request != nil {
		kind = "request"
	}
	return fmt.Sprintf("%s%s %s #%d%s", core.APIName(e.Key()), fetchKind(e), kind, e.CorrelationID, groupOf(e))
}

// groupOf names the consumer group a request is about, for the group
// coordinator's APIs.
func groupOf(e core.Envelope) string {
	var g string
	switch m := e.Request.(type) {
	case *kmsg.FindCoordinatorRequest:
		g = m.CoordinatorKey
		if len(m.CoordinatorKeys) > 0 {
			g = m.CoordinatorKeys[0]
		}
	case *kmsg.JoinGroupRequest:
		g = m.Group
	case *kmsg.SyncGroupRequest:
		g = m.Group
	case *kmsg.HeartbeatRequest:
		g = m.Group
	case *kmsg.LeaveGroupRequest:
		g = m.Group
	case *kmsg.OffsetCommitRequest:
		g = m.Group
	case *kmsg.OffsetFetchRequest:
		g = m.Group
		if len(m.Groups) > 0 {
			g = m.Groups[0].Group
		}
	}
	if g == "" {
		return ""
	}
	return " (group " + g + ")"
}

// groupAPI reports whether a message belongs to the group protocol: the
// coordinator lookup, the joins, heartbeats and offsets.
func groupAPI(e core.Envelope) bool {
	switch kmsg.Key(e.Key()) {
	case kmsg.FindCoordinator, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup, kmsg.OffsetCommit, kmsg.OffsetFetch:
		return true
	}
	return false
}

// uuidLen is the length of a member id's suffix: "-" and a UUID.
const uuidLen = 37

// isUUIDSuffix reports whether s is "-" and a UUID in Kafka's text form.
func isUUIDSuffix(s string) bool {
	if len(s) != uuidLen || s[0] != '-' {
		return false
	}
	for i, c := range s[1:] {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// shortMember shortens a member id (client.id + "-" + a UUID, as the
// coordinator makes them) to the client.id and 4 digits: c-2-3f1a.
func shortMember(id string) string {
	if n := len(id); n > uuidLen && isUUIDSuffix(id[n-uuidLen:]) {
		return id[:n-uuidLen+5]
	}
	return id
}

// memberName is the client.id inside a member id: c-2.
func memberName(id string) string {
	if n := len(id); n > uuidLen && isUUIDSuffix(id[n-uuidLen:]) {
		return id[:n-uuidLen]
	}
	return id
}

// withoutUUIDs drops the UUIDs of the member ids in a coordinator's
// message, so they read as client ids.
func withoutUUIDs(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && i+uuidLen <= len(s) && isUUIDSuffix(s[i:i+uuidLen]) {
			i += uuidLen - 1
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tps lists partitions of a topic: events-1, events-4.
func tps(topic string, ps []int32) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = tp(topic, p)
	}
	return strings.Join(s, ", ")
}

// groupStateText tells a group's move to a new state.
func groupStateText(e core.GroupStateChanged) string {
	why := withoutUUIDs(e.Reason)
	switch e.To {
	case "PreparingRebalance":
		return fmt.Sprintf("group %s: rebalance started (generation %d, PreparingRebalance): every member must rejoin with JoinGroup. Why: %s", e.Group, e.Generation, why)
	case "CompletingRebalance":
		return fmt.Sprintf("group %s: generation %d → %d (CompletingRebalance): %s; the leader computes the assignment and sends it with SyncGroup", e.Group, e.Generation-1, e.Generation, why)
	case "Stable":
		if e.From == "Dead" {
			return fmt.Sprintf("group %s: this broker is its coordinator now, generation %d (%s)", e.Group, e.Generation, why)
		}
		return fmt.Sprintf("group %s is Stable in generation %d: the leader's assignment reached the coordinator, each member gets its share in its SyncGroup response", e.Group, e.Generation)
	case "Empty":
		return fmt.Sprintf("group %s is Empty (generation %d): no member; its committed offsets are kept for the next one (%s)", e.Group, e.Generation, why)
	case "Dead":
		return fmt.Sprintf("group %s is Dead here: %s", e.Group, why)
	}
	return fmt.Sprintf("group %s: %s → %s, generation %d (%s)", e.Group, e.From, e.To, e.Generation, why)
}

// rebalancedText tells what a rebalance did to one member.
func rebalancedText(e lab.Rebalanced) string {
	var topic string
	var assigned []int32
	for t, ps := range e.Partitions {
		topic, assigned = t, ps
	}
	var parts []string
	if len(e.Lost) > 0 {
		parts = append(parts, "lost "+tps(topic, e.Lost)+" (its generation was gone: nothing committed)")
	}
	if len(e.Revoked) > 0 {
		text := "revoked " + tps(topic, e.Revoked)
		if e.Protocol == "cooperative-sticky" {
			text += ": they move to another member, so it rejoins for a second rebalance"
		} else {
			text += " (eager protocol: it gave up everything before rejoining)"
		}
		parts = append(parts, text)
	}
	if len(e.Added) > 0 {
		// Partitions by their previous owner, in order: "events-3,
		// events-4 (revoked from c-1)".
		var added []string
		for i := 0; i < len(e.Added); {
			from := e.From[e.Added[i]]
			j := i + 1
			for j < len(e.Added) && e.From[e.Added[j]] == from {
				j++
			}
			a := tps(topic, e.Added[i:j])
			if from != "" {
				a += " (revoked from " + from + ")"
			}
			added = append(added, a)
			i = j
		}
		parts = append(parts, "assigned "+strings.Join(added, ", "))
	}
	var kept []int32
	for _, p := range assigned {
		if !slices.Contains(e.Added, p) {
			kept = append(kept, p)
		}
	}
	if len(kept) > 0 {
		parts = append(parts, "kept "+tps(topic, kept))
	}
	if len(assigned) == 0 {
		parts = append(parts, "has no partition")
	}
	return fmt.Sprintf("group %s, generation %d (%s): %s %s", e.Group, e.Generation, e.Protocol, e.Member, strings.Join(parts, "; "))
}

// fetchKind tells the three uses of Fetch apart: a broker reading the
// metadata log from the controller, a follower replicating from a leader,
// a consumer.
func fetchKind(e core.Envelope) string {
	var topic string
	switch m := e.Request.(type) {
	case *kmsg.FetchRequest:
		if len(m.Topics) > 0 {
			topic = m.Topics[0].Topic
		}
	default:
		r, ok := e.Response.(*kmsg.FetchResponse)
		if !ok {
			return ""
		}
		if len(r.Topics) > 0 {
			topic = r.Topics[0].Topic
		}
	}
	switch {
	case topic == controller.MetadataTopic:
		return " (metadata log)"
	case e.From < core.ClientIDBase && e.To < core.ClientIDBase:
		return " (replica)"
	}
	return ""
}

func showBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

func ids(v []int32) string {
	s := make([]string, len(v))
	for i, id := range v {
		s[i] = fmt.Sprint(id)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func tp(topic string, p int32) string { return fmt.Sprintf("%s-%d", topic, p) }

// isrDiff says who left or joined an ISR.
func isrDiff(prev, now []int32) string {
	var parts []string
	for _, id := range prev {
		if !slices.Contains(now, id) {
			parts = append(parts, fmt.Sprintf("broker %d left", id))
		}
	}
	for _, id := range now {
		if !slices.Contains(prev, id) {
			parts = append(parts, fmt.Sprintf("broker %d caught up and joined", id))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// describe puts an event in a learner's words, with Kafka's names.
func describe(ev core.Event) string {
	switch e := ev.(type) {
	case core.TopicCreated:
		mir := e.Configs["min.insync.replicas"]
		if mir == "" {
			return fmt.Sprintf("created topic %q with %d partitions", e.Topic, e.Partitions)
		}
		return fmt.Sprintf("created topic %q: %d partitions, min.insync.replicas=%s", e.Topic, e.Partitions, mir)
	case core.ControllerElected:
		return fmt.Sprintf("broker %d won the controller election (raft): it is the active controller, epoch %d", e.Controller, e.Epoch)
	case core.ControllerResigned:
		return fmt.Sprintf("broker %d is no longer the controller (epoch %d ended)", e.Controller, e.Epoch)
	case core.BrokerRegistered:
		return fmt.Sprintf("broker %d registered (broker epoch %d); fenced until it has caught up with the metadata log", e.Broker, e.Epoch)
	case core.BrokerFenced:
		return fmt.Sprintf("broker %d fenced: %s. It leaves every ISR and may lead nothing", e.Broker, e.Reason)
	case core.BrokerUnfenced:
		return fmt.Sprintf("broker %d unfenced: it heartbeats and has caught up, it may lead partitions again", e.Broker)
	case core.PartitionLeaderChanged:
		switch {
		case e.Leader < 0:
			return fmt.Sprintf("%s has no leader now (leader epoch %d): no replica in the ISR is alive", tp(e.Topic, e.Partition), e.LeaderEpoch)
		case e.Unclean:
			return fmt.Sprintf("%s leader → broker %d, epoch %d: UNCLEAN election, broker %d was not in the ISR", tp(e.Topic, e.Partition), e.Leader, e.LeaderEpoch, e.Leader)
		case e.PreviousLeader < 0:
			return fmt.Sprintf("%s leader → broker %d, epoch %d", tp(e.Topic, e.Partition), e.Leader, e.LeaderEpoch)
		}
		return fmt.Sprintf("%s leader → broker %d, epoch %d (was broker %d)", tp(e.Topic, e.Partition), e.Leader, e.LeaderEpoch, e.PreviousLeader)
	case core.IsrChanged:
		return fmt.Sprintf("%s ISR %s → %s%s", tp(e.Topic, e.Partition), ids(e.PreviousISR), ids(e.ISR), isrDiff(e.PreviousISR, e.ISR))
	case core.ReplicaRoleChanged:
		if e.Role == "leader" {
			return fmt.Sprintf("%s: now the leader, leader epoch %d", tp(e.Topic, e.Partition), e.LeaderEpoch)
		}
		if e.Leader < 0 {
			return fmt.Sprintf("%s: follower with no leader to fetch from (epoch %d)", tp(e.Topic, e.Partition), e.LeaderEpoch)
		}
		return fmt.Sprintf("%s: now a follower of broker %d, leader epoch %d", tp(e.Topic, e.Partition), e.Leader, e.LeaderEpoch)
	case core.RecordsAppended:
		if e.BaseOffset == e.LastOffset {
			return fmt.Sprintf("leader appended 1 record to %s at offset %d", tp(e.Topic, e.Partition), e.BaseOffset)
		}
		return fmt.Sprintf("leader appended %d records to %s at offsets %d..%d", e.Records, tp(e.Topic, e.Partition), e.BaseOffset, e.LastOffset)
	case lab.Replicated:
		if e.BaseOffset == e.LastOffset {
			return fmt.Sprintf("copied %s offset %d from broker %d (replica fetch)", tp(e.Topic, e.Partition), e.BaseOffset, e.Leader)
		}
		return fmt.Sprintf("copied %s offsets %d..%d from broker %d (replica fetch)", tp(e.Topic, e.Partition), e.BaseOffset, e.LastOffset, e.Leader)
	case core.HighWatermarkAdvanced:
		return fmt.Sprintf("%s high watermark → %d: every in-sync replica has the records below it; consumers may read them", tp(e.Topic, e.Partition), e.HighWatermark)
	case core.LogTruncated:
		return fmt.Sprintf("%s: cut its log from offset %d back to %d (%s): those records were never committed", tp(e.Topic, e.Partition), e.From, e.To, e.Reason)
	case core.SegmentRolled:
		return fmt.Sprintf("rolled a new segment of %s at offset %d", tp(e.Topic, e.Partition), e.BaseOffset)
	case core.SegmentDeleted:
		return fmt.Sprintf("deleted segment [%d, %d) of %s (%s)", e.BaseOffset, e.NextOffset, tp(e.Topic, e.Partition), e.Reason)
	case core.LogStartOffsetAdvanced:
		return fmt.Sprintf("log start offset of %s is now %d", tp(e.Topic, e.Partition), e.LogStartOffset)
	case core.LogRecovered:
		return fmt.Sprintf("recovered %s: cut %d bytes (%s)", tp(e.Topic, e.Partition), e.TruncatedBytes, e.Reason)
	case core.RequestFailed:
		if e.Partition < 0 {
			return fmt.Sprintf("%s for %s failed: %s%s", e.API, e.Topic, e.Error, why(e.Error))
		}
		return fmt.Sprintf("%s for %s failed: %s%s", e.API, tp(e.Topic, e.Partition), e.Error, why(e.Error))
	case core.RecordPartitioned:
		return fmt.Sprintf("key %s → partition %d (%s)", showBytes(e.Key), e.Partition, e.Reason)
	case core.RecordAcked:
		if e.Offset < 0 {
			return fmt.Sprintf("sent to %s: acks=0 waits for no answer", tp(e.Topic, e.Partition))
		}
		return fmt.Sprintf("acknowledged: %s offset %d", tp(e.Topic, e.Partition), e.Offset)
	case core.ProduceRetried:
		return fmt.Sprintf("retrying %d record(s) for %s (attempt %d): %s%s", e.Records, tp(e.Topic, e.Partition), e.Attempt, e.Error, why(e.Error))
	case core.ProduceFailed:
		return fmt.Sprintf("gave up producing to %s: %s", tp(e.Topic, e.Partition), e.Error)
	case core.RecordConsumed:
		return fmt.Sprintf("read %s offset %d: %s = %s", tp(e.Topic, e.Partition), e.Offset, showBytes(e.Key), showBytes(e.Value))
	case core.OffsetReset:
		return fmt.Sprintf("position of %s reset to %d (%s)", tp(e.Topic, e.Partition), e.Offset, e.Reason)
	case core.ConsumeFailed:
		return fmt.Sprintf("cannot read %s at offset %d: %s", tp(e.Topic, e.Partition), e.Offset, e.Error)
	case core.DuplicateIgnored:
		return fmt.Sprintf("ignored a retried batch of producer %d (sequence %d): it is already at offset %d", e.ProducerID, e.FirstSequence, e.BaseOffset)
	case core.ProducerIDAssigned:
		return fmt.Sprintf("got producer id %d, epoch %d from broker %d (idempotence: %s)", e.ProducerID, e.Epoch, e.Broker, e.Reason)
	case core.ProducerEpochBumped:
		return fmt.Sprintf("bumped producer %d to epoch %d, sequences from 0 again (idempotence: %s)", e.ProducerID, e.Epoch, e.Reason)
	case core.IdempotenceDisabled:
		return "producing without idempotence: " + e.Reason
	case core.FaultInjected:
		return faultText(e.Kind, e.Nodes, e.Detail, true)
	case core.FaultHealed:
		return faultText(e.Kind, e.Nodes, e.Detail, false)
	case core.MessageSent:
		return "sent " + message(e.Envelope) + " to " + nodeName(e.Envelope.To)
	case core.MessageDelivered:
		return "received " + message(e.Envelope) + " from " + nodeName(e.Envelope.From)
	case core.MessageDropped:
		return "lost " + message(e.Envelope) + " to " + nodeName(e.Envelope.To) + ": " + e.Reason
	case core.MessageDuplicated:
		return "the network duplicated " + message(e.Envelope)
	case core.MetadataApplied:
		return fmt.Sprintf("applied metadata log entry %d (epoch %d): %s", e.Offset, e.Epoch, strings.Join(e.Records, "; "))
	case core.StorageFailed:
		return "storage failed: " + e.Err
	case core.GroupStateChanged:
		return groupStateText(e)
	case core.MemberJoined:
		return fmt.Sprintf("group %s: member %s joined (member id %s)", e.Group, e.ClientID, shortMember(e.MemberID))
	case core.MemberLeft:
		return fmt.Sprintf("group %s: member %s left: %s", e.Group, memberName(e.MemberID), withoutUUIDs(e.Reason))
	case core.AssignmentReceived:
		return fmt.Sprintf("group %s: %s got its assignment for generation %d (SyncGroup)", e.Group, memberName(e.MemberID), e.Generation)
	case lab.Rebalanced:
		return rebalancedText(e)
	case core.OffsetCommitted:
		return fmt.Sprintf("group %s: committed %s offset %d (the next record to read)", e.Group, tp(e.Topic, e.Partition), e.Offset)
	case core.GroupsLoaded:
		return fmt.Sprintf("now coordinator of __consumer_offsets-%d: loaded %d group(s) and %d offset(s) from its log", e.Partition, e.Groups, e.Offsets)
	case core.GroupsUnloaded:
		return fmt.Sprintf("no longer coordinator of __consumer_offsets-%d (%d group(s)): their members look the new one up", e.Partition, e.Groups)
	}
	return fmt.Sprintf("%T", ev)
}

// errorWhy explains the Kafka errors a learner meets when breaking the
// cluster.
var errorWhy = map[string]string{
	"NOT_LEADER_OR_FOLLOWER":           "this broker does not lead the partition (any more); the client refreshes its metadata",
	"NOT_ENOUGH_REPLICAS":              "the ISR is smaller than min.insync.replicas, so acks=all is refused",
	"NOT_ENOUGH_REPLICAS_AFTER_APPEND": "the ISR shrank below min.insync.replicas after the record was written",
	"INELIGIBLE_REPLICA":               "the replica to add to the ISR is on a broker that is still fenced",
	"FENCED_LEADER_EPOCH":              "the request carried an old leader epoch",
	"REQUEST_TIMED_OUT":                "no answer within request.timeout.ms",
	"NETWORK_EXCEPTION":                "the connection was closed after another request on it timed out",
	"NOT_CONTROLLER":                   "that voter is not the active controller (any more)",
}

func why(err string) string {
	for name, text := range errorWhy {
		if strings.HasPrefix(err, name) && (len(err) == len(name) || err[len(name)] == ':' || err[len(name)] == ' ') {
			return " (" + text + ")"
		}
	}
	return ""
}

func faultText(kind string, nodes []core.NodeID, detail string, begins bool) string {
	node := ""
	if len(nodes) == 1 {
		node = nodeName(nodes[0])
		if _, member := lab.MemberName(nodes[0]); member && kind == core.FaultCrash && begins {
			return "you crashed " + node + ": no commit, no LeaveGroup; the coordinator counts it in the group until session.timeout.ms passes without a heartbeat"
		}
	}
	switch {
	case kind == core.FaultCrash && begins:
		return "you killed " + node + " (kill -9): its messages are lost, its disk is kept"
	case kind == core.FaultCrash:
		return node + " restarted from its disk"
	case kind == core.FaultPause && begins:
		return "you paused " + node + " (like SIGSTOP or a long GC pause): messages to it wait"
	case kind == core.FaultPause:
		return node + " resumed: " + detail
	case kind == core.FaultPartition && begins:
		return "network cut between " + detail + " (clients still reach every broker)"
	case kind == core.FaultPartition, kind == core.FaultCut && !begins:
		return "network healed: " + detail
	case kind == core.FaultSlow && begins:
		return "slow network: " + detail
	case kind == core.FaultSlow:
		return node + " back to normal latency"
	}
	if begins {
		return "fault: " + kind + " " + detail
	}
	return "healed: " + kind + " " + detail
}

// palette is Okabe and Ito's colour-blind-safe palette (2008), with the
// text colour that reads on each.
var palette = [][2]string{
	{"#E69F00", "#000"}, // orange
	{"#56B4E9", "#000"}, // sky blue
	{"#009E73", "#fff"}, // bluish green
	{"#F0E442", "#000"}, // yellow
	{"#0072B2", "#fff"}, // blue
	{"#D55E00", "#fff"}, // vermillion
	{"#CC79A7", "#000"}, // reddish purple
	{"#000000", "#fff"}, // black
}

// keyColor is a record key's colour: the same key always gets the same one
// (and always lands in the same partition). A null key has none.
func keyColor(key []byte) (bg, fg string) {
	if key == nil {
		return "", ""
	}
	h := fnv.New32a()
	h.Write(key)
	c := palette[h.Sum32()%uint32(len(palette))]
	return c[0], c[1]
}
