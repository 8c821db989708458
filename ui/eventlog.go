package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// EventLog lists the latest events in words, newest first.
type EventLog struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now     int64
	network bool
}

// Render draws the log.
func (l *EventLog) Render() app.UI {
	var lines []sim.Observed
	h := l.Lab.History()
	for i := len(h) - 1; i >= 0 && len(lines) < 40; i-- {
		if !l.network && isNetwork(h[i].Event) {
			continue
		}
		lines = append(lines, h[i])
	}
	return app.Section().Class("events card").Body(
		app.H2().Text("What happened"),
		app.Label().Class("inline").Body(
			app.Input().Type("checkbox").Checked(l.network).
				OnChange(func(ctx app.Context, e app.Event) { l.network = ctx.JSSrc().Get("checked").Bool() }),
			app.Text(" show every request and response"),
		),
		app.Ol().Class("event-list").Body(
			app.Range(lines).Slice(func(i int) app.UI {
				o := lines[i]
				return app.Li().Body(
					app.Span().Class("when").Text(time.UnixMilli(o.Time).UTC().Format("15:04:05.000")),
					app.Span().Class("who").Text(nodeName(o.Node)),
					app.Span().Text(describe(o.Event)),
				)
			}),
		),
	)
}

func isNetwork(ev core.Event) bool {
	switch ev.(type) {
	case core.MessageSent, core.MessageDelivered:
		return true
	}
	return false
}

func nodeName(id core.NodeID) string {
	switch id {
	case lab.AdminID:
		return "admin"
	case lab.ProducerID:
		return "producer"
	case lab.ConsumerID:
		return "consumer"
	}
	return fmt.Sprintf("broker %d", id)
}

func message(e core.Envelope) string {
	kind := "response"
	if e.Request != nil {
		kind = "request"
	}
	return fmt.Sprintf("%s %s #%d", core.APIName(e.Key()), kind, e.CorrelationID)
}

// describe puts an event in a learner's words, with Kafka's names.
func describe(ev core.Event) string {
	switch e := ev.(type) {
	case core.TopicCreated:
		return fmt.Sprintf("created topic %q with %d partitions", e.Topic, e.Partitions)
	case core.RecordsAppended:
		if e.BaseOffset == e.LastOffset {
			return fmt.Sprintf("appended 1 record to %s-%d at offset %d", e.Topic, e.Partition, e.BaseOffset)
		}
		return fmt.Sprintf("appended %d records to %s-%d at offsets %d..%d", e.Records, e.Topic, e.Partition, e.BaseOffset, e.LastOffset)
	case core.HighWatermarkAdvanced:
		return fmt.Sprintf("high watermark of %s-%d is now %d", e.Topic, e.Partition, e.HighWatermark)
	case core.SegmentRolled:
		return fmt.Sprintf("rolled a new segment of %s-%d at offset %d", e.Topic, e.Partition, e.BaseOffset)
	case core.SegmentDeleted:
		return fmt.Sprintf("deleted segment [%d, %d) of %s-%d (%s)", e.BaseOffset, e.NextOffset, e.Topic, e.Partition, e.Reason)
	case core.LogStartOffsetAdvanced:
		return fmt.Sprintf("log start offset of %s-%d is now %d", e.Topic, e.Partition, e.LogStartOffset)
	case core.LogRecovered:
		return fmt.Sprintf("recovered %s-%d: cut %d bytes (%s)", e.Topic, e.Partition, e.TruncatedBytes, e.Reason)
	case core.RequestFailed:
		return fmt.Sprintf("%s failed for %s-%d: %s", e.API, e.Topic, e.Partition, e.Error)
	case core.RecordPartitioned:
		return fmt.Sprintf("key %s → partition %d (%s)", showBytes(e.Key), e.Partition, e.Reason)
	case core.RecordAcked:
		return fmt.Sprintf("acknowledged: %s-%d offset %d", e.Topic, e.Partition, e.Offset)
	case core.ProduceFailed:
		return fmt.Sprintf("gave up producing to %s-%d: %s", e.Topic, e.Partition, e.Error)
	case core.RecordConsumed:
		return fmt.Sprintf("consumed %s-%d offset %d: %s = %s", e.Topic, e.Partition, e.Offset, showBytes(e.Key), showBytes(e.Value))
	case core.OffsetReset:
		return fmt.Sprintf("position of %s-%d reset to %d (%s)", e.Topic, e.Partition, e.Offset, e.Reason)
	case core.MessageSent:
		return "sent " + message(e.Envelope) + " to " + nodeName(e.Envelope.To)
	case core.MessageDelivered:
		return "received " + message(e.Envelope) + " from " + nodeName(e.Envelope.From)
	case core.MessageDropped:
		return "lost " + message(e.Envelope) + ": " + e.Reason
	case core.StorageFailed:
		return "storage failed: " + e.Err
	case core.DuplicateIgnored:
		return fmt.Sprintf("ignored a retried batch of producer %d (sequence %d): it is already at offset %d", e.ProducerID, e.FirstSequence, e.BaseOffset)
	case core.ProducerIDAssigned:
		return fmt.Sprintf("got producer id %d, epoch %d (%s)", e.ProducerID, e.Epoch, e.Reason)
	case core.IdempotenceDisabled:
		return "producing without idempotence: " + e.Reason
	case core.ReplicaRoleChanged:
		return fmt.Sprintf("%s-%d: now %s in leader epoch %d (leader: broker %d)", e.Topic, e.Partition, e.Role, e.LeaderEpoch, e.Leader)
	case core.IsrChanged:
		return fmt.Sprintf("%s-%d: in-sync replicas %v → %v", e.Topic, e.Partition, e.PreviousISR, e.ISR)
	case core.LogTruncated:
		return fmt.Sprintf("%s-%d: truncated the log from %d to %d (%s)", e.Topic, e.Partition, e.From, e.To, e.Reason)
	case core.FaultInjected:
		return fmt.Sprintf("fault: %s %s", e.Kind, e.Detail)
	case core.FaultHealed:
		return fmt.Sprintf("healed: %s %s", e.Kind, e.Detail)
	}
	return fmt.Sprintf("%T", ev)
}
