package group

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The decoders read what storage gives back: any bytes must give a value or
// an error, never a panic, and what decodes must encode and decode again to
// the same value.

func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeOffsetKey("g", "t", 3))
	f.Add(EncodeGroupKey("group"))
	f.Add([]byte{0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 1})
	f.Add([]byte{0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			return
		}
		var again []byte
		switch k.Type {
		case KeyGroupMetadata:
			again = EncodeGroupKey(k.Group)
		case KeyOffsetCommit:
			again = EncodeOffsetKey(k.Group, k.Topic, k.Partition)
		default:
			return
		}
		if k2, err := DecodeKey(again); err != nil || k2 != k {
			t.Fatalf("re-encoded key %+v decodes to %+v, %v", k, k2, err)
		}
	})
}

func FuzzDecodeOffsetValue(f *testing.F) {
	f.Add(EncodeOffsetValue(OffsetValue{Offset: 1, LeaderEpoch: 2, Metadata: "m", CommitTimestamp: 3, ExpireTimestamp: -1}))
	f.Add(EncodeOffsetValue(OffsetValue{Offset: 1, Metadata: "m", CommitTimestamp: 3, ExpireTimestamp: 4}))
	v4 := kmsg.NewOffsetCommitValue()
	v4.Version, v4.TopicID = 4, [16]byte{9}
	f.Add(v4.AppendTo(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeOffsetValue(b)
		if err != nil {
			return
		}
		if v.ExpireTimestamp < -1 {
			return // not representable in v1/v3 as our encoder picks versions
		}
		v2, err := DecodeOffsetValue(EncodeOffsetValue(v))
		if err != nil {
			t.Fatal(err)
		}
		if v.ExpireTimestamp >= 0 {
			v.LeaderEpoch = -1 // v1 has no leader epoch
		}
		if v2 != v {
			t.Fatalf("round trip %+v -> %+v", v, v2)
		}
	})
}

func FuzzDecodeGroupValue(f *testing.F) {
	f.Add(EncodeGroupValue(GroupValue{ProtocolType: "consumer", Generation: 1, Protocol: kmsg.StringPtr("range"),
		Members: []MemberValue{{MemberID: "m", InstanceID: kmsg.StringPtr("i"), Subscription: []byte{1}, Assignment: []byte{2}}}}))
	for v := int16(0); v <= 4; v++ {
		g := kmsg.NewGroupMetadataValue()
		g.Version, g.ProtocolType = v, "consumer"
		g.Members = []kmsg.GroupMetadataValueMember{kmsg.NewGroupMetadataValueMember()}
		f.Add(g.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeGroupValue(b)
		if err != nil {
			return
		}
		v2, err := DecodeGroupValue(EncodeGroupValue(v))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(norm(v), norm(v2)) {
			t.Fatalf("round trip\n%+v\n%+v", v, v2)
		}
	})
}

// norm makes nil and empty byte slices equal: Kafka's bytes are not
// nullable here.
func norm(v GroupValue) GroupValue {
	for i := range v.Members {
		if len(v.Members[i].Subscription) == 0 {
			v.Members[i].Subscription = nil
		}
		if len(v.Members[i].Assignment) == 0 {
			v.Members[i].Assignment = nil
		}
	}
	return v
}

// FuzzReplay feeds a shard arbitrary records while it loads: damaged ones
// are skipped, and the groups that result can be served.
func FuzzReplay(f *testing.F) {
	f.Add(EncodeGroupKey("g"), EncodeGroupValue(GroupValue{ProtocolType: "consumer", Generation: 2, Protocol: kmsg.StringPtr("range"),
		Leader: kmsg.StringPtr("m"), Members: []MemberValue{{MemberID: "m", SessionTimeout: 10000, Assignment: []byte{1}}}}))
	f.Add(EncodeOffsetKey("g", "t", 0), EncodeOffsetValue(OffsetValue{Offset: 5, ExpireTimestamp: -1}))
	f.Add(EncodeGroupKey("g"), []byte(nil))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		s := NewShard(DefaultConfig(), 0, 1)
		s.Replay(EncodeOffsetKey("g", "t", 1), EncodeOffsetValue(OffsetValue{Offset: 1, ExpireTimestamp: -1}))
		s.Replay(key, value)
		s.Loaded(t0)
		s.DescribeGroup("g", 5)
		s.ListGroups(nil, nil)
		s.FetchOffsets(kmsg.OffsetFetchRequestGroup{Group: "g"})
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = "g", "m", 2
		s.Heartbeat(t0, hb, func(kmsg.Response) {})
		join := kmsg.NewPtrJoinGroupRequest()
		join.Version, join.Group, join.MemberID, join.SessionTimeoutMillis, join.ProtocolType = 9, "g", "m", 10000, "consumer"
		join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		s.JoinGroup(t0, join, Client{}, func(kmsg.Response) {})
		for _, ms := range []int64{0, 10000, 700000} {
			s.Tick(t0 + ms)
		}
		for _, w := range s.TakeOutput().Writes {
			s.Done(t0, w, nil)
		}
	})
}
