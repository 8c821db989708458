package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/group"
)

// offsetFetch answers OffsetFetch: v0-v7 for one group, v8+ for a batch of
// groups (KIP-709), each from the shard that coordinates it. A null topic
// list (v2+) asks for every committed offset of the group.
func (n *Node) offsetFetch(req *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	fetch := func(rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
		s, err := n.shardFor(rg.Group)
		if err != nil {
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group, out.ErrorCode = rg.Group, n.fail("OffsetFetch", group.OffsetsTopic, -1, err)
			return out
		}
		return s.FetchOffsets(rg)
	}
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			resp.Groups = append(resp.Groups, fetch(rg))
		}
		return resp
	}
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = req.Group
	if req.Topics != nil {
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
		for _, rt := range req.Topics {
			rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: rt.Topic, Partitions: rt.Partitions})
		}
	}
	g := fetch(rg)
	resp.ErrorCode = g.ErrorCode
	if g.ErrorCode != 0 {
		// v0-v1 have no top-level error: every partition carries it.
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.ErrorCode = p, -1, g.ErrorCode
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, gt := range g.Topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = gt.Topic
		for _, gp := range gt.Partitions {
			st.Partitions = append(st.Partitions, kmsg.OffsetFetchResponseTopicPartition{Partition: gp.Partition,
				Offset: gp.Offset, LeaderEpoch: gp.LeaderEpoch, Metadata: gp.Metadata, ErrorCode: gp.ErrorCode})
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
