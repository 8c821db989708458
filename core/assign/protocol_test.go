package assign

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var names = []string{"range", "roundrobin", "sticky", "cooperative-sticky"}

func TestSubscriptionRoundTrip(t *testing.T) {
	owned := map[string][]int32{"b": {2, 0}, "a": {1}}
	for _, name := range names {
		b := EncodeSubscription([]string{"b", "a", "b"}, owned, 7, name)
		m, err := DecodeSubscription("m1", "i1", b, name)
		if err != nil {
			t.Fatal(err)
		}
		want := Member{ID: "m1", InstanceID: "i1", Topics: []string{"a", "b"}, Generation: 7}
		if name == "sticky" || name == "cooperative-sticky" {
			want.Owned = map[string][]int32{"a": {1}, "b": {0, 2}}
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("%s: got %+v, want %+v", name, m, want)
		}
	}
	// A member that never had an assignment sends sticky no user data.
	if b := EncodeSubscription([]string{"a"}, nil, -1, "sticky"); !bytes.Equal(b, EncodeSubscription([]string{"a"}, nil, -1, "range")) {
		t.Error("sticky with no history should send no UserData")
	}
}

// The bytes are what the Java client writes: version 3; cooperative-sticky
// puts its generation in UserData as an int32; sticky its previous assignment
// as StickyAssignorUserData v1.
func TestSubscriptionWire(t *testing.T) {
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(EncodeSubscription([]string{"t"}, map[string][]int32{"t": {0}}, 4, "cooperative-sticky")); err != nil {
		t.Fatal(err)
	}
	if meta.Version != 3 || meta.Generation != 4 || !bytes.Equal(meta.UserData, []byte{0, 0, 0, 4}) || len(meta.OwnedPartitions) != 1 {
		t.Errorf("cooperative-sticky subscription: %+v", meta)
	}
	if err := meta.ReadFrom(EncodeSubscription([]string{"t"}, map[string][]int32{"t": {0}}, 4, "sticky")); err != nil {
		t.Fatal(err)
	}
	// [topic "t" [0]] generation 4
	user := []byte{0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4}
	if meta.Version != 3 || len(meta.OwnedPartitions) != 0 || !bytes.Equal(meta.UserData, user) {
		t.Errorf("sticky subscription: %+v", meta)
	}
	// A version 1 cooperative subscription has its generation in UserData
	// only; sticky v0 user data has none.
	meta.Version, meta.UserData = 1, []byte{0, 0, 0, 9}
	if m, _ := DecodeSubscription("m", "", meta.AppendTo(nil), "cooperative-sticky"); m.Generation != 9 {
		t.Errorf("v1 cooperative generation %d, want 9", m.Generation)
	}
	meta.UserData = user[:len(user)-4]
	if m, _ := DecodeSubscription("m", "", meta.AppendTo(nil), "sticky"); m.Generation != -1 || len(m.Owned["t"]) != 1 {
		t.Errorf("sticky v0 user data: %+v", m)
	}
	meta.UserData = []byte{1, 2, 3}
	if m, err := DecodeSubscription("m", "", meta.AppendTo(nil), "sticky"); err != nil || m.Owned != nil || m.Generation != -1 {
		t.Errorf("unreadable sticky user data is no history: %+v, %v", m, err)
	}
}

func TestAssignmentRoundTrip(t *testing.T) {
	in := map[string][]int32{"b": {3, 1}, "a": {0}}
	b := EncodeAssignment(in)
	if v := int16(b[0])<<8 | int16(b[1]); v != 3 {
		t.Errorf("version %d, want 3", v)
	}
	got, err := DecodeAssignment(b)
	if err != nil || !reflect.DeepEqual(got, map[string][]int32{"a": {0}, "b": {1, 3}}) {
		t.Errorf("got %v, %v", got, err)
	}
	if got, err := DecodeAssignment(EncodeAssignment(nil)); err != nil || len(got) != 0 {
		t.Errorf("empty assignment: %v, %v", got, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, {0, 0, 0x7f, 0xff, 0xff, 0xff}} {
		if _, err := DecodeSubscription("m", "", b, "range"); err == nil {
			t.Errorf("subscription %x decoded", b)
		}
		if _, err := DecodeAssignment(b); err == nil {
			t.Errorf("assignment %x decoded", b)
		}
	}
	a := kmsg.NewConsumerMemberAssignment()
	a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "t", Partitions: []int32{-1}}}
	if _, err := DecodeAssignment(a.AppendTo(nil)); err == nil {
		t.Error("negative partition decoded")
	}
}

// FuzzDecodeSubscription feeds untrusted JoinGroup metadata to the decoder
// and what it decodes to every assignor: nothing panics, whatever decodes
// re-encodes to the same member, and the plans stay valid.
func FuzzDecodeSubscription(f *testing.F) {
	for i, name := range names {
		f.Add(uint8(i), EncodeSubscription([]string{"a", "b"}, map[string][]int32{"a": {0, 5}, "z": {1}}, 3, name))
	}
	f.Add(uint8(2), []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		name := names[int(which)%len(names)]
		m, err := DecodeSubscription("fuzz", "", b, name)
		if err != nil {
			return
		}
		again, err := DecodeSubscription("fuzz", "", EncodeSubscription(m.Topics, m.Owned, m.Generation, name), name)
		m.Topics = slices.Compact(slices.Sorted(slices.Values(m.Topics)))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%s: %+v re-encodes to %+v, %v", name, m, again, err)
		}
		members := []Member{m, sub("other", "a", "b"), owning(sub("third", "a"), 2, map[string][]int32{"a": {0, 1}})}
		partitions := map[string]int32{"a": 4, "b": 2}
		for _, topic := range m.Topics {
			partitions[topic] = int32(len(topic) % 7)
		}
		for _, a := range []Assignor{Range(), RoundRobin(), Sticky(), CooperativeSticky()} {
			p := a.Assign(members, partitions)
			seen := map[tp]bool{}
			for _, mm := range prepare(members) {
				for topic, parts := range p[mm.ID] {
					for _, part := range parts {
						if !subscribes(mm, topic) || part < 0 || part >= partitions[topic] || seen[tp{topic, part}] {
							t.Fatalf("%s: bad plan %v for %+v", a.Name(), p, members)
						}
						seen[tp{topic, part}] = true
					}
				}
			}
		}
	})
}

// FuzzDecodeAssignment feeds untrusted SyncGroup assignments to the decoder:
// nothing panics and whatever decodes re-encodes to the same assignment.
func FuzzDecodeAssignment(f *testing.F) {
	f.Add(EncodeAssignment(map[string][]int32{"a": {0, 2}, "b": {1}}))
	f.Add(EncodeAssignment(nil))
	f.Add([]byte{0, 3, 0, 0, 0, 2, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeAssignment(b)
		if err != nil {
			return
		}
		again, err := DecodeAssignment(EncodeAssignment(got))
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("%v re-encodes to %v, %v", got, again, err)
		}
	})
}
