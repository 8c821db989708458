package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetForLeaderEpoch tells a follower or a consumer where an epoch ended in
// this leader's log, so it can find where its own copy diverged (KIP-101,
// KIP-279 for followers, KIP-320 for consumers; Partition.lastOffsetForLeaderEpoch).
func (n *Node) offsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			p := n.partition(rt.Topic, rp.Partition)
			lerr := n.leaderError(p, sinceVersion(req.Version, 2, rp.CurrentLeaderEpoch))
			switch {
			case lerr != nil:
				sp.ErrorCode = lerr.Code
			default:
				sp.LeaderEpoch, sp.EndOffset = p.log.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
