package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Special ListOffsets timestamps (ListOffsetsRequest.EARLIEST_TIMESTAMP etc.).
const (
	latestTimestamp   = -1
	earliestTimestamp = -2
	maxTimestamp      = -3 // v7+, KIP-734
)

// listOffsets answers earliest (log start), latest (high watermark; with no
// transactions the last stable offset is the same), max timestamp, and the
// first offset whose timestamp is at or after a given time.
func (n *Node) listOffsets(req *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset = -1, -1
			p := n.partition(rt.Topic, rp.Partition)
			lerr := n.leaderError(p, sinceVersion(req.Version, 4, rp.CurrentLeaderEpoch))
			switch {
			case lerr != nil:
				sp.ErrorCode = n.fail("ListOffsets", rt.Topic, rp.Partition, lerr)
			case rp.Timestamp == earliestTimestamp:
				sp.Offset = p.log.LogStartOffset()
			case rp.Timestamp == latestTimestamp:
				sp.Offset = p.hw
			case rp.Timestamp == maxTimestamp && req.Version >= 7:
				sp.Offset, sp.Timestamp = p.log.MaxTimestamp(p.hw)
			case rp.Timestamp < 0:
				sp.ErrorCode = n.fail("ListOffsets", rt.Topic, rp.Partition, kerr.InvalidRequest)
			default:
				sp.Offset, sp.Timestamp = p.log.OffsetForTimestamp(rp.Timestamp, p.hw)
			}
			sp.LeaderEpoch = p.leaderEpochOr(-1)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (p *partition) leaderEpochOr(def int32) int32 {
	if p == nil {
		return def
	}
	return p.leaderEpoch
}
