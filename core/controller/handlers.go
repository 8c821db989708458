package controller

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/topicname"
)

// request takes a controller request from a broker. Only the active
// controller serves them; other voters answer NOT_CONTROLLER and the broker
// tries another voter. The active controller handles one batch at a time
// (like QuorumController's event queue): the others wait in the queue.
func (c *Controller) request(env core.Envelope) {
	switch req := env.Request.(type) {
	case *kmsg.FetchRequest:
		c.fetchMetadata(env, req)
		return
	case *kmsg.BrokerRegistrationRequest, *kmsg.BrokerHeartbeatRequest, *kmsg.CreateTopicsRequest,
		*kmsg.DeleteTopicsRequest, *kmsg.AlterPartitionRequest, *kmsg.ElectLeadersRequest:
	default:
		c.events = append(c.events, core.RequestFailed{API: core.APIName(env.Key()), Partition: -1, Error: "not a controller API"})
		return
	}
	if !c.leader {
		c.respond(env, errorResponse(env.Request, kerr.NotController.Code))
		return
	}
	if hb, ok := env.Request.(*kmsg.BrokerHeartbeatRequest); ok && c.active {
		// The session is alive from the moment the heartbeat arrives,
		// even if it waits behind a proposal.
		if b := c.image.brokers[hb.BrokerID]; b != nil && b.Epoch == hb.BrokerEpoch {
			c.sessions[hb.BrokerID] = c.now
		}
	}
	c.queue = append(c.queue, env)
}

// handle computes the records a request needs and its response, against
// the image (nothing else is in flight: it is the committed state).
func (c *Controller) handle(req kmsg.Request) ([]Record, kmsg.Response) {
	switch r := req.(type) {
	case *kmsg.BrokerRegistrationRequest:
		return c.register(r)
	case *kmsg.BrokerHeartbeatRequest:
		return c.heartbeat(r)
	case *kmsg.CreateTopicsRequest:
		return c.createTopics(r)
	case *kmsg.DeleteTopicsRequest:
		return c.deleteTopics(r)
	case *kmsg.AlterPartitionRequest:
		return c.alterPartition(r)
	case *kmsg.ElectLeadersRequest:
		return c.electLeaders(r)
	}
	panic(fmt.Sprintf("controller: unexpected request %T", req))
}

func (c *Controller) fail(api, topic string, partition int32, err *kerr.Error) int16 {
	c.events = append(c.events, core.RequestFailed{API: api, Topic: topic, Partition: partition, Error: err.Message})
	return err.Code
}

// register serves BrokerRegistration (ClusterControlManager.registerBroker):
// a broker id held by another incarnation whose session is alive is
// refused (DUPLICATE_BROKER_REGISTRATION); otherwise the broker gets a new
// registration, fenced, whose epoch is the offset of its record. A broker
// that re-registers while unfenced (it restarted within its session) first
// loses its leaderships and ISR places, as a fenced broker does.
func (c *Controller) register(req *kmsg.BrokerRegistrationRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
	if c.cfg.ClusterID != "" && req.ClusterID != c.cfg.ClusterID {
		resp.ErrorCode = c.fail("BrokerRegistration", "", -1, kerr.InconsistentClusterID)
		return nil, resp
	}
	id := req.BrokerID
	var recs []Record
	if old := c.image.brokers[id]; old != nil {
		last, ok := c.sessions[id]
		if ok && c.now-last <= c.cfg.SessionTimeoutMs && old.Incarnation != req.IncarnationID {
			resp.ErrorCode = c.fail("BrokerRegistration", "", -1, kerr.DuplicateBrokerRegistration)
			return nil, resp
		}
		if !old.Fenced {
			recs = c.leaderAndIsrUpdates(id, NoLeader, func(p Partition) bool { return slices.Contains(p.ISR, id) })
		}
	}
	epoch := int64(c.nextIndex())
	reg := RegisterBrokerRecord{BrokerID: id, Incarnation: req.IncarnationID, BrokerEpoch: epoch, Fenced: true}
	if req.Rack != nil {
		reg.Rack = *req.Rack
	}
	for _, l := range req.Listeners {
		reg.Listeners = append(reg.Listeners, Listener{Name: l.Name, Host: l.Host, Port: l.Port, SecurityProtocol: l.SecurityProtocol})
	}
	c.sessions[id] = c.now
	resp.BrokerEpoch = epoch
	return append(recs, reg), resp
}

