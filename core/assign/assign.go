// Package assign holds the consumer-group partition assignors of Kafka's Java
// client (partition.assignment.strategy: range, roundrobin, sticky,
// cooperative-sticky) and the consumer protocol bytes that carry
// subscriptions and assignments through JoinGroup and SyncGroup.
//
// In the classic group protocol the coordinator does not assign partitions:
// it picks a protocol every member supports and the group leader runs the
// assignor (ConsumerCoordinator.onLeaderElected). Every assignor here is a
// pure function of its input, whatever the order of the members, so a
// simulated group replays exactly.
package assign

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf16"
)

// Member is one group member as the group leader sees it in JoinGroup's
// response.
type Member struct {
	ID         string             // member id
	InstanceID string             // group.instance.id (static membership), "" if none
	Topics     []string           // subscribed topics
	Owned      map[string][]int32 // partitions it owned before this rebalance (cooperative/sticky: from its subscription's OwnedPartitions / sticky UserData)
	Generation int32              // generation of Owned (-1 unknown)
}

// Assignor is a partition.assignment.strategy.
type Assignor interface {
	// Name is Kafka's protocol name: "range", "roundrobin", "sticky",
	// "cooperative-sticky".
	Name() string
	// Assign maps member id -> topic -> partitions, given each topic's
	// partition count. Every member is in the result, with an empty map if
	// it gets nothing; partitions are ascending. Topics missing from
	// partitions are skipped, as Kafka skips topics without metadata.
	Assign(members []Member, partitions map[string]int32) map[string]map[string][]int32
}

// ByName returns the assignor Kafka knows by name.
func ByName(name string) (Assignor, bool) {
	for _, a := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()} {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// Revoked returns the partitions in owned that are not in assigned: what a
// member must give up after a cooperative rebalance before it rejoins for the
// second one (KIP-429; ConsumerCoordinator.onJoinComplete). It is nil if the
// member keeps everything it owned.
func Revoked(owned, assigned map[string][]int32) map[string][]int32 {
	var out map[string][]int32
	for topic, parts := range owned {
		for _, p := range parts {
			if slices.Contains(assigned[topic], p) || slices.Contains(out[topic], p) {
				continue
			}
			if out == nil {
				out = map[string][]int32{}
			}
			out[topic] = append(out[topic], p)
		}
	}
	for _, parts := range out {
		slices.Sort(parts)
	}
	return out
}

// prepare returns the members in Kafka's order (static members by instance id
// first, then the others by member id: ConsumerPartitionAssignor.MemberInfo's
// compareTo), each subscription as a sorted set, and a member id listed twice
// only once, the first in that order, as the leader keys members by id.
func prepare(members []Member) []Member {
	sorted := slices.Clone(members)
	slices.SortStableFunc(sorted, func(a, b Member) int {
		switch {
		case a.InstanceID != "" && b.InstanceID != "":
			return cmp.Or(compareJava(a.InstanceID, b.InstanceID), compareJava(a.ID, b.ID))
		case a.InstanceID != "":
			return -1
		case b.InstanceID != "":
			return 1
		}
		return compareJava(a.ID, b.ID)
	})
	out := sorted[:0]
	seen := map[string]bool{}
	for _, m := range sorted {
		if !seen[m.ID] {
			seen[m.ID] = true
			m.Topics = slices.Compact(slices.Sorted(slices.Values(m.Topics)))
			out = append(out, m)
		}
	}
	return out
}

// subscribes reports whether a prepared member subscribes to topic.
func subscribes(m Member, topic string) bool {
	_, ok := slices.BinarySearch(m.Topics, topic)
	return ok
}

// compareJava orders strings as Java's String.compareTo: by UTF-16 code units,
// which differs from Go's byte order only between characters above U+FFFF and
// U+E000..U+FFFF. Topic names are ASCII (Topic.validate), member and instance
// ids need not be.
func compareJava(a, b string) int {
	return cmp.Or(slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b))),
		strings.Compare(a, b)) // invalid UTF-8 decodes lossily: keep the order total
}

// emptyPlan returns the result with every member and no partitions.
func emptyPlan(members []Member) map[string]map[string][]int32 {
	out := make(map[string]map[string][]int32, len(members))
	for _, m := range members {
		out[m.ID] = map[string][]int32{}
	}
	return out
}

// subscribedTopics returns, sorted, the topics some member subscribes to that
// have partitions: Kafka's partitionsPerTopic.
func subscribedTopics(members []Member, partitions map[string]int32) []string {
	var topics []string
	for _, m := range members {
		for _, t := range m.Topics {
			if partitions[t] > 0 {
				topics = append(topics, t)
			}
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(topics)))
}
