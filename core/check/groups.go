package check

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/sim"
)

// Delivery is one record a consumer group's application finished
// processing, as the consumer reports it: its member identity and the
// generation of the assignment it was consuming (client.Consumer
// .AssignedGeneration), which is not the member's protocol generation while
// a rebalance is under way.
type Delivery struct {
	core.RecordConsumed
	Group string
	// Member is the group.instance.id of a static member, else its member
	// id: a restarted static member is the same owner.
	Member     string
	Generation int32 // -1: the member had lost its generation (and so its partitions)
}

type groupTP struct {
	group string
	tp
}

// Groups returns the violations of the consumer-group invariants found in a
// run's events and the deliveries the consumers reported:
//   - within a generation of a group, no partition has two owners: neither
//     in the assignments the coordinator handed out (AssignmentReceived)
//     nor in what the members processed;
//   - a committed offset (OffsetCommitted) never exceeds the highest high
//     watermark any broker announced for the partition by then: nobody can
//     have consumed past it;
//   - committed offsets never go back, unless a member of the group reset
//     its position in between (OffsetReset, auto.offset.reset) or the
//     group's offsets expired.
//
// A static member (group.instance.id, MemberJoined.InstanceID) counts as
// one owner whatever its member id.
func Groups(events []sim.Observed, deliveries []Delivery) []string {
	var out []string
	bad := func(o sim.Observed, format string, args ...any) {
		out = append(out, fmt.Sprintf("t=%d node %d: ", o.Time, o.Node)+fmt.Sprintf(format, args...))
	}
	type genTP struct {
		groupTP
		gen int32
	}
	instance := map[string]string{} // member id -> instance id
	owner := map[genTP]string{}
	hw := map[tp]int64{}
	committed := map[groupTP]int64{}
	resetOK := map[groupTP]bool{}
	groupOf := map[core.NodeID]string{} // consumer -> its group, from the requests it sends
	who := func(member string) string {
		if inst := instance[member]; inst != "" {
			return "instance " + inst
		}
		return member
	}
	for _, o := range events {
		switch e := o.Event.(type) {
		case core.MessageSent:
			switch r := e.Envelope.Request.(type) {
			case *kmsg.JoinGroupRequest:
				groupOf[e.Envelope.From] = r.Group
			case *kmsg.OffsetCommitRequest:
				groupOf[e.Envelope.From] = r.Group
			}
		case core.MemberJoined:
			if e.InstanceID != "" {
				instance[e.MemberID] = e.InstanceID
			}
		case core.AssignmentReceived:
			for _, topic := range slices.Sorted(maps.Keys(e.Partitions)) {
				for _, p := range e.Partitions[topic] {
					k := genTP{groupTP{e.Group, tp{topic, p}}, e.Generation}
					if prev, ok := owner[k]; ok && prev != who(e.MemberID) {
						bad(o, "group %s generation %d: %s-%d assigned to %s and to %s", e.Group, e.Generation, topic, p, prev, who(e.MemberID))
						continue
					}
					owner[k] = who(e.MemberID)
				}
			}
		case core.HighWatermarkAdvanced:
			k := tp{e.Topic, e.Partition}
			hw[k] = max(hw[k], e.HighWatermark)
		case core.OffsetReset:
			if g, ok := groupOf[o.Node]; ok {
				resetOK[groupTP{g, tp{e.Topic, e.Partition}}] = true
			}
		case core.OffsetsExpired:
			for k := range committed {
				if k.group == e.Group {
					delete(committed, k)
				}
			}
		case core.OffsetCommitted:
			k := groupTP{e.Group, tp{e.Topic, e.Partition}}
			if h := hw[k.tp]; e.Offset > h {
				bad(o, "group %s: committed offset %d of %s-%d is above the high watermark %d", e.Group, e.Offset, e.Topic, e.Partition, h)
			}
			if last, ok := committed[k]; ok && e.Offset < last && !resetOK[k] {
				bad(o, "group %s: committed offset of %s-%d went back from %d to %d without a reset", e.Group, e.Topic, e.Partition, last, e.Offset)
			}
			committed[k] = e.Offset
			delete(resetOK, k)
		}
	}
	processor := map[genTP]string{}
	for _, d := range deliveries {
		if d.Generation < 0 {
			continue
		}
		k := genTP{groupTP{d.Group, tp{d.Topic, d.Partition}}, d.Generation}
		if prev, ok := processor[k]; ok && prev != d.Member {
			out = append(out, fmt.Sprintf("group %s generation %d: %s-%d processed by %s and by %s", d.Group, d.Generation, d.Topic, d.Partition, prev, d.Member))
			continue
		}
		processor[k] = d.Member
	}
	return out
}

// DeliveryReport compares what a group processed with the records
// producers had acknowledged.
type DeliveryReport struct {
	Group string
	// Missing counts acknowledged records the group never processed (an
	// at-least-once group must have none once everything healed).
	Missing int
	// Duplicate counts processings beyond the first of a record (an
	// at-most-once group must have none).
	Duplicate int
	Examples  []string
}

// Delivered compares a group's deliveries with the acknowledged records:
// a record is its topic, partition and offset; the value processed there
// must be the one acknowledged.
func Delivered(group string, acked []core.RecordAcked, deliveries []Delivery) DeliveryReport {
	rep := DeliveryReport{Group: group}
	note := func(format string, args ...any) {
		if len(rep.Examples) < 10 {
			rep.Examples = append(rep.Examples, fmt.Sprintf(format, args...))
		}
	}
	type at struct {
		tp
		offset int64
	}
	seen := map[at][]byte{}
	var dups []at
	for _, d := range deliveries {
		if d.Group != group {
			continue
		}
		k := at{tp{d.Topic, d.Partition}, d.Offset}
		if _, ok := seen[k]; ok {
			rep.Duplicate++
			dups = append(dups, k)
			continue
		}
		seen[k] = d.Value
	}
	sort.Slice(dups, func(i, j int) bool { return dups[i].offset < dups[j].offset })
	for _, k := range dups {
		note("%s-%d offset %d processed more than once", k.topic, k.partition, k.offset)
	}
	for _, a := range acked {
		if a.Offset < 0 {
			continue // acks=0: no offset to find
		}
		v, ok := seen[at{tp{a.Topic, a.Partition}, a.Offset}]
		switch {
		case !ok:
			rep.Missing++
			note("%s-%d offset %d (%q) acknowledged, never processed", a.Topic, a.Partition, a.Offset, a.Value)
		case string(v) != string(a.Value):
			rep.Missing++
			note("%s-%d offset %d: processed %q, acknowledged %q", a.Topic, a.Partition, a.Offset, v, a.Value)
		}
	}
	return rep
}