// heartbeat serves BrokerHeartbeat (ReplicationControlManager.
// processBrokerHeartbeat, BrokerHeartbeatManager.calculateNextBrokerState):
// a fenced broker is unfenced once it wants to be and has caught up with the
// metadata log up to its own registration record (CurrentMetadataOffset >=
// its broker epoch); an unfenced broker that wants to be fenced, or to shut
// down, is fenced. Simplified: no controlled shutdown that first moves
// leaderships away while the broker still serves; WantShutdown fences at
// once and answers ShouldShutdown.
func (c *Controller) heartbeat(req *kmsg.BrokerHeartbeatRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
	b := c.image.brokers[req.BrokerID]
	if b == nil || b.Epoch != req.BrokerEpoch {
		resp.ErrorCode = c.fail("BrokerHeartbeat", "", -1, kerr.StaleBrokerEpoch)
		return nil, resp
	}
	caughtUp := req.CurrentMetadataOffset >= b.Epoch
	fenced, shutdown := b.Fenced, false
	var recs []Record
	switch {
	case b.Fenced && req.WantShutdown:
		shutdown = true
	case b.Fenced && !req.WantFence && caughtUp:
		fenced = false
		recs = append(recs, UnfenceBrokerRecord{ID: b.ID, Epoch: b.Epoch})
		recs = append(recs, c.leaderAndIsrUpdates(NoLeader, b.ID, func(p Partition) bool { return p.Leader == NoLeader })...)
	case !b.Fenced && (req.WantFence || req.WantShutdown):
		fenced, shutdown = true, req.WantShutdown
		reason := "the broker asked to be fenced"
		if req.WantShutdown {
			reason = "the broker is shutting down"
		}
		recs = c.fenceRecords(b, reason)
	}
	resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = caughtUp, fenced, shutdown
	return recs, resp
}

// expireSession fences the first unfenced broker, by id, whose session
// timed out (QuorumController's maybeFenceOneStaleBroker: one per batch).
func (c *Controller) expireSession() []Record {
	for _, id := range c.image.brokerIDs() {
		b := c.image.brokers[id]
		last, ok := c.sessions[id]
		if !ok {
			c.sessions[id] = c.now
			continue
		}
		if !b.Fenced && c.now-last > c.cfg.SessionTimeoutMs {
			return c.fenceRecords(b, fmt.Sprintf("no heartbeat for %d ms (broker.session.timeout.ms=%d)", c.now-last, c.cfg.SessionTimeoutMs))
		}
	}
	return nil
}

// fenceRecords fences a broker (ReplicationControlManager.handleBrokerFenced):
// it leaves every ISR it is in, except as the last member, and every
// partition it leads gets a new leader; then the fence record.
func (c *Controller) fenceRecords(b *Broker, reason string) []Record {
	recs := c.leaderAndIsrUpdates(b.ID, NoLeader, func(p Partition) bool { return slices.Contains(p.ISR, b.ID) })
	return append(recs, FenceBrokerRecord{ID: b.ID, Epoch: b.Epoch, Reason: reason})
}

// leaderAndIsrUpdates is ReplicationControlManager.generateLeaderAndIsrUpdates:
// for each partition that match selects, remove (if not NoLeader) leaves the
// ISR and may not lead; add (if not NoLeader) may lead even though the image
// still shows it fenced (it is being unfenced in the same batch); others may
// lead if registered and unfenced.
func (c *Controller) leaderAndIsrUpdates(remove, add int32, match func(Partition) bool) []Record {
	acceptable := func(r int32) bool {
		if r == remove {
			return false
		}
		b := c.image.brokers[r]
		return r == add || b != nil && !b.Fenced
	}
	var recs []Record
	for _, name := range c.image.Topics() {
		t := c.image.topics[name]
		for i, p := range t.Partitions {
			if !match(p) {
				continue
			}
			target := slices.DeleteFunc(slices.Clone(p.ISR), func(r int32) bool { return r == remove })
			if rec, ok := partitionChange(p, target, acceptable, c.unclean(t)); ok {
				rec.TopicID, rec.Partition = t.ID, int32(i)
				recs = append(recs, rec)
			}
		}
	}
	return recs
}

