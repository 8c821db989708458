package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// ConsumerPanel shows what the consumer has read and where it stands.
type ConsumerPanel struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now int64
}

// Render draws the panel.
func (c *ConsumerPanel) Render() app.UI {
	l := c.Lab
	recs := l.Consumed()
	if len(recs) > 12 {
		recs = recs[len(recs)-12:]
	}
	var positions []app.UI
	for p := int32(0); p < int32(len(l.Partitions())); p++ {
		text := fmt.Sprintf("p%d: not started", p)
		if off, ok := l.Consumer.Position(l.Topic(), p); ok {
			lag, _ := l.Consumer.Lag(l.Topic(), p)
			text = fmt.Sprintf("p%d: position %d, lag %d", p, off, lag)
		}
		positions = append(positions, app.Span().Class("position").Text(text))
	}
	return app.Section().Class("consumer card").Body(
		app.H2().Text("Consumer"),
		app.P().Class("hint").Text("No consumer group yet: it reads every partition from the earliest offset "+
			"(auto.offset.reset=earliest) with long-polling Fetch requests. Position = next offset it will read."),
		app.P().Body(positions...),
		app.Ol().Class("consumed").Body(
			app.Range(recs).Slice(func(i int) app.UI {
				r := recs[len(recs)-1-i]
				return app.Li().Class("consumed-record").
					DataSet("partition", r.Partition).DataSet("offset", r.Offset).DataSet("key", string(r.Key)).
					Text(fmt.Sprintf("partition %d offset %d: %s = %s", r.Partition, r.Offset, showBytes(r.Key), showBytes(r.Value)))
			}),
		),
	)
}
