package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/lab"
)

// ReplicaRow is one partition as one broker holds it: its role, ISR
// membership, the newest records as offset cells coloured by key, the high
// watermark as a line and the log end offset as the empty slot at the end.
//
// For the e2e tests: the row is .replica with data-broker, data-partition,
// data-role, data-isr, data-epoch, data-leo, data-hw and data-log-start;
// each cell is .record with data-broker, data-partition, data-offset and
// data-key.
type ReplicaRow struct {
	app.Compo
	Topic            string
	Partition        int32
	Replica          lab.ReplicaView
	ControllerLeader int32 // the leader in the controller's metadata
	Records          []broker.StoredRecord
}

// Render draws the row.
func (r *ReplicaRow) Render() app.UI {
	rv := r.Replica
	if !rv.Holds {
		return app.Div().Class("replica", "absent").DataSet("broker", int(rv.Broker)).DataSet("partition", r.Partition).Body(
			app.Span().Class("pname").Text(fmt.Sprintf("P%d", r.Partition)),
			app.Span().Class("hint").Text("not here yet"),
		)
	}
	role, roleTitle := rv.Role, ""
	stale := rv.Role == "leader" && r.ControllerLeader != int32(rv.Broker)
	switch {
	case rv.Down:
		role = "was " + rv.Role
		roleTitle = "The broker is down: this is its log as it was when it crashed."
	case stale:
		role = "thinks it leads"
		roleTitle = fmt.Sprintf("It has not heard that the controller chose another leader: its leader epoch %d is old. Its writes cannot reach the other replicas.", rv.LeaderEpoch)
	case rv.Role == "leader":
		roleTitle = fmt.Sprintf("The leader (leader epoch %d): producers write here, followers fetch from here.", rv.LeaderEpoch)
	default:
		roleTitle = fmt.Sprintf("A follower: it fetches from broker %d (leader epoch %d).", rv.Leader, rv.LeaderEpoch)
	}
	isr := "in ISR"
	if !rv.InISR {
		isr = "out of ISR"
	}
	first := rv.LogEndOffset
	if len(r.Records) > 0 {
		first = r.Records[0].Offset
	}
	hwDrawn := false
	cells := make([]app.UI, 0, len(r.Records)+3)
	if first > rv.LogStartOffset {
		cells = append(cells, app.Li().Class("more").Title("%d older records, offsets %d to %d", first-rv.LogStartOffset, rv.LogStartOffset, first-1).Text("…"))
	}
	for _, rec := range r.Records {
		if rec.Offset == rv.HighWatermark && !hwDrawn {
			cells = append(cells, hwMark(rv.HighWatermark))
			hwDrawn = true
		}
		cells = append(cells, r.cell(rec))
	}
	if !hwDrawn && rv.HighWatermark >= rv.LogEndOffset {
		cells = append(cells, hwMark(rv.HighWatermark))
	}
	cells = append(cells, app.Li().Class("leo").Title("log end offset (LEO) %d: the next record appended here gets offset %d", rv.LogEndOffset, rv.LogEndOffset))

	return app.Div().Class("replica", "role-"+rv.Role).
		DataSet("broker", int(rv.Broker)).DataSet("partition", r.Partition).DataSet("role", rv.Role).
		DataSet("isr", rv.InISR).DataSet("epoch", rv.LeaderEpoch).DataSet("leo", rv.LogEndOffset).
		DataSet("hw", rv.HighWatermark).DataSet("log-start", rv.LogStartOffset).Body(
		app.Div().Class("replica-head").Body(
			app.Span().Class("pname").Text(fmt.Sprintf("P%d", r.Partition)),
			app.Span().Class("role", "role-"+rv.Role).Title("%s", roleTitle).Text(role),
			app.Span().Class("isr").Title("%s", isrTitle(rv.InISR)).Text(isr),
			app.Span().Class("nums").Title("log start offset %d · high watermark (HW) %d · log end offset (LEO) %d · %d segment file(s): the log rolls a new segment after segment.bytes or segment.ms, and retention deletes whole old segments",
				rv.LogStartOffset, rv.HighWatermark, rv.LogEndOffset, rv.Segments).
				Text(nums(rv)),
		),
		app.Ol().Class("cells").Body(cells...),
	)
}

// nums are the replica's offsets; the log start only once retention moved
// it, the segment count once the log has rolled.
func nums(rv lab.ReplicaView) string {
	s := fmt.Sprintf("HW %d · LEO %d", rv.HighWatermark, rv.LogEndOffset)
	if rv.LogStartOffset > 0 {
		s = fmt.Sprintf("start %d · ", rv.LogStartOffset) + s
	}
	if rv.Segments > 1 {
		s += fmt.Sprintf(" · %d segments", rv.Segments)
	}
	return s
}

func isrTitle(in bool) string {
	if in {
		return "In the ISR (in-sync replicas): the controller counts it caught up; acks=all waits for it, and it may become leader."
	}
	return "Out of the ISR: it fell behind more than replica.lag.time.max.ms (30 s), or its broker is fenced. acks=all does not wait for it; it may not become leader (unless unclean.leader.election.enable)."
}

func hwMark(hw int64) app.UI {
	return app.Li().Class("hw-mark").Title("high watermark (HW) %d: records below it are on every in-sync replica; consumers read only below it", hw)
}

func (r *ReplicaRow) cell(rec broker.StoredRecord) app.UI {
	rv := r.Replica
	bg, fg := keyColor(rec.Key)
	state := "committed"
	if rec.Offset >= rv.HighWatermark {
		state = "uncommitted"
	}
	li := app.Li().Class("record", state).
		DataSet("broker", int(rv.Broker)).DataSet("partition", r.Partition).DataSet("offset", rec.Offset).
		DataSet("key", string(rec.Key)).
		Title("offset %d · key %s · value %s", rec.Offset, showBytes(rec.Key), showBytes(rec.Value))
	if bg == "" {
		li = li.Class("null-key")
	} else {
		li = li.Style("background", "%s", bg).Style("color", "%s", fg)
	}
	return li.Text(rec.Offset)
}