// unclean reports whether a topic allows unclean leader election.
func (c *Controller) unclean(t *Topic) bool {
	if v, ok := t.Configs["unclean.leader.election.enable"]; ok {
		return strings.EqualFold(v, "true")
	}
	return c.cfg.UncleanLeaderElection
}

// createTopics serves CreateTopics (ReplicationControlManager.createTopics):
// each topic is validated on its own; those that pass are created in one
// batch. Without a manual assignment, replicas go on the unfenced brokers by
// PlaceReplicas; the leader is the first replica, the ISR all of them, the
// leader epoch 0.
func (c *Controller) createTopics(req *kmsg.CreateTopicsRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	var recs []Record
	created := map[string]bool{}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		trecs, failure, msg := c.createTopic(rt, count[rt.Topic] > 1, created, &st)
		if failure != nil {
			st.ErrorCode = c.fail("CreateTopics", rt.Topic, -1, failure)
			if req.Version >= 1 {
				st.ErrorMessage = kmsg.StringPtr(msg)
			}
		} else if !req.ValidateOnly {
			recs = append(recs, trecs...)
			created[rt.Topic] = true
		}
		resp.Topics = append(resp.Topics, st)
	}
	return recs, resp
}

func (c *Controller) createTopic(rt kmsg.CreateTopicsRequestTopic, duplicate bool, created map[string]bool, st *kmsg.CreateTopicsResponseTopic) ([]Record, *kerr.Error, string) {
	if duplicate {
		return nil, kerr.InvalidRequest, fmt.Sprintf("Create topics request from client contains multiple entries for the topic %s", rt.Topic)
	}
	if err := topicname.Validate(rt.Topic); err != nil {
		return nil, kerr.InvalidTopicException, err.Error()
	}
	if c.image.topics[rt.Topic] != nil || created[rt.Topic] {
		return nil, kerr.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", rt.Topic)
	}
	for _, other := range append(c.image.Topics(), sortedKeys(created)...) {
		if topicname.Collides(rt.Topic, other) {
			return nil, kerr.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topic: %s", rt.Topic, other)
		}
	}
	configs := map[string]string{}
	for _, cf := range rt.Configs {
		if cf.Value == nil {
			return nil, kerr.InvalidConfig, fmt.Sprintf("Null value not supported for topic configs: %s", cf.Name)
		}
		configs[cf.Name] = *cf.Value
	}
	// Only the config the controller itself uses is checked here; the
	// brokers validate the others.
	if v, ok := configs["unclean.leader.election.enable"]; ok && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return nil, kerr.InvalidConfig, fmt.Sprintf("Invalid value %s for configuration unclean.leader.election.enable: Expected value to be either true or false", v)
	}
	var assignment [][]int32
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return nil, kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time."
		}
		var failure *kerr.Error
		var msg string
		if assignment, failure, msg = c.manualAssignment(rt.ReplicaAssignment); failure != nil {
			return nil, failure, msg
		}
	} else {
		parts, rf := rt.NumPartitions, rt.ReplicationFactor
		if parts == -1 {
			parts = c.cfg.NumPartitions
		}
		if rf == -1 {
			rf = c.cfg.DefaultReplicationFactor
		}
		switch {
		case parts <= 0:
			return nil, kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value."
		case parts > 10000: // Kafka's MAX_PARTITIONS_PER_BATCH
			return nil, kerr.InvalidPartitions, "Excessively large number of partitions per request."
		case rf <= 0:
			return nil, kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."
		}
		usable := c.unfencedBrokers()
		if int(rf) > len(usable) {
			return nil, kerr.InvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.", rf, rf, len(usable))
		}
		assignment = PlaceReplicas(usable, parts, rf, c.rnd.IntN(len(usable)), c.rnd.IntN(len(usable)))
	}
	id := c.newTopicID()
	st.TopicID, st.NumPartitions, st.ReplicationFactor = id, int32(len(assignment)), int16(len(assignment[0]))
	recs := []Record{TopicRecord{Name: rt.Topic, TopicID: id}}
	for _, k := range sortedKeys(configs) {
		recs = append(recs, ConfigRecord{Topic: rt.Topic, Name: k, Value: configs[k]})
	}
	for p, replicas := range assignment {
		isr := slices.DeleteFunc(slices.Clone(replicas), func(r int32) bool { return c.image.brokers[r].Fenced })
		recs = append(recs, PartitionRecord{TopicID: id, Partition: int32(p), Replicas: replicas, ISR: isr, Leader: isr[0]})
	}
	return recs, nil, ""
}

