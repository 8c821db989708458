package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
)

// Read-only views of the broker's state, for the UI and for checkers. They
// return copies: nothing outside the broker changes it except through Step.

// TopicInfo describes a topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
	Configs    map[string]string
}

// PartitionInfo describes a partition's log.
type PartitionInfo struct {
	Topic          string
	Partition      int32
	LeaderEpoch    int32
	LogStartOffset int64
	HighWatermark  int64
	LogEndOffset   int64
	Bytes          int64
	Segments       []partlog.SegmentInfo
	Leader         int32   // -1: none
	Replicas, ISR  []int32 // as this broker knows them
}

// StoredRecord is one record as the log holds it.
type StoredRecord struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	Headers   []kmsg.Header
}

// Topics lists the topics sorted by name.
func (n *Node) Topics() []TopicInfo {
	var out []TopicInfo
	for _, name := range n.topicNames() {
		t := n.topics[name]
		out = append(out, TopicInfo{Name: name, ID: t.meta.ID, Partitions: t.meta.Partitions, Configs: t.cfg.effective()})
	}
	return out
}

// Partition describes one partition; ok is false if it does not exist.
func (n *Node) Partition(topic string, partition int32) (info PartitionInfo, ok bool) {
	p := n.partition(topic, partition)
	if p == nil {
		return info, false
	}
	return PartitionInfo{
		Topic: topic, Partition: partition, LeaderEpoch: p.leaderEpoch,
		LogStartOffset: p.log.LogStartOffset(), HighWatermark: p.hw, LogEndOffset: p.log.LogEndOffset(),
		Bytes: p.log.Size(), Segments: p.log.Segments(),
		Leader: p.leader, Replicas: slices.Clone(p.replicas), ISR: slices.Clone(p.isr),
	}, true
}

// Records returns up to max records of a partition from offset on, decoded
// (records of batches in a compression Streamlab cannot decode are skipped).
func (n *Node) Records(topic string, partition int32, offset int64, max int) []StoredRecord {
	p := n.partition(topic, partition)
	if p == nil {
		return nil
	}
	var out []StoredRecord
	p.log.Batches(offset, func(b partlog.Batch) bool {
		h, _, err := record.ParseBatch(b.Raw)
		if err != nil {
			return true
		}
		recs, err := record.StoredRecords(h)
		if err != nil {
			return true
		}
		for _, r := range recs {
			o := b.Base + int64(r.OffsetDelta)
			if o < offset {
				continue
			}
			if len(out) == max {
				return false
			}
			out = append(out, StoredRecord{Offset: o, Timestamp: record.RecordTimestamp(h, r),
				Key: clone(r.Key), Value: clone(r.Value), Headers: r.Headers})
		}
		return true
	})
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
