package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/topicname"
)

// createTopics validates and creates topics (KafkaApis.handleCreateTopicsRequest,
// ControllerApis / ReplicationControlManager.createTopic for the checks).
func (n *Node) createTopics(req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		failure, msg := n.createOne(req, rt, seen[rt.Topic] > 1, &st)
		if failure != nil {
			st.ErrorCode = n.fail("CreateTopics", rt.Topic, -1, failure)
			if req.Version >= 1 {
				st.ErrorMessage = kmsg.StringPtr(msg)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func (n *Node) createOne(req *kmsg.CreateTopicsRequest, rt kmsg.CreateTopicsRequestTopic, duplicate bool, st *kmsg.CreateTopicsResponseTopic) (*kerr.Error, string) {
	if duplicate {
		return kerr.InvalidRequest, fmt.Sprintf("Create topics request from client contains multiple entries for the topic %s", rt.Topic)
	}
	if err := topicname.Validate(rt.Topic); err != nil {
		return kerr.InvalidTopicException, err.Error()
	}
	if n.topics[rt.Topic] != nil {
		return kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", rt.Topic)
	}
	if other := n.collides(rt.Topic); other != "" {
		return kerr.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topic: %s", rt.Topic, other)
	}
	parts, rf := rt.NumPartitions, rt.ReplicationFactor
	if len(rt.ReplicaAssignment) > 0 {
		if parts != -1 || rf != -1 {
			return kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
		}
		parts, rf = int32(len(rt.ReplicaAssignment)), int16(len(rt.ReplicaAssignment[0].Replicas))
		for i, a := range rt.ReplicaAssignment {
			if a.Partition != int32(i) {
				return kerr.InvalidReplicaAssignment, "Partitions should be consecutive and start from 0."
			}
			if len(a.Replicas) != 1 || a.Replicas[0] != int32(n.cfg.ID) {
				return kerr.InvalidReplicaAssignment, fmt.Sprintf("Replica assignment %v for partition %d names brokers that do not exist (this cluster has broker %d only).", a.Replicas, i, n.cfg.ID)
			}
		}
	}
	if parts == -1 {
		parts = n.cfg.NumPartitions
	}
	if rf == -1 {
		rf = n.cfg.DefaultReplicationFactor
	}
	if parts <= 0 {
		return kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value."
	}
	if rf <= 0 {
		return kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."
	}
	if rf > 1 {
		return kerr.InvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only 1 broker(s) are registered.", rf, rf)
	}
	if parts > 10000 {
		// Not a Kafka limit, but every partition lives in this tab's memory.
		return kerr.InvalidPartitions, "Streamlab allows at most 10000 partitions per topic."
	}
	configs := map[string]string{}
	for _, c := range rt.Configs {
		if c.Value == nil {
			return kerr.InvalidConfig, fmt.Sprintf("Null value not supported for topic configs: %s", c.Name)
		}
		configs[c.Name] = *c.Value
	}
	tc, err := parseTopicConfig(configs, n.cfg)
	if err != nil {
		return kerr.InvalidConfig, err.Error()
	}
	st.NumPartitions, st.ReplicationFactor = parts, rf
	if req.Version >= 5 {
		eff := tc.effective()
		for _, k := range sortedKeys(eff) {
			v := eff[k]
			source := int8(5) // DEFAULT_CONFIG
			if _, ok := configs[k]; ok {
				source = 1 // DYNAMIC_TOPIC_CONFIG
			}
			st.Configs = append(st.Configs, kmsg.CreateTopicsResponseTopicConfig{Name: k, Value: kmsg.StringPtr(v), Source: source})
		}
	}
	if req.ValidateOnly {
		return nil, ""
	}
	t := n.createTopic(rt.Topic, n.newTopicID(), parts, configs, tc)
	st.TopicID = t.meta.ID
	return nil, ""
}

// createInternalTopic creates an internal topic such as __consumer_offsets
// the first time it is needed, as Kafka's AutoTopicCreationManager does for
// FindCoordinator; until the topic has a leader, callers answer
// COORDINATOR_NOT_AVAILABLE and the client retries.
func (n *Node) createInternalTopic(name string, partitions int32, rf int16, configs map[string]string) {
	if n.topics[name] != nil {
		return
	}
	if n.cfg.KRaft {
		alive := int16(0)
		for _, b := range n.brokers {
			if !b.Fenced {
				alive++
			}
		}
		n.autoCreate(name, partitions, max(1, min(rf, alive)), configs)
		return
	}
	tc, err := parseTopicConfig(configs, n.cfg)
	if err != nil {
		panic(fmt.Sprintf("broker: internal topic %s: %v", name, err)) // our own constant configs
	}
	n.createTopic(name, n.newTopicID(), partitions, configs, tc) // a single broker holds the only replica
}

// isInternal reports Kafka's internal topics (Topic.isInternal).
func isInternal(name string) bool {
	return name == "__consumer_offsets" || name == "__transaction_state"
}