// manualAssignment validates CreateTopics' ReplicaAssignment
// (ReplicationControlManager.validateManualPartitionAssignment).
func (c *Controller) manualAssignment(asg []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]int32, *kerr.Error, string) {
	asg = slices.Clone(asg)
	sort.SliceStable(asg, func(i, j int) bool { return asg[i].Partition < asg[j].Partition })
	out := make([][]int32, len(asg))
	for i, a := range asg {
		if a.Partition != int32(i) {
			return nil, kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence"
		}
		if len(a.Replicas) == 0 {
			return nil, kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."
		}
		if len(a.Replicas) != len(asg[0].Replicas) {
			return nil, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(a.Replicas), len(asg[0].Replicas))
		}
		live := 0
		for j, r := range a.Replicas {
			if slices.Contains(a.Replicas[:j], r) {
				return nil, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", r)
			}
			b := c.image.brokers[r]
			if b == nil {
				return nil, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", r)
			}
			if !b.Fenced {
				live++
			}
		}
		if live == 0 {
			return nil, kerr.InvalidReplicaAssignment, fmt.Sprintf("All brokers specified in the manual partition assignment for partition %d are fenced or in controlled shutdown.", i)
		}
		out[i] = slices.Clone(a.Replicas)
	}
	return out, nil, ""
}

func (c *Controller) unfencedBrokers() []int32 {
	var ids []int32
	for _, id := range c.image.brokerIDs() {
		if !c.image.brokers[id].Fenced {
			ids = append(ids, id)
		}
	}
	return ids
}

// newTopicID draws a random (version 4) UUID, as Uuid.randomUuid does, from
// the seeded source; never zero, never one in use.
func (c *Controller) newTopicID() [16]byte {
	for {
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], c.rnd.Uint64())
		binary.BigEndian.PutUint64(id[8:], c.rnd.Uint64())
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if c.image.byID[id] == nil {
			return id
		}
	}
}

