package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/topicname"
)

// metadata describes the cluster (this one broker) and the requested topics.
// A missing topic is created when both the request (v4+, always before) and
// auto.create.topics.enable allow it; like Kafka, that first answer is
// LEADER_NOT_AVAILABLE and the client asks again (KafkaApis.getTopicMetadata).
func (n *Node) metadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers = n.brokerList()
	resp.ClusterID = kmsg.StringPtr(n.cfg.ClusterID)
	resp.ControllerID = int32(n.cfg.ID)
	if n.cfg.KRaft {
		resp.ControllerID = n.controller
	}

	var names []string
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		names = n.topicNames()
	}
	for _, rt := range req.Topics {
		if rt.Topic != nil {
			names = append(names, *rt.Topic)
			continue
		}
		// v10+: a topic asked for by id only.
		found := false
		for _, name := range n.topicNames() {
			if n.topics[name].meta.ID == rt.TopicID {
				names, found = append(names, name), true
			}
		}
		if !found {
			resp.Topics = append(resp.Topics, kmsg.MetadataResponseTopic{ErrorCode: kerr.UnknownTopicID.Code, TopicID: rt.TopicID})
		}
	}
	autoCreate := n.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, name := range names {
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		t := n.topics[name]
		switch {
		case t != nil:
			rt.TopicID = t.meta.ID
			rt.IsInternal = isInternal(name)
			for _, p := range t.parts {
				rp := kmsg.NewMetadataResponseTopicPartition()
				rp.Partition = p.index
				rp.Leader = p.leader
				rp.LeaderEpoch = p.leaderEpoch
				rp.Replicas = append([]int32(nil), p.replicas...)
				rp.ISR = append([]int32(nil), p.isr...)
				if p.leader < 0 {
					rp.ErrorCode = kerr.LeaderNotAvailable.Code
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
		case topicname.Validate(name) != nil || n.collides(name) != "":
			rt.ErrorCode = n.fail("Metadata", name, -1, kerr.InvalidTopicException)
		case autoCreate && n.cfg.KRaft:
			n.autoCreate(name, -1, -1, nil) // the controller's num.partitions and default.replication.factor
			rt.ErrorCode = kerr.LeaderNotAvailable.Code
		case autoCreate:
			tc, _ := parseTopicConfig(nil, n.cfg) // broker defaults are always valid
			n.createTopic(name, n.newTopicID(), n.cfg.NumPartitions, nil, tc)
			rt.ErrorCode = kerr.LeaderNotAvailable.Code
		default:
			rt.ErrorCode = n.fail("Metadata", name, -1, kerr.UnknownTopicOrPartition)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
