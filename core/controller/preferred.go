package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Preferred leader election. A partition's first replica is its preferred
// leader; after a failover the leadership stays where it went, so the
// brokers that came back lead nothing. Every
// leader.imbalance.check.interval.seconds (300) the active controller
// moves each partition whose preferred replica is alive and in sync back
// to it (auto.leader.rebalance.enable; KRaft's
// ReplicationControlManager.maybeBalancePartitionLeaders has no imbalance
// percentage to cross first). ElectLeaders (kafka-leader-election.sh, KIP-460)
// does the same on demand, or an unclean election.

// preferredChange is the record that makes the preferred replica lead p,
// if it is not the leader and may lead.
func (c *Controller) preferredChange(p Partition) (PartitionChangeRecord, *kerr.Error) {
	if len(p.Replicas) == 0 {
		return PartitionChangeRecord{}, kerr.PreferredLeaderNotAvailable
	}
	preferred := p.Replicas[0]
	if p.Leader == preferred {
		return PartitionChangeRecord{}, kerr.ElectionNotNeeded
	}
	b := c.image.brokers[preferred]
	if b == nil || b.Fenced || !slices.Contains(p.ISR, preferred) {
		return PartitionChangeRecord{}, kerr.PreferredLeaderNotAvailable
	}
	return PartitionChangeRecord{Leader: preferred}, nil
}

// balanceLeaders returns the preferred elections due now, if any.
func (c *Controller) balanceLeaders() []Record {
	if c.cfg.LeaderImbalanceCheckIntervalMs < 0 {
		return nil
	}
	if c.nextBalance == 0 {
		c.nextBalance = c.now + c.cfg.LeaderImbalanceCheckIntervalMs
	}
	if c.now < c.nextBalance {
		return nil
	}
	c.nextBalance = c.now + c.cfg.LeaderImbalanceCheckIntervalMs
	var recs []Record
	for _, name := range c.image.Topics() {
		t := c.image.topics[name]
		for i, p := range t.Partitions {
			if rec, err := c.preferredChange(p); err == nil {
				rec.TopicID, rec.Partition = t.ID, int32(i)
				recs = append(recs, rec)
			}
		}
	}
	return recs
}

// electLeaders serves ElectLeaders: ElectionType 0 is preferred, 1 unclean
// (a leaderless partition gets any live replica). A nil topic list means
// every partition (v1+).
func (c *Controller) electLeaders(req *kmsg.ElectLeadersRequest) ([]Record, kmsg.Response) {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	topics := req.Topics
	if topics == nil {
		for _, name := range c.image.Topics() {
			rt := kmsg.ElectLeadersRequestTopic{Topic: name}
			for i := range c.image.topics[name].Partitions {
				rt.Partitions = append(rt.Partitions, int32(i))
			}
			topics = append(topics, rt)
		}
	}
	var recs []Record
	for _, rt := range topics {
		st := kmsg.ElectLeadersResponseTopic{Topic: rt.Topic}
		t := c.image.topics[rt.Topic]
		for _, idx := range rt.Partitions {
			sp := kmsg.ElectLeadersResponseTopicPartition{Partition: idx}
			var rec PartitionChangeRecord
			var err *kerr.Error
			switch {
			case t == nil || idx < 0 || int(idx) >= len(t.Partitions):
				err = kerr.UnknownTopicOrPartition
			case req.ElectionType == 1:
				rec, err = c.uncleanChange(t.Partitions[idx])
			default:
				rec, err = c.preferredChange(t.Partitions[idx])
			}
			if err != nil {
				sp.ErrorCode = c.fail("ElectLeaders", rt.Topic, idx, err)
				sp.ErrorMessage = kmsg.StringPtr(err.Message)
			} else {
				rec.TopicID, rec.Partition = t.ID, idx
				recs = append(recs, rec)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return recs, resp
}

// uncleanChange elects a leader for a leaderless partition: a live ISR
// member if there is one, else any live replica, losing what it lacks.
func (c *Controller) uncleanChange(p Partition) (PartitionChangeRecord, *kerr.Error) {
	if p.Leader != NoLeader {
		return PartitionChangeRecord{}, kerr.ElectionNotNeeded
	}
	acceptable := func(r int32) bool { b := c.image.brokers[r]; return b != nil && !b.Fenced }
	rec, ok := partitionChange(p, p.ISR, acceptable, true)
	if !ok || rec.Leader == NoLeaderChange || rec.Leader == NoLeader {
		return PartitionChangeRecord{}, kerr.EligibleLeadersNotAvailable
	}
	return rec, nil
}
