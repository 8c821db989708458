package client

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// Admin is the smallest admin client: it creates one topic, as
// kafka-topics.sh --create would, trying the bootstrap brokers in turn until
// one answers with something other than a retriable error (a cluster whose
// controller is still being elected answers NOT_CONTROLLER).
type Admin struct {
	id        core.NodeID
	bootstrap []core.NodeID
	topic     kmsg.CreateTopicsRequestTopic
	now       int64
	sentAt    int64
	tries     int
	sent      bool
	done      bool
	err       error
	corr      int32
	out       []core.Envelope
}

const adminRetryMs = 1000

// NewAdmin returns an admin client that creates topic.
func NewAdmin(id core.NodeID, bootstrap []core.NodeID, topic kmsg.CreateTopicsRequestTopic) *Admin {
	return &Admin{id: id, bootstrap: bootstrap, topic: topic}
}

// Done reports whether the topic exists (or creation failed for good: Err).
func (a *Admin) Done() bool { return a.done }

// Err is why the creation failed; TOPIC_ALREADY_EXISTS is success.
func (a *Admin) Err() error { return a.err }

func (a *Admin) ID() core.NodeID { return a.id }

func (a *Admin) Tick(now int64) {
	a.now = now
	if a.done || (a.sent && now-a.sentAt < adminRetryMs) {
		return
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 30000
	req.Topics = []kmsg.CreateTopicsRequestTopic{a.topic}
	a.corr++
	to := a.bootstrap[a.tries%len(a.bootstrap)]
	a.tries++
	a.out = append(a.out, core.Envelope{From: a.id, To: to, CorrelationID: a.corr, ClientID: "streamlab-admin", Request: req})
	a.sent, a.sentAt = true, now
}

func (a *Admin) Step(env core.Envelope) {
	resp, ok := env.Response.(*kmsg.CreateTopicsResponse)
	if !ok || env.CorrelationID != a.corr || len(resp.Topics) != 1 {
		return
	}
	err := kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	if kerr.IsRetriable(err) || err == kerr.NotController {
		a.sentAt = a.now - adminRetryMs + 100 // try the next broker soon
		return
	}
	a.done = true
	if err != nil && err != kerr.TopicAlreadyExists {
		a.err = err
	}
}

func (a *Admin) Ready() core.Ready { return core.Ready{Messages: a.out} }
func (a *Admin) Advance()          { a.out = nil }
