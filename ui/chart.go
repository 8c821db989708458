package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// The line chart ThroughputChart and LagChart share: the metrics window
// (the last lab.MetricsKeep virtual seconds) across, 0 to a round maximum
// up. SVG elements need their namespace, so each is made by svgElem.

const svgNS = "http://www.w3.org/2000/svg"

func svgElem(tag string) app.HTMLElem { return app.Elem(tag).XMLNS(svgNS) }

// Geometry in SVG user units: 2 units per virtual second, so the samples
// (whole seconds) fall on whole units.
const (
	chartPadL, chartPadR, chartPadT, chartPadB = 40, 10, 10, 18
	chartPlotW, chartPlotH                     = 600, 100
	chartW                                     = chartPadL + chartPlotW + chartPadR
	chartH                                     = chartPadT + chartPlotH + chartPadB
	chartSpanMs                                = lab.MetricsKeep * lab.MetricsIntervalMs
)

// chartLine is one line: data-series names it for the tests.
type chartLine struct {
	name, color string
	bold        bool // a group's total among its partitions
	points      []lab.Point
}

// lineChart draws lines over the window that ends at end (the newest
// sample), with the value axis, a mark every minute, and a dot at each
// line's newest point. label describes it for screen readers.
func lineChart(label string, end int64, lines []chartLine) app.UI {
	top := int64(1)
	for _, ln := range lines {
		for _, p := range ln.points {
			top = max(top, p.Value)
		}
	}
	top = niceCeil(top)
	x := func(t int64) int64 { return chartPadL + (t-(end-chartSpanMs))*chartPlotW/chartSpanMs }
	y := func(v int64) string { return coord(chartPadT + chartPlotH - float64(v)*chartPlotH/float64(top)) }
	var body []app.UI
	marks := []int64{0, top}
	if top%2 == 0 {
		marks = append(marks, top/2) // 1 has no whole half
	}
	for _, v := range marks {
		body = append(body,
			svgElem("line").Class("grid").Attr("x1", chartPadL).Attr("x2", chartPadL+chartPlotW).Attr("y1", y(v)).Attr("y2", y(v)),
			svgElem("text").Class("axis").Attr("x", chartPadL-4).Attr("y", y(v)).Attr("dy", "0.35em").Attr("text-anchor", "end").Text(v))
	}
	for m := int64(0); m <= chartSpanMs/60000; m++ {
		tx := chartPadL + m*60000*chartPlotW/chartSpanMs
		text := fmt.Sprintf("−%d min", chartSpanMs/60000-m)
		if tx == chartPadL+chartPlotW {
			text = "now"
		}
		body = append(body,
			svgElem("line").Class("tick").Attr("x1", tx).Attr("x2", tx).Attr("y1", chartPadT+chartPlotH).Attr("y2", chartPadT+chartPlotH+4),
			svgElem("text").Class("axis").Attr("x", tx).Attr("y", chartH-3).Attr("text-anchor", anchor(m, chartSpanMs/60000)).Text(text))
	}
	for _, ln := range lines {
		if len(ln.points) == 0 {
			continue
		}
		pts := make([]string, len(ln.points))
		for i, p := range ln.points {
			pts[i] = strconv.FormatInt(x(p.Time), 10) + "," + y(p.Value)
		}
		last := ln.points[len(ln.points)-1]
		cls := "line"
		if ln.bold {
			cls = "line bold"
		}
		body = append(body,
			svgElem("polyline").Class(cls).DataSet("series", ln.name).Attr("stroke", ln.color).Attr("points", strings.Join(pts, " ")).Body(
				svgElem("title").Text(ln.name)),
			svgElem("circle").Class("dot").Attr("cx", x(last.Time)).Attr("cy", y(last.Value)).Attr("r", "2.5").Attr("fill", ln.color))
	}
	return svgElem("svg").Class("chart").Attr("viewBox", fmt.Sprintf("0 0 %d %d", chartW, chartH)).
		Attr("role", "img").Aria("label", label).Body(body...)
}

// anchor keeps the first and last time labels inside the chart.
func anchor(i, n int64) string {
	switch i {
	case 0:
		return "start"
	case n:
		return "end"
	}
	return "middle"
}

// niceCeil is the smallest 1, 2 or 5 times a power of ten at least v.
func niceCeil(v int64) int64 {
	for base := int64(1); ; base *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*base >= v {
				return m * base
			}
		}
	}
}

// coord formats a coordinate to a tenth of a unit.
func coord(v float64) string { return strconv.FormatFloat(float64(int64(v*10+0.5))/10, 'f', -1, 64) }

// seriesColor is the i-th line's colour: the palette without its black,
// which a dark background would hide.
func seriesColor(i int) string { return palette[i%(len(palette)-1)][0] }

// current is a series' value at the newest sample, ok false if it has
// none there (a group that has not committed yet).
func current(s lab.Series, end int64) (int64, bool) {
	if n := len(s.Points); n > 0 && s.Points[n-1].Time == end {
		return s.Points[n-1].Value, true
	}
	return 0, false
}

// legendItem is a line's colour, label and newest value (unit after it;
// "–" if it has none), then extra.
func legendItem(series, label, color string, v int64, ok bool, unit string, extra ...app.UI) app.UI {
	value := "–"
	if ok {
		value = fmt.Sprintf("%d %s", v, unit)
	} else {
		v = -1
	}
	return app.Li().Class("legend-item").DataSet("series", series).DataSet("value", v).Body(append([]app.UI{
		app.Span().Class("swatch").Style("background", color),
		app.Span().Class("series-name").Text(label),
		app.Span().Class("series-value").Text(value),
	}, extra...)...)
}
