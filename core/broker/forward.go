package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// In a KRaft cluster the controller decides topics and ISRs. A broker
// forwards a client's CreateTopics and DeleteTopics to the active
// controller and relays the answer (KIP-590's forwarding, without the
// Envelope wrapper), asks it to create topics that Metadata auto-creates
// (AutoTopicCreationManager), and asks it to change an ISR with
// AlterPartition (AlterPartitionManager), one request per partition at a
// time. The metadata log then tells every broker what was decided.

// controllerRequestTimeoutMs is how long a request to the controller may go
// unanswered before the broker gives up on it: the client's own request
// times out, and an ISR change may be asked for again.
const controllerRequestTimeoutMs = 5000

// alterRetryBackoffMs is how long a leader waits after a refused
// AlterPartition before it asks again (the metadata usually brings the
// reason first).
const alterRetryBackoffMs = 500

// forward is a request sent to the controller: a client's (env), an ISR
// change of p, or an auto-creation (neither).
type forward struct {
	env  *core.Envelope
	p    *partition
	req  kmsg.Request
	sent int64
}

// toController sends req to the active controller; it reports false when
// none is known.
func (n *Node) toController(req kmsg.Request, f forward) bool {
	if n.controller < 0 {
		return false
	}
	n.corr++
	f.sent = n.now
	n.forwards[n.corr] = f
	n.out = append(n.out, core.Envelope{From: n.cfg.ID, To: core.NodeID(n.controller), CorrelationID: n.corr, Request: req})
	return true
}

// controllerDecides reports whether req is one a KRaft broker forwards to
// the controller instead of answering itself.
func controllerDecides(req kmsg.Request) bool {
	switch req.(type) {
	case *kmsg.CreateTopicsRequest, *kmsg.DeleteTopicsRequest, *kmsg.ElectLeadersRequest:
		return true
	}
	return false
}

// forward relays a client's CreateTopics, DeleteTopics or ElectLeaders; with
// no known controller the client gets NOT_CONTROLLER and retries.
func (n *Node) forward(env core.Envelope) {
	if !n.toController(env.Request, forward{env: &env, req: env.Request}) {
		n.reply(env, controllerError(env.Request, kerr.NotController))
	}
}

// autoCreate asks the controller to create a topic with the cluster's
// defaults (or the given ones), once per topic at a time.
func (n *Node) autoCreate(name string, partitions int32, rf int16, configs map[string]string) {
	for _, f := range n.forwards {
		if f.env == nil && f.p == nil {
			if r, ok := f.req.(*kmsg.CreateTopicsRequest); ok && r.Topics[0].Topic == name {
				return
			}
		}
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = name, partitions, rf
	for _, k := range sortedKeys(configs) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(configs[k])
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	n.toController(req, forward{req: req})
}

// alterPartition asks the controller for a new ISR of a partition this
// broker leads, unless a request for it is already on its way.
func (n *Node) alterPartition(p *partition, isr []int32) {
	if p.alterSent > 0 || n.now < p.alterRetryAt || n.brokerEpoch < 0 {
		return // one at a time; after a refusal, wait; unregistered, wait
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = 2 // topic ids, plain ISR (v3 adds broker epochs per member)
	req.BrokerID, req.BrokerEpoch = int32(n.cfg.ID), n.brokerEpoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = p.topic, n.topics[p.topic].meta.ID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.index, p.leaderEpoch, p.partitionEpoch
	rp.NewISR = slices.Clone(isr)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if n.toController(req, forward{p: p, req: req}) {
		p.alterSent = n.now
		p.pendingISR = maximalISR(&partition{isr: p.pendingISR, pendingISR: isr})
	}
}

// controllerAnswered takes the controller's answer to a forwarded request.
func (n *Node) controllerAnswered(env core.Envelope) {
	f, ok := n.forwards[env.CorrelationID]
	if !ok {
		return
	}
	delete(n.forwards, env.CorrelationID)
	switch {
	case f.env != nil:
		n.reply(*f.env, env.Response)
	case f.p != nil:
		if resp, ok := env.Response.(*kmsg.AlterPartitionResponse); ok {
			n.isrAltered(f.p, resp)
		}
	}
}

// isrAltered applies the controller's answer to an AlterPartition: the new
// ISR and partition epoch take effect at once on the leader, before the
// metadata log brings them (Partition.handleAlterPartitionUpdate).
func (n *Node) isrAltered(p *partition, resp *kmsg.AlterPartitionResponse) {
	p.alterSent = 0
	if n.topics[p.topic] == nil || n.partition(p.topic, p.index) != p {
		return // deleted meanwhile
	}
	if resp.ErrorCode != 0 {
		// NOT_CONTROLLER: the proposal may still commit under the next
		// controller, so what was asked stays pending until the metadata
		// says; other errors refuse it.
		if resp.ErrorCode != kerr.NotController.Code {
			p.pendingISR = nil
		}
		n.fail("AlterPartition", p.topic, p.index, kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error))
		p.alterRetryAt = n.now + alterRetryBackoffMs
		return
	}
	for _, rt := range resp.Topics {
		for _, sp := range rt.Partitions {
			if sp.Partition != p.index {
				continue
			}
			p.pendingISR = nil
			if sp.ErrorCode != 0 {
				// FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION...: the
				// metadata this leader acted on is stale; the log will
				// bring the current state.
				n.fail("AlterPartition", p.topic, p.index, kerr.ErrorForCode(sp.ErrorCode).(*kerr.Error))
				p.alterRetryAt = n.now + alterRetryBackoffMs
				continue
			}
			if sp.LeaderEpoch != p.leaderEpoch || sp.PartitionEpoch <= p.partitionEpoch {
				continue
			}
			prev := p.isr
			p.isr, p.partitionEpoch = slices.Clone(sp.ISR), sp.PartitionEpoch
			n.events = append(n.events, core.IsrChanged{Topic: p.topic, Partition: p.index, ISR: slices.Clone(sp.ISR),
				PreviousISR: prev, PartitionEpoch: p.partitionEpoch})
			n.maybeAdvanceHW(p)
			n.completeProduces()
		}
	}
}

// expireForwards gives up on requests the controller did not answer.
func (n *Node) expireForwards() {
	for corr, f := range n.forwards {
		if n.now-f.sent < controllerRequestTimeoutMs {
			continue
		}
		delete(n.forwards, corr)
		if f.p != nil {
			f.p.alterSent = 0
		}
	}
}

// controllerError is the response to req with every entry failing with err.
func controllerError(req kmsg.Request, err *kerr.Error) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range r.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode, st.NumPartitions, st.ReplicationFactor = t.Topic, err.Code, -1, -1
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		for _, name := range r.TopicNames {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(name), err.Code
			resp.Topics = append(resp.Topics, st)
		}
		for _, t := range r.Topics {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.TopicID, st.ErrorCode = t.Topic, t.TopicID, err.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.ElectLeadersRequest:
		resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
		resp.ErrorCode = err.Code
		return resp
	}
	return nil
}
