package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// ThroughputChart is records/s appended to each partition's leader over the
// last 5 virtual minutes, one line per partition, with each partition's
// rate in the newest second.
//
// For the e2e tests: the section is #throughput-chart; each line is a
// polyline with data-series="P<n>", each legend entry .legend-item with
// data-series and data-value (records/s at the newest sample).
type ThroughputChart struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's MetricsVersion: go-app redraws a child only
	// when one of its exported fields changes, and this changes only with
	// a new sample.
	Version uint64
}

// Render draws the chart.
func (c *ThroughputChart) Render() app.UI {
	ch := c.Lab.Throughput()
	lines := make([]chartLine, len(ch.Series))
	for i, s := range ch.Series {
		lines[i] = chartLine{name: s.Name, color: seriesColor(int(s.Partition)), points: s.Points}
	}
	return app.Section().Class("chart-card card").ID("throughput-chart").Body(
		app.H2().Text("Throughput, records/s per partition"),
		app.P().Class("hint").Text(fmt.Sprintf("Records appended to each partition's leader per second of virtual time: the rise of its "+
			"log end offset, sampled every second (Kafka's MessagesInPerSec, per partition). The last %d virtual minutes.",
			lab.MetricsKeep*lab.MetricsIntervalMs/60000)),
		app.If(ch.End == 0, func() app.UI {
			return app.P().Class("empty").Text("sampling starts…")
		}).Else(func() app.UI {
			return lineChart("Records per second appended to each partition", ch.End, lines)
		}),
		app.Ul().Class("chart-legend").Body(
			app.Range(ch.Series).Slice(func(i int) app.UI {
				s := ch.Series[i]
				v, ok := current(s, ch.End)
				return legendItem(s.Name, s.Name, seriesColor(int(s.Partition)), v, ok, "records/s")
			}),
		),
	)
}
