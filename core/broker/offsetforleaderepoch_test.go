package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
)

func TestOffsetForLeaderEpoch(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	h.produce("t", 0, batch(t0, "a", "1", "b", "2"))
	h.produce("t", 0, batch(t0, "c", "3"))
	ask := func(version int16, part, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version, req.ReplicaID = version, -1
		req.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "t",
			Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: part, CurrentLeaderEpoch: current, LeaderEpoch: epoch}}}}
		return h.do(req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	// Epoch 0 is the current one: it ends at the log end.
	if sp := ask(4, 0, 0, 0); sp.ErrorCode != 0 || sp.LeaderEpoch != 0 || sp.EndOffset != 3 {
		t.Errorf("epoch 0: %s epoch %d end %d", errName(sp.ErrorCode), sp.LeaderEpoch, sp.EndOffset)
	}
	// An epoch newer than the log knows: undefined.
	if sp := ask(2, 0, -1, 3); sp.ErrorCode != 0 || sp.LeaderEpoch != -1 || sp.EndOffset != -1 {
		t.Errorf("epoch 3: %s epoch %d end %d", errName(sp.ErrorCode), sp.LeaderEpoch, sp.EndOffset)
	}
	if sp := ask(4, 0, 1, 0); sp.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("current epoch from the future: %s", errName(sp.ErrorCode))
	}
	if sp := ask(4, 9, -1, 0); sp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown partition: %s", errName(sp.ErrorCode))
	}
	// Every stored batch carries the leader epoch that wrote it.
	b, _, err := record.ParseBatch(h.fetch("t", 0, 0, 1<<20).RecordBatches)
	if err != nil || b.PartitionLeaderEpoch != 0 {
		t.Errorf("stored partitionLeaderEpoch %d (%v)", b.PartitionLeaderEpoch, err)
	}
}
