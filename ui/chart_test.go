package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// A known series lands where the geometry says: 2 units per second, the
// newest sample at the right edge, 0 to the round maximum (10) over the 100
// units of the plot.
func TestLineChartPoints(t *testing.T) {
	end := int64(1_000_000)
	html := app.HTMLString(lineChart("test", end, []chartLine{{name: "P2", color: "#009E73", points: []lab.Point{
		{Time: end - 2000, Value: 0}, {Time: end - 1000, Value: 5}, {Time: end, Value: 10}}}}))
	for _, want := range []string{
		`points="636,110 638,60 640,10"`, // x = 40 + (t − (end − 300 s)) / 500; y = 110 − 10·v
		`data-series="P2"`, `stroke="#009E73"`,
		`cx="640"`, `cy="10"`, // the dot on the newest point
		`>10</text>`, `>5</text>`, `>0</text>`, // the value axis
		`>−5 min</text>`, `>now</text>`,
		`r="2.5"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("no %s in\n%s", want, html)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[int64]int64{1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 49: 50, 120: 200, 5000: 5000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", v, got, want)
		}
	}
}

// toSample runs the lab to its next sample.
func toSample(l *lab.Lab) {
	l.Advance((l.Now()/lab.MetricsIntervalMs+1)*lab.MetricsIntervalMs - l.Now())
}

// The throughput chart of a real lab: 4 records produced to one partition
// in the newest second show as its current rate, on its line.
func TestThroughputChartOfALab(t *testing.T) {
	l := lab.New(lab.Config{Seed: 3})
	l.MetricsVersion()
	toSample(l)
	toSample(l)
	key := []byte("user-1")
	p := l.PartitionFor(key)
	for range 4 {
		l.Produce(key, []byte("v"))
	}
	toSample(l)
	html := app.HTMLString(&ThroughputChart{Lab: l, Version: l.MetricsVersion()})
	for _, want := range []string{
		`id="throughput-chart"`,
		fmt.Sprintf(`data-series="P%d"`, p),
		`4 records/s`,
		`data-value="4"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("no %s in\n%s", want, html)
		}
	}
	if n := strings.Count(html, "<polyline"); n != int(l.PartitionCount()) {
		t.Errorf("%d lines, want one per partition", n)
	}
}

// A group's name is the learner's text: it reaches the page as text, never
// as markup.
func TestLagChartShowsGroupsAsText(t *testing.T) {
	l := lab.New(lab.Config{Seed: 4})
	name := `<b>x</b>&"`
	if err := l.AddGroup(lab.GroupConfig{Name: name}); err != nil {
		t.Fatal(err)
	}
	l.Produce([]byte("k"), []byte("v"))
	l.MetricsVersion()
	l.Advance(15000) // joined, read, committed (auto commit every 5 s)
	html := app.HTMLString(&LagChart{Lab: l, Version: l.MetricsVersion()})
	// (Attributes are set with setAttribute in the browser; go-app's
	// server-side encoding of them is not used for this page.)
	if !strings.Contains(html, "group.id=&lt;b&gt;x&lt;/b&gt;&amp;&#34;<") || !strings.Contains(html, "<title>&lt;b&gt;x&lt;/b&gt;&amp;&#34;<") {
		t.Errorf("the group's name is not escaped:\n%s", html)
	}
	if !strings.Contains(html, `<polyline`) || !strings.Contains(html, "0 records") {
		t.Errorf("no lag line at 0 records for a group that read everything:\n%s", html)
	}
	open := &LagChart{Lab: l, Version: l.MetricsVersion(), open: name}
	if html := app.HTMLString(open); strings.Count(html, "<polyline") != 1+int(l.PartitionCount()) {
		t.Errorf("an open group shows its total and one line per partition:\n%s", html)
	}
}
