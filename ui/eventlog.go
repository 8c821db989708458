package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// EventLog tells what happened in plain words, newest first: elections,
// fencing, leaders and ISRs, faults, appends, acknowledgements. Runs of the
// same kind of event from the same machine are told once ("+ 9 more"), and
// high watermark advances are gathered into one line.
//
// For the e2e tests: each line is .event with data-event, the event's type
// name (PartitionLeaderChanged, BrokerFenced...).
type EventLog struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
	// Wire is the lab's WireVersion while Prefs.ShowWire, else 0: the log
	// then redraws with every message too.
	Wire  uint64
	Prefs *Prefs
}

// Prefs are the page's view settings that outlive a redraw.
type Prefs struct {
	// ShowWire: the event log lists every message too.
	ShowWire bool
}

// gathered are the kinds of events a run of which is told once: the record
// traffic. Cluster events are each told.
var gathered = map[string]bool{
	"HighWatermarkAdvanced": true, "RecordPartitioned": true, "RecordAcked": true, "RecordConsumed": true,
	"RecordsAppended": true, "Replicated": true, "ProduceRetried": true, "RequestFailed": true, "OffsetReset": true,
	"OffsetCommitted": true,
}

// maxLines bounds the log on screen.
const maxLines = 60

type logLine struct {
	time  int64
	who   string
	kind  string
	node  core.NodeID
	text  string
	more  int
	marks []string // gathered high watermarks
}

// Render draws the log.
func (l *EventLog) Render() app.UI {
	lines := l.lines()
	return app.Section().Class("events card").ID("event-log").Body(
		app.Div().Class("section-head").Body(
			app.H2().Text("What happened"),
			app.Label().Class("inline hint").Body(
				app.Input().Type("checkbox").ID("show-wire").Checked(l.Prefs.ShowWire).
					OnChange(func(ctx app.Context, e app.Event) { l.Prefs.ShowWire = ctx.JSSrc().Get("checked").Bool() }),
				app.Text(" every message too"),
			),
		),
		app.Ol().Class("event-list").Body(
			app.Range(lines).Slice(func(i int) app.UI {
				ln := lines[i]
				text := ln.text
				if len(ln.marks) > 0 {
					text = "high watermark → " + strings.Join(ln.marks, ", ") + ": consumers may read below it"
				}
				if ln.more > 0 {
					text += fmt.Sprintf(" (+ %d more like it)", ln.more)
				}
				return app.Li().Class("event", "kind-"+ln.kind).DataSet("event", ln.kind).Body(
					app.Span().Class("when").Text(time.UnixMilli(ln.time).UTC().Format("15:04:05.0")),
					app.Span().Class("who").Text(ln.who),
					app.Span().Class("what").Text(text),
				)
			}),
		),
	)
}

// lines is the newest events as lines, newest first.
func (l *EventLog) lines() []logLine {
	h := l.Lab.History()
	var w []sim.Observed
	if l.Prefs.ShowWire {
		w = l.Lab.Wire()
	}
	var out []logLine
	i, j := len(h)-1, len(w)-1
	for len(out) < maxLines && (i >= 0 || j >= 0) {
		var o sim.Observed
		if j < 0 || (i >= 0 && h[i].Time >= w[j].Time) {
			o, i = h[i], i-1
		} else {
			o, j = w[j], j-1
		}
		kind := kindOf(o.Event)
		if n := len(out); n > 0 && out[n-1].kind == kind && out[n-1].node == o.Node && gathered[kind] {
			last := &out[n-1]
			if hw, ok := o.Event.(core.HighWatermarkAdvanced); ok {
				mark := fmt.Sprintf("%s: %d", tp(hw.Topic, hw.Partition), hw.HighWatermark)
				if !containsPrefix(last.marks, tp(hw.Topic, hw.Partition)+":") {
					last.marks = append(last.marks, mark)
				}
				continue
			}
			last.more++
			continue
		}
		ln := logLine{time: o.Time, who: who(o), kind: kind, node: o.Node, text: describe(o.Event)}
		if hw, ok := o.Event.(core.HighWatermarkAdvanced); ok {
			ln.marks = []string{fmt.Sprintf("%s: %d", tp(hw.Topic, hw.Partition), hw.HighWatermark)}
		}
		out = append(out, ln)
	}
	return out
}

func containsPrefix(v []string, prefix string) bool {
	for _, s := range v {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// kindOf is an event's type name without the package.
func kindOf(ev core.Event) string {
	s := fmt.Sprintf("%T", ev)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
