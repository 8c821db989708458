package group

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Our encodings must be byte for byte what Kafka writes: kmsg carries
// Kafka's schemas for these records, so it is the reference here.
func TestRecordsMatchKafkaSchemas(t *testing.T) {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 1, "group-é", "orders", 7
	if got := EncodeOffsetKey("group-é", "orders", 7); !bytes.Equal(got, k.AppendTo(nil)) {
		t.Fatalf("offset key\n got %x\nwant %x", got, k.AppendTo(nil))
	}
	gk := kmsg.NewGroupMetadataKey()
	gk.Version, gk.Group = 2, "g"
	if got := EncodeGroupKey("g"); !bytes.Equal(got, gk.AppendTo(nil)) {
		t.Fatalf("group key %x", got)
	}

	ov := OffsetValue{Offset: 42, LeaderEpoch: 3, Metadata: "meta", CommitTimestamp: 1767225600000, ExpireTimestamp: -1}
	kv := kmsg.NewOffsetCommitValue()
	kv.Version, kv.Offset, kv.LeaderEpoch, kv.Metadata, kv.CommitTimestamp = 3, 42, 3, "meta", 1767225600000
	if got := EncodeOffsetValue(ov); !bytes.Equal(got, kv.AppendTo(nil)) {
		t.Fatalf("offset value v3\n got %x\nwant %x", got, kv.AppendTo(nil))
	}
	ov.ExpireTimestamp = 1767225700000
	kv = kmsg.NewOffsetCommitValue()
	kv.Version, kv.Offset, kv.Metadata, kv.CommitTimestamp, kv.ExpireTimestamp = 1, 42, "meta", 1767225600000, 1767225700000
	if got := EncodeOffsetValue(ov); !bytes.Equal(got, kv.AppendTo(nil)) {
		t.Fatalf("offset value v1\n got %x\nwant %x", got, kv.AppendTo(nil))
	}

	gv := GroupValue{ProtocolType: "consumer", Generation: 5, Protocol: kmsg.StringPtr("range"), Leader: kmsg.StringPtr("m1"),
		CurrentStateTimestamp: 1767225600000, Members: []MemberValue{
			{MemberID: "m1", InstanceID: kmsg.StringPtr("i1"), ClientID: "c", ClientHost: "/h", RebalanceTimeout: 60000, SessionTimeout: 45000, Subscription: []byte{1, 2}, Assignment: []byte{3}},
			{MemberID: "m2", ClientID: "c2", ClientHost: "/h2", RebalanceTimeout: 1, SessionTimeout: 2, Subscription: []byte{}, Assignment: []byte{}},
		}}
	kg := kmsg.NewGroupMetadataValue()
	kg.Version, kg.ProtocolType, kg.Generation, kg.Protocol, kg.Leader, kg.CurrentStateTimestamp = 3, "consumer", 5, gv.Protocol, gv.Leader, gv.CurrentStateTimestamp
	for _, m := range gv.Members {
		km := kmsg.NewGroupMetadataValueMember()
		km.MemberID, km.InstanceID, km.ClientID, km.ClientHost = m.MemberID, m.InstanceID, m.ClientID, m.ClientHost
		km.RebalanceTimeoutMillis, km.SessionTimeoutMillis, km.Subscription, km.Assignment = m.RebalanceTimeout, m.SessionTimeout, m.Subscription, m.Assignment
		kg.Members = append(kg.Members, km)
	}
	enc := EncodeGroupValue(gv)
	if !bytes.Equal(enc, kg.AppendTo(nil)) {
		t.Fatalf("group value\n got %x\nwant %x", enc, kg.AppendTo(nil))
	}
	back, err := DecodeGroupValue(enc)
	if err != nil || !reflect.DeepEqual(back, gv) {
		t.Fatalf("round trip: %v\n%+v", err, back)
	}
}

// Every version Kafka ever wrote decodes, flexible v4 included.
func TestDecodeEveryVersion(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		kv := kmsg.NewOffsetCommitValue()
		kv.Version, kv.Offset, kv.LeaderEpoch, kv.Metadata, kv.CommitTimestamp, kv.ExpireTimestamp = v, 9, 2, "x", 100, 200
		kv.TopicID = [16]byte{1} // a tagged field in v4
		got, err := DecodeOffsetValue(kv.AppendTo(nil))
		if err != nil || got.Offset != 9 || got.Metadata != "x" || got.CommitTimestamp != 100 {
			t.Fatalf("OffsetCommitValue v%d: %v %+v", v, err, got)
		}
		if (v >= 3) != (got.LeaderEpoch == 2) || (v == 1) != (got.ExpireTimestamp == 200) {
			t.Fatalf("OffsetCommitValue v%d fields: %+v", v, got)
		}

		kg := kmsg.NewGroupMetadataValue()
		kg.Version, kg.ProtocolType, kg.Generation, kg.CurrentStateTimestamp = v, "consumer", 3, 77
		m := kmsg.NewGroupMetadataValueMember()
		m.MemberID, m.InstanceID, m.RebalanceTimeoutMillis, m.SessionTimeoutMillis, m.Subscription, m.Assignment = "m", kmsg.StringPtr("i"), 5, 6, []byte("s"), []byte("a")
		kg.Members = []kmsg.GroupMetadataValueMember{m}
		g, err := DecodeGroupValue(kg.AppendTo(nil))
		if err != nil || g.Generation != 3 || len(g.Members) != 1 || string(g.Members[0].Assignment) != "a" || g.Members[0].SessionTimeout != 6 {
			t.Fatalf("GroupMetadataValue v%d: %v %+v", v, err, g)
		}
		if want := map[bool]int32{true: 5, false: 6}[v >= 1]; g.Members[0].RebalanceTimeout != want {
			t.Fatalf("v%d rebalance timeout %d", v, g.Members[0].RebalanceTimeout)
		}
	}
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = 0, "g", "t", 1
	if got, err := DecodeKey(k.AppendTo(nil)); err != nil || got != (Key{Type: 0, Group: "g", Topic: "t", Partition: 1}) {
		t.Fatalf("legacy key %v %+v", err, got)
	}
	if _, err := DecodeKey([]byte{0, 5, 0, 0}); err == nil {
		t.Fatal("KIP-848 key decoded")
	}
}

func TestDecodeCorrupt(t *testing.T) {
	valid := EncodeGroupValue(GroupValue{ProtocolType: "consumer", Members: []MemberValue{{MemberID: "m"}}})
	for i := range valid {
		if _, err := DecodeGroupValue(valid[:i]); err == nil {
			t.Fatalf("truncated at %d decoded", i)
		}
	}
	huge := append([]byte(nil), valid[:len(valid)-0]...)
	// Member count 0x7fffffff with one member's bytes: an error, no
	// giant allocation.
	off := 2 + 2 + len("consumer") + 4 + 2 + 2 + 8
	huge[off], huge[off+1], huge[off+2], huge[off+3] = 0x7f, 0xff, 0xff, 0xff
	if _, err := DecodeGroupValue(huge); err == nil {
		t.Fatal("bogus member count decoded")
	}
	// A flexible value with a huge tag count must fail fast.
	flex := []byte{0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}
	if _, err := DecodeOffsetValue(flex); err == nil {
		t.Fatal("tag spin decoded")
	}
}
