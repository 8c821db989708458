package ui

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LiveEventLog tells what this tab's broker and clients saw, and what the
// other members told of theirs (p2p/gossip), newest first, in the words of
// the single-tab page's EventLog (describe); runs of the same kind from the
// same machine are told once. Another member's events are stamped with its
// clock, which may differ from this one's.
//
// For the e2e tests: #live-event-log; each line is .event with data-event
// (the event's type name, or PeerUp / PeerDown) and data-from (the broker
// whose member told it).
type LiveEventLog struct {
	app.Compo
	View *LiveView
}

type liveLine struct {
	time int64
	who  string
	kind string
	node core.NodeID
	from core.NodeID // the member that told it
	text string
	more int
}

// TellEvent puts a live member's event in words (its kind and text) for
// the other members' logs.
func TellEvent(ev core.Event) (kind, text string) { return kindOf(ev), describe(ev) }

// Render draws the log.
func (l *LiveEventLog) Render() app.UI {
	told := l.told()
	var lines []liveLine
	add := func(ln liveLine) bool {
		if n := len(lines); n > 0 && lines[n-1].kind == ln.kind && lines[n-1].node == ln.node && lines[n-1].from == ln.from && gathered[ln.kind] {
			lines[n-1].more++
			return true
		}
		if len(lines) == maxLines {
			return false
		}
		lines = append(lines, ln)
		return true
	}
	for _, e := range l.View.Events {
		for len(told) > 0 && told[0].time > e.Time {
			if !add(told[0]) {
				break
			}
			told = told[1:]
		}
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
		if !add(liveLine{time: e.Time, who: liveWho(e), kind: kind, node: e.Node, from: l.View.ID, text: text}) {
			break
		}
	}
	for _, t := range told {
		if !add(t) {
			break
		}
	}
	return app.Section().Class("events card").ID("live-event-log").Body(
		app.H2().Text("What the cluster saw"),
		app.P().Class("hint").Text("This tab's events, and those every other member shares of its own every second (their clocks may differ a little)."),
		app.Ol().Class("event-list").Body(
			app.Range(lines).Slice(func(i int) app.UI {
				ln := lines[i]
				text := ln.text
				if ln.more > 0 {
					text += fmt.Sprintf(" (+ %d more like it)", ln.more)
				}
				return app.Li().Class("event", "kind-"+ln.kind).DataSet("event", ln.kind).DataSet("from", ln.from).Body(
					app.Span().Class("when").Text(time.UnixMilli(ln.time).Format("15:04:05.0")),
					app.Span().Class("who").Text(ln.who),
					app.Span().Class("what").Text(text),
				)
			}),
		),
	)
}

// told is what the other fresh members told, newest first.
func (l *LiveEventLog) told() []liveLine {
	var out []liveLine
	for _, sh := range l.View.Shared {
		if sh.Killed || sh.AgeMs > sharedStaleMs {
			continue
		}
		for _, e := range sh.Events {
			out = append(out, liveLine{time: e.Time, who: liveNodeName(e.Node), kind: e.Kind, node: e.Node, from: sh.Broker, text: e.Text})
		}
	}
	slices.SortStableFunc(out, func(a, b liveLine) int { return cmp.Compare(b.time, a.time) })
	return out[:min(len(out), maxTold)]
}

// maxTold bounds the other members' lines, so that this tab's own stay in
// the log.
const maxTold = 20

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
