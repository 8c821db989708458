package ui

import (
	"fmt"
	"html"
	"strconv"
	"strings"

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
		app.Raw(r.cells()),
	)
}

// cells is the row's cells as one piece of HTML. Under load the window of
// newest records slides at every redraw, so every cell changes; drawn as
// elements, go-app set some five attributes on each of the page's ~160
// cells, one JavaScript call each (attribute updates were a third of a
// redraw's time, most of them these). As HTML, go-app swaps the list in a
// few calls and the browser parses it. Keys and values are the learner's:
// everything is escaped.
func (r *ReplicaRow) cells() string {
	rv := r.Replica
	var b strings.Builder
	li := func(class, style, title, text string, data ...any) {
		fmt.Fprintf(&b, `<li class="%s"`, class)
		if style != "" {
			fmt.Fprintf(&b, ` style="%s"`, html.EscapeString(style))
		}
		for i := 0; i+1 < len(data); i += 2 {
			fmt.Fprintf(&b, ` data-%s="%s"`, data[i], html.EscapeString(fmt.Sprint(data[i+1])))
		}
		fmt.Fprintf(&b, ` title="%s">%s</li>`, html.EscapeString(title), html.EscapeString(text))
	}
	b.WriteString(`<ol class="cells">`)
	first := rv.LogEndOffset
	if len(r.Records) > 0 {
		first = r.Records[0].Offset
	}
	if first > rv.LogStartOffset {
		li("more", "", fmt.Sprintf("%d older records, offsets %d to %d", first-rv.LogStartOffset, rv.LogStartOffset, first-1), "…")
	}
	hwDrawn := false
	hw := func() {
		li("hw-mark", "", fmt.Sprintf("high watermark (HW) %d: records below it are on every in-sync replica; consumers read only below it", rv.HighWatermark), "")
		hwDrawn = true
	}
	for _, rec := range r.Records {
		if rec.Offset == rv.HighWatermark && !hwDrawn {
			hw()
		}
		bg, fg := keyColor(rec.Key)
		class, style := "record committed", ""
		if rec.Offset >= rv.HighWatermark {
			class = "record uncommitted"
		}
		if bg == "" {
			class += " null-key"
		} else {
			style = "background: " + bg + "; color: " + fg
		}
		li(class, style, fmt.Sprintf("offset %d · key %s · value %s", rec.Offset, showBytes(rec.Key), showBytes(rec.Value)), strconv.FormatInt(rec.Offset, 10),
			"broker", int(rv.Broker), "partition", r.Partition, "offset", rec.Offset, "key", string(rec.Key))
	}
	if !hwDrawn && rv.HighWatermark >= rv.LogEndOffset {
		hw()
	}
	li("leo", "", fmt.Sprintf("log end offset (LEO) %d: the next record appended here gets offset %d", rv.LogEndOffset, rv.LogEndOffset), "")
	b.WriteString(`</ol>`)
	return b.String()
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
