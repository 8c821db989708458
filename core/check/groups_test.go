package check

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/sim"
)

// history builds a run's events, one millisecond apart.
type history []sim.Observed

func (h *history) add(node core.NodeID, e core.Event) {
	*h = append(*h, sim.Observed{Time: int64(len(*h)), Node: node, Event: e})
}

// healthy is a group of two members over two generations: a rebalance
// moves t-1 from a to b, commits follow the high watermark up.
func healthy() history {
	var h history
	h.add(1001, core.MessageSent{Envelope: core.Envelope{From: 1001, To: 1, Request: &kmsg.JoinGroupRequest{Group: "g"}}})
	h.add(1, core.MemberJoined{Group: "g", MemberID: "a"})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "a", Generation: 1, Partitions: map[string][]int32{"t": {0, 1}}})
	h.add(1, core.HighWatermarkAdvanced{Topic: "t", Partition: 0, HighWatermark: 10})
	h.add(1, core.OffsetCommitted{Group: "g", Topic: "t", Partition: 0, Offset: 10, Generation: 1, MemberID: "a"})
	h.add(1, core.MemberJoined{Group: "g", MemberID: "b"})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "a", Generation: 2, Partitions: map[string][]int32{"t": {0}}})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "b", Generation: 2, Partitions: map[string][]int32{"t": {1}}})
	h.add(2, core.HighWatermarkAdvanced{Topic: "t", Partition: 0, HighWatermark: 12})
	h.add(1, core.OffsetCommitted{Group: "g", Topic: "t", Partition: 0, Offset: 12, Generation: 2, MemberID: "a"})
	return h
}

func healthyDeliveries() []Delivery {
	d := func(member string, gen int32, p int32, off int64) Delivery {
		return Delivery{RecordConsumed: core.RecordConsumed{Topic: "t", Partition: p, Offset: off, Value: []byte{byte(p), byte(off)}},
			Group: "g", Member: member, Generation: gen}
	}
	return []Delivery{d("a", 1, 0, 0), d("a", 1, 1, 0), d("a", 2, 0, 1), d("b", 2, 1, 1)}
}

func acked(ds []Delivery) []core.RecordAcked {
	var out []core.RecordAcked
	for _, d := range ds {
		out = append(out, core.RecordAcked{Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Value: d.Value})
	}
	return out
}

func wantViolation(t *testing.T, got []string, substr string) {
	t.Helper()
	if len(got) != 1 || !strings.Contains(got[0], substr) {
		t.Fatalf("want one violation with %q, got %q", substr, got)
	}
}

func TestGroupsHealthyHistory(t *testing.T) {
	if v := Groups(healthy(), healthyDeliveries()); len(v) != 0 {
		t.Fatal(v)
	}
	ds := healthyDeliveries()
	if rep := Delivered("g", acked(ds), ds); rep.Missing != 0 || rep.Duplicate != 0 {
		t.Fatalf("%+v", rep)
	}
}

// Negative control: the coordinator hands one partition to two members of
// one generation.
func TestGroupsCatchesTwoOwnersInAGeneration(t *testing.T) {
	h := healthy()
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "b", Generation: 2, Partitions: map[string][]int32{"t": {0}}})
	wantViolation(t, Groups(h, nil), "t-0 assigned to a and to b")
}

// A static member restarted with a new member id is still one owner, but
// two instances are two.
func TestGroupsStaticMemberIsOneOwner(t *testing.T) {
	var h history
	h.add(1, core.MemberJoined{Group: "g", MemberID: "a-1", InstanceID: "a"})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "a-1", Generation: 1, Partitions: map[string][]int32{"t": {0}}})
	h.add(1, core.MemberJoined{Group: "g", MemberID: "a-2", InstanceID: "a"})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "a-2", Generation: 1, Partitions: map[string][]int32{"t": {0}}})
	if v := Groups(h, nil); len(v) != 0 {
		t.Fatal(v)
	}
	h.add(1, core.MemberJoined{Group: "g", MemberID: "z-1", InstanceID: "z"})
	h.add(1, core.AssignmentReceived{Group: "g", MemberID: "z-1", Generation: 1, Partitions: map[string][]int32{"t": {0}}})
	wantViolation(t, Groups(h, nil), "assigned to instance a and to instance z")
}

