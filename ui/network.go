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
// For the e2e tests: each message is an li.flight with data-api (the API
// name, "raft" for the quorum's messages) and data-kind ("request",
// "response" or "raft").
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
	more := len(all) - len(flights)
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
				f := flights[i]
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
				li := app.Li().Class("flight").DataSet("api", api).DataSet("kind", kind).Title("Inspect this message").
					OnClick(func(ctx app.Context, _ app.Event) { inspect(ctx, Inspected{What: "message", Flight: f}) }, app.EventScope(key))
				if groupAPI(f.Envelope) {
					li = li.Class("group-msg")
				}
				if n.Selected != "" && key == n.Selected {
					li = li.Class("selected")
				}
				return li.Body(
					app.Progress().Max(100).Value(done),
					app.Span().Class("route").Text(fmt.Sprintf("%s → %s", nodeName(f.Envelope.From), nodeName(f.Envelope.To))),
					app.Span().Text(message(f.Envelope)),
				)
			}),
		),
		app.If(more > 0, func() app.UI {
			return app.P().Class("hint").Text(fmt.Sprintf("and %d more", more))
		}),
	)
}

// shownFlights keeps at most maxFlights messages, in order, group protocol
// messages first in line for a place.
func shownFlights(all []sim.Flight) []sim.Flight {
	if len(all) <= maxFlights {
		return all
	}
	keep := make([]bool, len(all))
	n := 0
	for pass := 0; pass < 2; pass++ {
		for i, f := range all {
			if n < maxFlights && !keep[i] && (pass == 1 || groupAPI(f.Envelope)) {
				keep[i] = true
				n++
			}
		}
	}
	out := make([]sim.Flight, 0, n)
	for i, f := range all {
		if keep[i] {
			out = append(out, f)
		}
	}
	return out
}
