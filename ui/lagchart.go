package ui

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// LagChart is each consumer group's lag over the last 5 virtual minutes,
// Kafka's: high watermark − the group's committed offset, summed over its
// partitions. Choosing a group shows its partitions' lags, with the total
// in bold.
//
// For the e2e tests: the section is #lag-chart; each line is a polyline
// with data-series (the group.id, or P<n> with a group open), each legend
// entry .legend-item with data-series and data-value (-1: no committed
// offset yet); a group's entry is a button that opens it.
type LagChart struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's MetricsVersion (see ThroughputChart).
	Version uint64
	open    string // the group whose partitions are shown, "" for none
}

// Render draws the chart.
func (c *LagChart) Render() app.UI {
	all := c.Lab.Lag()
	var lines []chartLine
	var legend []app.UI
	if ch := c.Lab.GroupLag(c.open); len(ch.Series) > 0 {
		for _, s := range all.Series {
			if s.Name == c.open {
				lines = append(lines, chartLine{name: s.Name, color: "currentColor", bold: true, points: s.Points})
				v, ok := current(s, all.End)
				legend = append(legend, legendItem(s.Name, "group.id="+s.Name+", total", "currentColor", v, ok, "records",
					app.Button().Class("secondary").Title("Back to every group's total lag").Text("all groups").
						OnClick(func(app.Context, app.Event) { c.open = "" })))
			}
		}
		for _, s := range ch.Series {
			color := seriesColor(int(s.Partition))
			lines = append(lines, chartLine{name: s.Name, color: color, points: s.Points})
			v, ok := current(s, ch.End)
			legend = append(legend, legendItem(s.Name, s.Name, color, v, ok, "records"))
		}
	} else {
		for i, s := range all.Series {
			color := seriesColor(i)
			lines = append(lines, chartLine{name: s.Name, color: color, points: s.Points})
			v, ok := current(s, all.End)
			name := s.Name
			legend = append(legend, legendItem(name, "group.id="+name, color, v, ok, "records",
				app.Button().Class("secondary").Title("Show this group's lag per partition").Text("per partition").
					OnClick(func(app.Context, app.Event) { c.open = name })))
		}
	}
	return app.Section().Class("chart-card card").ID("lag-chart").Body(
		app.H2().Text("Consumer lag, per group"),
		app.P().Class("hint").Text("Consumer lag = high watermark − the group's committed offset, per partition, summed over the group: "+
			"the LAG column of kafka-consumer-groups --describe. It follows commits, not reads: with auto commit "+
			"(auto.commit.interval.ms=5000) it falls in steps, and a crashed member's partitions lag until another member takes "+
			"them over. Partitions the group has not committed yet have no lag (the tool prints \"-\") and are left out."),
		app.If(len(all.Series) == 0, func() app.UI {
			return app.P().Class("empty").Text("no consumer group yet: add one above to chart its lag")
		}).Else(func() app.UI {
			return lineChart("Consumer lag of each group, in records", all.End, lines)
		}),
		app.Ul().Class("chart-legend").Body(legend...),
	)
}
