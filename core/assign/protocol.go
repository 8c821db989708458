package assign

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The consumer protocol ("consumer" protocol type) is what JoinGroup and
// SyncGroup carry opaquely for consumers: ConsumerProtocolSubscription and
// ConsumerProtocolAssignment. The Java client writes both at the highest
// version it knows, 3 (ConsumerProtocol.serializeSubscription and
// serializeAssignment), and reads a higher version as its highest.
const protocolVersion = 3

// EncodeSubscription returns the subscription a Java consumer using
// assignorName sends in JoinGroup: its topics, sorted; the generation it last
// joined (-1 if none); and what the assignor needs to be sticky.
// cooperative-sticky lists the owned partitions in the subscription (KIP-429)
// and its generation again in UserData, an int32
// (CooperativeStickyAssignor.subscriptionUserData). sticky is eager: its
// members give up everything before joining, so the subscription lists
// nothing owned and UserData carries the previous assignment as
// StickyAssignorUserData v1 with its generation (KIP-341), or nothing before
// the member's first assignment. range and roundrobin send no UserData.
func EncodeSubscription(topics []string, owned map[string][]int32, generation int32, assignorName string) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = protocolVersion
	meta.Topics = slices.Compact(slices.Sorted(slices.Values(topics)))
	meta.Generation = generation
	switch assignorName {
	case "cooperative-sticky":
		for _, t := range sortedTopics(owned) {
			meta.OwnedPartitions = append(meta.OwnedPartitions, kmsg.ConsumerMemberMetadataOwnedPartition{Topic: t, Partitions: slices.Sorted(slices.Values(owned[t]))})
		}
		meta.UserData = binary.BigEndian.AppendUint32(nil, uint32(generation))
	case "sticky":
		if len(owned) > 0 || generation != -1 {
			user := kmsg.NewStickyMemberMetadata()
			user.Generation = generation // -1 (no generation yet) is written as v0
			for _, t := range sortedTopics(owned) {
				user.CurrentAssignment = append(user.CurrentAssignment, kmsg.StickyMemberMetadataCurrentAssignment{Topic: t, Partitions: slices.Sorted(slices.Values(owned[t]))})
			}
			meta.UserData = user.AppendTo(nil)
		}
	}
	return meta.AppendTo(nil)
}

// DecodeSubscription reads a member's subscription from JoinGroup's response
// as assignorName reads it: the subscription's OwnedPartitions and
// GenerationId for cooperative-sticky (falling back to the generation in
// UserData before version 2); the previous assignment and generation in
// StickyAssignorUserData for sticky, where user data that does not parse
// means no history, as in StickyAssignor.memberData; only topics and
// generation for range and roundrobin. It fails only if the subscription
// itself is malformed.
func DecodeSubscription(memberID, instanceID string, b []byte, assignorName string) (Member, error) {
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(b); err != nil {
		return Member{}, fmt.Errorf("member %s: subscription truncated: %w", memberID, err)
	}
	if meta.Version < 0 {
		return Member{}, fmt.Errorf("member %s: unsupported subscription version %d", memberID, meta.Version)
	}
	m := Member{ID: memberID, InstanceID: instanceID, Topics: meta.Topics, Generation: -1}
	switch assignorName {
	case "sticky":
		var user kmsg.StickyMemberMetadata
		if len(meta.UserData) == 0 || user.ReadFrom(meta.UserData) != nil {
			return m, nil
		}
		m.Generation = user.Generation
		for _, a := range user.CurrentAssignment {
			m.Owned = addParts(m.Owned, a.Topic, a.Partitions)
		}
	case "cooperative-sticky":
		for _, o := range meta.OwnedPartitions {
			m.Owned = addParts(m.Owned, o.Topic, o.Partitions)
		}
		m.Generation = meta.Generation
		if meta.Version < 2 && meta.UserData != nil {
			m.Generation = -1 // unreadable user data: DEFAULT_GENERATION
			if len(meta.UserData) >= 4 {
				m.Generation = int32(binary.BigEndian.Uint32(meta.UserData))
			}
		}
	default: // range and roundrobin look at topics only
		m.Generation = meta.Generation
	}
	return m, nil
}

// EncodeAssignment returns a member's assignment for SyncGroup, topics and
// partitions sorted.
func EncodeAssignment(assigned map[string][]int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = protocolVersion
	for _, t := range sortedTopics(assigned) {
		a.Topics = append(a.Topics, kmsg.ConsumerMemberAssignmentTopic{Topic: t, Partitions: slices.Sorted(slices.Values(assigned[t]))})
	}
	return a.AppendTo(nil)
}

// DecodeAssignment reads the assignment SyncGroup's response hands a member.
// An empty assignment is valid: the member got nothing.
func DecodeAssignment(b []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		return nil, fmt.Errorf("assignment truncated: %w", err)
	}
	if a.Version < 0 {
		return nil, fmt.Errorf("unsupported assignment version %d", a.Version)
	}
	out := map[string][]int32{}
	for _, t := range a.Topics {
		if slices.ContainsFunc(t.Partitions, func(p int32) bool { return p < 0 }) {
			return nil, fmt.Errorf("assignment of topic %q has a negative partition", t.Topic)
		}
		out = addParts(out, t.Topic, t.Partitions)
	}
	return out, nil
}

// addParts adds parts to m[topic], sorted and without repeats: a topic may
// appear twice on the wire.
func addParts(m map[string][]int32, topic string, parts []int32) map[string][]int32 {
	if m == nil {
		m = map[string][]int32{}
	}
	m[topic] = slices.Compact(slices.Sorted(slices.Values(append(m[topic], parts...))))
	return m
}

func sortedTopics(m map[string][]int32) []string {
	var topics []string
	for t := range m {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return topics
}
