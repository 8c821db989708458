package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LiveEventLog tells what this tab's broker and clients saw, newest first,
// in the words of the single-tab page's EventLog (describe); runs of the
// same kind from the same machine are told once.
//
// For the e2e tests: #live-event-log; each line is .event with data-event
// (the event's type name, or PeerUp / PeerDown).
type LiveEventLog struct {
	app.Compo
	View *LiveView
}

type liveLine struct {
	time int64
	who  string
	kind string
	node core.NodeID
	text string
	more int
}

// Render draws the log.
func (l *LiveEventLog) Render() app.UI {
	var lines []liveLine
	for _, e := range l.View.Events {
		kind, text := "", ""
		switch {
		case e.PeerUp:
			kind, text = "PeerUp", fmt.Sprintf("broker %d's tab is connected over WebRTC", e.Node)
		case e.PeerDown:
			kind, text = "PeerDown", fmt.Sprintf("lost the WebRTC connection to broker %d's tab. A closed tab is a crashed broker: "+
				"the controller fences it after broker.session.timeout.ms without heartbeats", e.Node)
			if e.Err != "" {
				text += " (" + e.Err + ")"
			}
		case e.Fault != "":
			kind, text = "TeacherFault", "the teacher's fault: "+e.Fault
		case e.Event != nil:
			kind, text = kindOf(e.Event), describe(e.Event)
		default:
			continue
		}
		if n := len(lines); n > 0 && lines[n-1].kind == kind && lines[n-1].node == e.Node && gathered[kind] {
			lines[n-1].more++
			continue
		}
		if len(lines) == maxLines {
			break
		}
		lines = append(lines, liveLine{time: e.Time, who: liveWho(e), kind: kind, node: e.Node, text: text})
	}
	return app.Section().Class("events card").ID("live-event-log").Body(
		app.H2().Text("What this tab saw"),
		app.Ol().Class("event-list").Body(
			app.Range(lines).Slice(func(i int) app.UI {
				ln := lines[i]
				text := ln.text
				if ln.more > 0 {
					text += fmt.Sprintf(" (+ %d more like it)", ln.more)
				}
				return app.Li().Class("event", "kind-"+ln.kind).DataSet("event", ln.kind).Body(
					app.Span().Class("when").Text(time.UnixMilli(ln.time).Format("15:04:05.0")),
					app.Span().Class("who").Text(ln.who),
					app.Span().Class("what").Text(text),
				)
			}),
		),
	)
}

// liveWho names the machine of an event: a broker, a client of a tab, or
// the metadata log. Every controller voter applies the committed metadata
// log and reports what it says (a leader or an ISR changed): that is the
// quorum's decision, told by this tab's voter, not its own doing.
func liveWho(e LiveEvent) string {
	switch e.Event.(type) {
	case core.ControllerElected, core.ControllerResigned:
		return fmt.Sprintf("controller %d", e.Node)
	case core.BrokerRegistered, core.BrokerFenced, core.BrokerUnfenced, core.PartitionLeaderChanged, core.IsrChanged:
		return "metadata log"
	}
	if e.Node >= core.ClientIDBase {
		return fmt.Sprintf("client %d", e.Node)
	}
	return fmt.Sprintf("broker %d", e.Node)
}
