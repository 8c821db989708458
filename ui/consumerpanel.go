package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// ConsumerPanel shows what the group-less consumer has read and where it
// stands.
type ConsumerPanel struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
}

// Render draws the panel.
func (c *ConsumerPanel) Render() app.UI {
	l := c.Lab
	recs := l.Consumed()
	if len(recs) > 8 {
		recs = recs[len(recs)-8:]
	}
	var positions []app.UI
	for p := int32(0); p < l.PartitionCount(); p++ {
		text := fmt.Sprintf("P%d –", p)
		if off, ok := l.Consumer.Position(l.Topic(), p); ok {
			lag, _ := l.Consumer.Lag(l.Topic(), p)
			text = fmt.Sprintf("P%d @%d lag %d", p, off, lag)
		}
		positions = append(positions, app.Span().Class("position").DataSet("partition", p).Text(text))
	}
	return app.Section().Class("consumer card").Body(
		app.H2().Text("Consumer"),
		app.P().Class("hint").Text("It reads every partition from the earliest offset (auto.offset.reset=earliest) with long-polling Fetch "+
			"requests to each leader, and only below the high watermark. @ = position, the next offset it will read. "+
			"It has no group.id: it assigns itself every partition and commits nothing (see Consumer groups)."),
		app.P().Class("positions").Body(positions...),
		app.Ol().Class("consumed").Body(
			app.Range(recs).Slice(func(i int) app.UI {
				r := recs[len(recs)-1-i]
				return app.Li().Class("consumed-record").
					DataSet("partition", r.Partition).DataSet("offset", r.Offset).DataSet("key", string(r.Key)).
					Text(fmt.Sprintf("P%d offset %d: %s = %s", r.Partition, r.Offset, showBytes(r.Key), showBytes(r.Value)))
			}),
		),
	)
}
