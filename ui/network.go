package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// Network lists the messages travelling right now: Kafka requests and
// responses, and the controller quorum's raft messages. The consumer group
// protocol's messages (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch) are marked, and kept when the list
// is cut, so a rebalance can be watched on the wire. Clicking a message
// shows it in full in the inspector.
//
// When more messages travel than the list shows (a busy cluster, a high
// speed), the messages of one API and kind on one route are drawn once, as
// the one of them that arrives first, with how many they are: the picture
// stays bounded and still shows only messages really on the wire.
//
// For the e2e tests: each message is an li.flight with data-api (the API
// name, "raft" for the quorum's messages), data-kind ("request",
// "response" or "raft") and data-count (how many messages the line
// stands for, 1 unless gathered).
type Network struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now int64
	// Selected is the flightKey of the message the inspector shows.
	Selected string
}

// maxFlights bounds the list.
const maxFlights = 14

// Render draws the messages in flight.
func (n *Network) Render() app.UI {
	all := n.Lab.Sim.InFlight()
	flights := shownFlights(all)
	more := len(all)
	for _, f := range flights {
		more -= f.count
	}
	now := n.Lab.Now()
	return app.Section().Class("network card").Body(
		app.H2().Text("On the wire"),
		app.P().Class("hint").Text("Every message between the machines, as it travels (40–120 ms). Followers fetch from leaders, "+
			"brokers fetch the metadata log from the controller and heartbeat to it, the voters exchange raft messages; "+
			"consumer group members talk to their group coordinator (marked). Click one to see it decoded (pause first to catch it)."),
		app.If(len(flights) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing in flight")
		}),
		app.Ul().Body(
			app.Range(flights).Slice(func(i int) app.UI {
				f, count := flights[i].Flight, flights[i].count
				done := 100 * (now - f.SentAt) / max(1, f.At-f.SentAt)
				api, kind := "raft", "raft"
				if f.Envelope.Raft == nil {
					api, kind = core.APIName(f.Envelope.Key()), "response"
					if f.Envelope.Request != nil {
						kind = "request"
					}
				}
				// The scope rebinds the handler when the message at this
				// place in the list changes: go-app keeps a handler of the
				// same code otherwise, with the message it first captured.
				key := flightKey(f)
				li := app.Li().Class("flight").DataSet("api", api).DataSet("kind", kind).DataSet("count", count).Title("Inspect this message").
					OnClick(func(ctx app.Context, _ app.Event) { inspect(ctx, Inspected{What: "message", Flight: f}) }, app.EventScope(key))
				if groupAPI(f.Envelope) {
					li = li.Class("group-msg")
				}
				if n.Selected != "" && key == n.Selected {
					li = li.Class("selected")
				}
				if count > 1 {
					li = li.Class("gathered").Title("%d such messages on this route right now; inspect the first to arrive", count)
				}
				return li.Body(
					app.Progress().Max(100).Value(done),
					app.Span().Class("route").Text(fmt.Sprintf("%s → %s", nodeName(f.Envelope.From), nodeName(f.Envelope.To))),
					app.Span().Text(message(f.Envelope)),
					app.If(count > 1, func() app.UI { return app.Span().Class("count").Text(fmt.Sprintf("×%d", count)) }),
				)
			}),
		),
		app.If(more > 0, func() app.UI {
			return app.P().Class("hint").Text(fmt.Sprintf("and %d more", more))
		}),
	)
}

// shownFlight is a line of the list: a message, or count messages of one
// API and kind on one route, drawn as the first of them to arrive.
type shownFlight struct {
	sim.Flight
	count int
}

// shownFlights keeps at most maxFlights lines, in order of arrival, group
// protocol messages first in line for a place. Past maxFlights messages,
// those of one API and kind on one route share a line; group protocol
// messages keep theirs.
func shownFlights(all []sim.Flight) []shownFlight {
	lines := make([]shownFlight, 0, min(len(all), 4*maxFlights))
	if len(all) <= maxFlights {
		for _, f := range all {
			lines = append(lines, shownFlight{f, 1})
		}
		return lines
	}
	type route struct {
		from, to core.NodeID
		key      int16
		kind     int8
	}
	at := map[route]int{} // index in lines
	for _, f := range all {
		e := f.Envelope
		if groupAPI(e) {
			lines = append(lines, shownFlight{f, 1})
			continue
		}
		r := route{from: e.From, to: e.To, key: -1, kind: 2}
		if e.Raft == nil {
			r.key, r.kind = e.Key(), 0
			if e.Request != nil {
				r.kind = 1
			}
		}
		if i, ok := at[r]; ok {
			lines[i].count++
			continue
		}
		at[r] = len(lines)
		lines = append(lines, shownFlight{f, 1})
	}
	if len(lines) <= maxFlights {
		return lines
	}
	keep := make([]bool, len(lines))
	n := 0
	for pass := 0; pass < 2; pass++ {
		for i, f := range lines {
			if n < maxFlights && !keep[i] && (pass == 1 || groupAPI(f.Envelope)) {
				keep[i] = true
				n++
			}
		}
	}
	out := lines[:0]
	for i, f := range lines {
		if keep[i] {
			out = append(out, f)
		}
	}
	return out
}
