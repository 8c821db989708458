package lab

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// admin is the smallest admin client: it sends one CreateTopics request, as
// kafka-topics.sh --create would, and retries until the broker answers.
type admin struct {
	id, broker core.NodeID
	topic      kmsg.CreateTopicsRequestTopic
	now        int64
	sentAt     int64
	sent, done bool
	err        error
	corr       int32
	out        []core.Envelope
}

const adminRetryMs = 1000

func (a *admin) ID() core.NodeID { return a.id }

func (a *admin) Tick(now int64) {
	a.now = now
	if a.done || (a.sent && now-a.sentAt < adminRetryMs) {
		return
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 30000
	req.Topics = []kmsg.CreateTopicsRequestTopic{a.topic}
	a.corr++
	a.out = append(a.out, core.Envelope{From: a.id, To: a.broker, CorrelationID: a.corr, ClientID: "streamlab-admin", Request: req})
	a.sent, a.sentAt = true, now
}

func (a *admin) Step(env core.Envelope) {
	resp, ok := env.Response.(*kmsg.CreateTopicsResponse)
	if !ok || env.CorrelationID != a.corr || len(resp.Topics) != 1 {
		return
	}
	a.done = true
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil && err != kerr.TopicAlreadyExists {
		a.err = err
	}
}

func (a *admin) Ready() core.Ready { return core.Ready{Messages: a.out} }
func (a *admin) Advance()          { a.out = nil }
