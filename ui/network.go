package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// Network lists the messages travelling right now: Kafka requests and
// responses, and the controller quorum's raft messages. The consumer group
// protocol's messages (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch) are marked, and kept when the list
// is cut, so a rebalance can be watched on the wire.
type Network struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now int64
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
			"consumer group members talk to their group coordinator (marked)."),
		app.If(len(flights) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing in flight")
		}),
		app.Ul().Body(
			app.Range(flights).Slice(func(i int) app.UI {
				f := flights[i]
				done := 100 * (now - f.SentAt) / max(1, f.At-f.SentAt)
				li := app.Li().Class("flight")
				if groupAPI(f.Envelope) {
					li = li.Class("group-msg")
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
