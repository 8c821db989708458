package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// Network lists the Kafka messages travelling right now.
type Network struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now int64
}

// Render draws the messages in flight.
func (n *Network) Render() app.UI {
	flights := n.Lab.Sim.InFlight()
	now := n.Lab.Now()
	return app.Section().Class("network card").Body(
		app.H2().Text("On the wire"),
		app.If(len(flights) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing in flight")
		}),
		app.Ul().Body(
			app.Range(flights).Slice(func(i int) app.UI {
				f := flights[i]
				done := 100 * (now - f.SentAt) / max(1, f.At-f.SentAt)
				return app.Li().Class("flight").Body(
					app.Span().Text(fmt.Sprintf("%s → %s: %s", nodeName(f.Envelope.From), nodeName(f.Envelope.To), message(f.Envelope))),
					app.Progress().Max(100).Value(done),
				)
			}),
		),
	)
}
