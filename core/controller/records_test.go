package controller

import (
	"bytes"
	"reflect"
	"testing"
)

func sampleRecords() []Record {
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return []Record{
		RegisterBrokerRecord{BrokerID: 3, Incarnation: id, BrokerEpoch: 17, Rack: "r1", Fenced: true,
			Listeners: []Listener{{Name: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: 0}}},
		FenceBrokerRecord{ID: 3, Epoch: 17, Reason: "session"},
		UnfenceBrokerRecord{ID: 3, Epoch: 17},
		TopicRecord{Name: "t", TopicID: id},
		ConfigRecord{Topic: "t", Name: "unclean.leader.election.enable", Value: "true"},
		PartitionRecord{TopicID: id, Partition: 0, Replicas: []int32{3, 1, 2}, ISR: []int32{3, 1}, Leader: 3, LeaderEpoch: 2, PartitionEpoch: 5},
		PartitionChangeRecord{TopicID: id, Partition: 0, ISR: []int32{}, Leader: NoLeader},
		PartitionChangeRecord{TopicID: id, Partition: 1, Leader: NoLeaderChange},
		RemoveTopicRecord{TopicID: id},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	recs := sampleRecords()
	b := EncodeBatch(recs)
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, recs)
	}
	// A nil ISR (unchanged) and an empty one differ on the wire.
	if got[6].(PartitionChangeRecord).ISR == nil || got[7].(PartitionChangeRecord).ISR != nil {
		t.Error("nil and empty ISR confused")
	}
	if !bytes.Equal(EncodeBatch(got), b) {
		t.Error("encoding is not deterministic")
	}
	for n := range len(b) {
		if _, err := DecodeBatch(b[:n]); err == nil && n > 0 {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if recs, err := DecodeBatch(nil); recs != nil || err != nil {
		t.Errorf("empty entry: %v %v", recs, err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(sampleRecords()))
	f.Add(EncodeBatch(nil))
	f.Add([]byte{0, 1, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeBatch(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to bytes that decode the same (varints
		// may be written longer than needed: the bytes may differ).
		again, err := DecodeBatch(EncodeBatch(recs))
		if err != nil || len(again) != len(recs) || (len(recs) > 0 && !reflect.DeepEqual(again, recs)) {
			t.Fatalf("%x decodes to %v, which re-decodes to %v, %v", b, recs, again, err)
		}
	})
}

func TestUUIDString(t *testing.T) {
	// Kafka prints Uuid as URL-safe base64 without padding: 22 characters.
	if s := UUIDString([16]byte{0xfb}); s != "-wAAAAAAAAAAAAAAAAAAAA" {
		t.Errorf("UUIDString = %q", s)
	}
}
