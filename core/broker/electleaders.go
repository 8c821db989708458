package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// electLeaders serves ElectLeaders on a broker alone: it leads every
// partition, its only replica, so no election is needed (ELECTION_NOT_NEEDED).
// In a cluster the request goes to the controller (forward.go).
func (n *Node) electLeaders(req *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	topics := req.Topics
	if topics == nil {
		for _, name := range n.topicNames() {
			rt := kmsg.ElectLeadersRequestTopic{Topic: name}
			for _, p := range n.topics[name].parts {
				rt.Partitions = append(rt.Partitions, p.index)
			}
			topics = append(topics, rt)
		}
	}
	for _, rt := range topics {
		st := kmsg.ElectLeadersResponseTopic{Topic: rt.Topic}
		for _, idx := range rt.Partitions {
			err := kerr.ElectionNotNeeded
			if n.partition(rt.Topic, idx) == nil {
				err = kerr.UnknownTopicOrPartition
			}
			st.Partitions = append(st.Partitions, kmsg.ElectLeadersResponseTopicPartition{Partition: idx,
				ErrorCode: n.fail("ElectLeaders", rt.Topic, idx, err), ErrorMessage: kmsg.StringPtr(err.Message)})
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
