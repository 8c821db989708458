package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// Network lists the messages travelling right now: Kafka requests and
// responses, and the controller quorum's raft messages.
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
	flights := n.Lab.Sim.InFlight()
	more := 0
	if len(flights) > maxFlights {
		more = len(flights) - maxFlights
		flights = flights[:maxFlights]
	}
	now := n.Lab.Now()
	return app.Section().Class("network card").Body(
		app.H2().Text("On the wire"),
		app.P().Class("hint").Text("Every message between the machines, as it travels (40–120 ms). Followers fetch from leaders, "+
			"brokers fetch the metadata log from the controller and heartbeat to it, the voters exchange raft messages."),
		app.If(len(flights) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing in flight")
		}),
		app.Ul().Body(
			app.Range(flights).Slice(func(i int) app.UI {
				f := flights[i]
				done := 100 * (now - f.SentAt) / max(1, f.At-f.SentAt)
				return app.Li().Class("flight").Body(
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