// Negative control: two members process the same partition in one
// generation (a consumer that ignored its assignment).
func TestGroupsCatchesTwoProcessorsInAGeneration(t *testing.T) {
	ds := append(healthyDeliveries(), Delivery{RecordConsumed: core.RecordConsumed{Topic: "t", Partition: 1, Offset: 2}, Group: "g", Member: "a", Generation: 2})
	wantViolation(t, Groups(healthy(), ds), "t-1 processed by b and by a")
	// A member without a generation (it lost it, and finishes its batch)
	// is no owner.
	ds[len(ds)-1].Generation = -1
	if v := Groups(healthy(), ds); len(v) != 0 {
		t.Fatal(v)
	}
}

// Negative control: a commit beyond anything readable.
func TestGroupsCatchesCommitAboveHighWatermark(t *testing.T) {
	h := healthy()
	h.add(1, core.OffsetCommitted{Group: "g", Topic: "t", Partition: 0, Offset: 13, Generation: 2, MemberID: "a"})
	wantViolation(t, Groups(h, nil), "committed offset 13 of t-0 is above the high watermark 12")
	// Offset 0 of a partition no broker announced a high watermark for
	// is fine.
	h = healthy()
	h.add(1, core.OffsetCommitted{Group: "g", Topic: "t", Partition: 1, Offset: 0, Generation: 2, MemberID: "b"})
	if v := Groups(h, nil); len(v) != 0 {
		t.Fatal(v)
	}
}

// Negative control: a commit going back; allowed after an OffsetReset of a
// member of the group, not after one of another group's consumer.
func TestGroupsCatchesCommitGoingBack(t *testing.T) {
	back := core.OffsetCommitted{Group: "g", Topic: "t", Partition: 0, Offset: 5, Generation: 2, MemberID: "a"}
	h := healthy()
	h.add(1, back)
	wantViolation(t, Groups(h, nil), "went back from 12 to 5")

	h = healthy()
	h.add(1002, core.MessageSent{Envelope: core.Envelope{From: 1002, To: 1, Request: &kmsg.OffsetCommitRequest{Group: "other"}}})
	h.add(1002, core.OffsetReset{Topic: "t", Partition: 0, Offset: 5, Reason: "auto.offset.reset=earliest"})
	h.add(1, back)
	wantViolation(t, Groups(h, nil), "went back")

	h = healthy()
	h.add(1001, core.OffsetReset{Topic: "t", Partition: 0, Offset: 5, Reason: "auto.offset.reset=earliest"})
	h.add(1, back)
	if v := Groups(h, nil); len(v) != 0 {
		t.Fatal(v)
	}
	// The allowance is for one commit only.
	h.add(1, core.OffsetCommitted{Group: "g", Topic: "t", Partition: 0, Offset: 7})
	h.add(1, back)
	wantViolation(t, Groups(h, nil), "went back from 7 to 5")
}

// Negative controls for delivery: a record acknowledged and never
// processed, one processed twice, one processed with another value.
func TestDeliveredCountsMissingAndDuplicates(t *testing.T) {
	ds := healthyDeliveries()
	ack := acked(ds)
	ack = append(ack, core.RecordAcked{Topic: "t", Partition: 1, Offset: 2, Value: []byte("late")},
		core.RecordAcked{Topic: "t", Partition: 0, Offset: -1}) // acks=0: nothing to check
	ds = append(ds, ds[0], ds[0], ds[3])
	ds = append(ds, Delivery{RecordConsumed: core.RecordConsumed{Topic: "t", Partition: 9}, Group: "other"})
	rep := Delivered("g", ack, ds)
	if rep.Missing != 1 || rep.Duplicate != 3 || len(rep.Examples) != 4 {
		t.Fatalf("%+v", rep)
	}
	ds[1].Value = []byte("other")
	if rep := Delivered("g", ack, ds); rep.Missing != 2 || !strings.Contains(strings.Join(rep.Examples, "\n"), `processed "other"`) {
		t.Fatalf("%+v", rep)
	}
}
