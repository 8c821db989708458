package server

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/controller"
)

// metadata is the broker's copy of the metadata log, fetched from the
// active controller (KRaft's BrokerMetadataListener), and what of it has
// been applied to the broker (BrokerMetadataPublisher).
type metadata struct {
	image     *controller.Image
	caughtUp  bool // the image had reached the controller's log end at the last fetch
	loaded    bool // it has once: from then on the broker follows the image
	published map[string][]broker.PartitionState
	brokers   map[int32]broker.BrokerAddr

	fetchCorr int32
	fetchSent int64       // 0: no fetch in flight
	fetchTo   core.NodeID // the controller it went to
	fetchAt   int64       // no fetch before this (after an error)
}

func (s *Server) tickMetadata() {
	wait := int64(s.cfg.MetadataMaxWaitMs) + s.cfg.RequestTimeoutMs
	if s.meta.fetchSent > 0 && s.now-s.meta.fetchSent >= wait {
		s.meta.fetchSent = 0
		s.controllerFailed()
	} else if s.meta.fetchSent > 0 && s.meta.fetchTo != s.activeController() {
		s.meta.fetchSent = 0 // the controller changed: fetch from the new one (see lifecycle)
	}
	if s.meta.fetchSent == 0 && s.now >= s.meta.fetchAt {
		s.fetchMetadata()
	}
}

func (s *Server) fetchMetadata() {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.ReplicaID = int32(s.cfg.Broker.ID)
	req.MaxWaitMillis, req.MaxBytes = s.cfg.MetadataMaxWaitMs, 1<<20
	t := kmsg.NewFetchRequestTopic()
	t.Topic = controller.MetadataTopic
	p := kmsg.NewFetchRequestTopicPartition()
	p.FetchOffset, p.PartitionMaxBytes = s.meta.image.Offset()+1, 1<<20
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	s.meta.fetchTo = s.activeController()
	s.meta.fetchCorr, s.meta.fetchSent = s.send(s.meta.fetchTo, req), s.now
}

func (s *Server) metadataFetched(env core.Envelope, resp *kmsg.FetchResponse) {
	if env.CorrelationID != s.meta.fetchCorr || s.meta.fetchSent == 0 {
		return
	}
	s.meta.fetchSent = 0
	if len(resp.Topics[0].Partitions) != 1 {
		s.meta.fetchAt = s.now + 100
		return
	}
	sp := resp.Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		// Not the leader: follow its hint, or try the next voter.
		if !s.controllerHint(sp.CurrentLeader.LeaderID) {
			s.controllerFailed()
		}
		s.meta.fetchAt = s.now + 100
		return
	}
	entries, err := controller.DecodeLog(sp.RecordBatches)
	if err != nil {
		s.events = append(s.events, core.RequestFailed{API: "Fetch", Topic: controller.MetadataTopic, Partition: 0, Error: err.Error()})
		s.meta.fetchAt = s.now + 100
		return
	}
	if sp.SnapshotID.EndOffset >= 0 && len(entries) == 1 {
		s.meta.image = controller.NewImage() // a snapshot replaces what we had
	}
	for _, e := range entries {
		if e.Offset != s.meta.image.Offset()+1 && s.meta.image.Offset() != 0 {
			continue // a duplicate, or a gap: fetch again from our offset
		}
		if _, err := s.meta.image.Apply(e.Offset, e.Records...); err != nil {
			// Our copy and the log disagree: start over from a snapshot.
			s.events = append(s.events, core.RequestFailed{API: "Fetch", Topic: controller.MetadataTopic, Partition: 0, Error: err.Error()})
			s.meta.image = controller.NewImage()
			break
		}
	}
	s.meta.caughtUp = s.meta.image.Offset()+1 >= sp.HighWatermark
	// A restarted broker replays the log from the start: until it has
	// caught up, the image is history (a leadership it held long ago), and
	// acting on it would make it a leader of a past epoch (KRaft brokers
	// also wait for the initial catch-up before they serve).
	s.meta.loaded = s.meta.loaded || s.meta.caughtUp
	if s.meta.loaded {
		s.publish()
	}
	s.fetchMetadata() // the next one waits at the controller for news
}

// publish applies the image to the broker: brokers, new topics, partitions
// whose leader or ISR changed, and, once caught up, topics that are gone.
func (s *Server) publish() {
	im := s.meta.image
	if s.meta.brokers == nil {
		s.meta.brokers = map[int32]broker.BrokerAddr{}
	}
	for _, b := range im.Brokers() {
		addr := broker.BrokerAddr{ID: b.ID, Rack: b.Rack, Fenced: b.Fenced}
		if len(b.Listeners) > 0 {
			addr.Host, addr.Port = b.Listeners[0].Host, int32(b.Listeners[0].Port)
		}
		if s.meta.brokers[b.ID] != addr {
			s.meta.brokers[b.ID] = addr
			s.broker.ApplyBroker(addr)
		}
	}
	for _, name := range im.Topics() {
		t, _ := im.Topic(name)
		if id, ok := s.broker.TopicID(name); !ok || id != t.ID {
			if err := s.broker.ApplyTopic(name, t.ID, int32(len(t.Partitions)), t.Configs); err != nil {
				s.events = append(s.events, core.RequestFailed{API: "Metadata", Topic: name, Partition: -1, Error: err.Error()})
				continue
			}
			s.meta.published[name] = nil
		}
		pub := s.meta.published[name]
		states := make([]broker.PartitionState, len(t.Partitions))
		for i, p := range t.Partitions {
			st := broker.PartitionState{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				Replicas: p.Replicas, ISR: p.ISR}
			states[i] = st
			if i < len(pub) && pub[i].LeaderEpoch == st.LeaderEpoch && pub[i].PartitionEpoch == st.PartitionEpoch {
				continue
			}
			s.broker.ApplyPartition(name, int32(i), st)
		}
		s.meta.published[name] = states
	}
	if !s.meta.caughtUp {
		return
	}
	for _, name := range s.broker.TopicNames() {
		if _, ok := im.Topic(name); !ok {
			s.broker.ApplyRemoveTopic(name)
			delete(s.meta.published, name)
		}
	}
}