// deleteTopics serves DeleteTopics: one RemoveTopicRecord per topic.
func (c *Controller) deleteTopics(req *kmsg.DeleteTopicsRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	topics := req.Topics
	if req.Version < 6 {
		topics = nil
		for _, name := range req.TopicNames {
			topics = append(topics, kmsg.DeleteTopicsRequestTopic{Topic: kmsg.StringPtr(name)})
		}
	}
	var recs []Record
	gone := map[[16]byte]bool{}
	for _, rt := range topics {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *Topic
		if rt.Topic != nil && *rt.Topic != "" {
			if t = c.image.topics[*rt.Topic]; t == nil {
				st.ErrorCode = c.fail("DeleteTopics", *rt.Topic, -1, kerr.UnknownTopicOrPartition)
			}
		} else if t = c.image.byID[rt.TopicID]; t == nil {
			st.ErrorCode = c.fail("DeleteTopics", UUIDString(rt.TopicID), -1, kerr.UnknownTopicID)
		}
		if t != nil {
			st.Topic, st.TopicID = kmsg.StringPtr(t.Name), t.ID
			if !gone[t.ID] {
				gone[t.ID] = true
				recs = append(recs, RemoveTopicRecord{TopicID: t.ID})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return recs, resp
}

// alterPartition serves AlterPartition, a partition leader's request to
// change its ISR (ReplicationControlManager.alterPartition and
// validateAlterPartitionData).
func (c *Controller) alterPartition(req *kmsg.AlterPartitionRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	if b := c.image.brokers[req.BrokerID]; b == nil || b.Epoch != req.BrokerEpoch {
		resp.ErrorCode = c.fail("AlterPartition", "", -1, kerr.StaleBrokerEpoch)
		return nil, resp
	}
	var recs []Record
	for _, rt := range req.Topics {
		st := kmsg.AlterPartitionResponseTopic{Topic: rt.Topic, TopidID: rt.TopicID}
		t := c.image.topics[rt.Topic]
		missing := kerr.UnknownTopicOrPartition
		if req.Version > 1 {
			t, missing = c.image.byID[rt.TopicID], kerr.UnknownTopicID
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil {
				sp.ErrorCode = c.fail("AlterPartition", rt.Topic, rp.Partition, missing)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			newISR, epochs := rp.NewISR, map[int32]int64{}
			if req.Version >= 3 {
				newISR = nil
				for _, s := range rp.NewEpochISR {
					newISR = append(newISR, s.BrokerID)
					epochs[s.BrokerID] = s.BrokerEpoch
				}
			}
			p, err := c.validateAlterPartition(req, t, rp, newISR, epochs)
			if err != nil {
				sp.ErrorCode = c.fail("AlterPartition", t.Name, rp.Partition, err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			acceptable := func(r int32) bool { b := c.image.brokers[r]; return b != nil && !b.Fenced }
			if rec, ok := partitionChange(p, newISR, acceptable, c.unclean(t)); ok {
				rec.TopicID, rec.Partition = t.ID, rp.Partition
				recs = append(recs, rec)
				p = p.merge(rec)
			}
			sp.LeaderID, sp.LeaderEpoch, sp.ISR, sp.PartitionEpoch = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return recs, resp
}

func (c *Controller) validateAlterPartition(req *kmsg.AlterPartitionRequest, t *Topic, rp kmsg.AlterPartitionRequestTopicPartition, newISR []int32, epochs map[int32]int64) (Partition, *kerr.Error) {
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return Partition{}, kerr.UnknownTopicOrPartition
	}
	p := t.Partitions[rp.Partition]
	switch {
	case rp.LeaderEpoch > p.LeaderEpoch, rp.PartitionEpoch > p.PartitionEpoch:
		return p, kerr.NotController // we are behind: the broker should find the active controller
	case rp.LeaderEpoch < p.LeaderEpoch:
		return p, kerr.FencedLeaderEpoch
	case req.BrokerID != p.Leader:
		return p, kerr.InvalidRequest
	case rp.PartitionEpoch < p.PartitionEpoch:
		return p, kerr.InvalidUpdateVersion
	}
	for i, r := range newISR {
		if !slices.Contains(p.Replicas, r) || slices.Contains(newISR[:i], r) {
			return p, kerr.InvalidRequest
		}
	}
	if !slices.Contains(newISR, p.Leader) {
		return p, kerr.InvalidRequest // the ISR must always include the leader
	}
	for _, r := range newISR {
		b := c.image.brokers[r]
		if e, ok := epochs[r]; b == nil || b.Fenced || ok && e != -1 && e != b.Epoch {
			if req.Version > 1 {
				return p, kerr.IneligibleReplica
			}
			return p, kerr.OperationNotAttempted
		}
	}
	return p, nil
}

// errorResponse answers a controller request with one error everywhere.
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	switch r := resp.(type) {
	case *kmsg.BrokerRegistrationResponse:
		r.ErrorCode = code
	case *kmsg.BrokerHeartbeatResponse:
		r.ErrorCode = code
	case *kmsg.AlterPartitionResponse:
		r.ErrorCode = code
	case *kmsg.ElectLeadersResponse:
		r.ErrorCode = code
	case *kmsg.CreateTopicsResponse:
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.NumPartitions, st.ReplicationFactor = rt.Topic, code, -1, -1
			r.Topics = append(r.Topics, st)
		}
	case *kmsg.DeleteTopicsResponse:
		dr := req.(*kmsg.DeleteTopicsRequest)
		for _, name := range dr.TopicNames {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(name), code
			r.Topics = append(r.Topics, st)
		}
		for _, rt := range dr.Topics {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode = rt.Topic, rt.TopicID, code
			r.Topics = append(r.Topics, st)
		}
	}
	return resp
}
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
