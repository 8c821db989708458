package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Clock shows the simulated time and lets the learner pause it, step to the
// next event, slow it down, speed it up or skip ahead (retention.ms defaults
// to 7 days: skipping a week shows old segments being deleted).
type Clock struct {
	app.Compo
	Now    int64
	Paused bool
	Speed  int64 // percent of real time

	// The callbacks are unexported: go-app compares a child's exported
	// fields to decide whether to redraw it, and two funcs never compare
	// equal. They are set when the clock is mounted and must not depend
	// on anything that changes later (the page's lab does: read it then).
	onPause func()
	onStep  func()
	onSkip  func(ms int64)
	onSpeed func(int64)
}

const day = 24 * 60 * 60 * 1000

// speeds are the choices, in percent of real time. At high speed the page's
// frame budget caps the work per frame: a busy cluster then runs slower
// than asked rather than freezing the page.
var speeds = []struct {
	pct   int64
	label string
}{{1, "0.01× speed"}, {10, "0.1× speed"}, {25, "¼× speed"}, {100, "1× speed"}, {300, "3× speed"}, {1000, "10× speed"}, {10000, "100× speed"}}

// Render draws the clock bar.
func (c *Clock) Render() app.UI {
	label := "Pause"
	if c.Paused {
		label = "Resume"
	}
	return app.Div().Class("clock").Body(
		app.Span().ID("clock").Title("Virtual time of the simulated cluster").
			Text(time.UnixMilli(c.Now).UTC().Format("2006-01-02 15:04:05.0")+" UTC"),
		app.Button().ID("pause").Title("Keyboard: space").Text(label).OnClick(func(app.Context, app.Event) { c.onPause() }),
		app.Button().ID("step").Class("secondary").Title("Pause, then run until the next thing happens: a message sent or delivered, or a notable event (keyboard: →)").
			Text("Step").OnClick(func(app.Context, app.Event) { c.onStep() }),
		app.Select().ID("speed").Title("Simulation speed").OnChange(func(ctx app.Context, e app.Event) {
			var s int64
			fmt.Sscan(ctx.JSSrc().Get("value").String(), &s)
			if s > 0 {
				c.onSpeed(s)
			}
		}).Body(
			app.Range(speeds).Slice(func(i int) app.UI {
				return app.Option().Value(fmt.Sprint(speeds[i].pct)).Selected(c.Speed == speeds[i].pct).Text(speeds[i].label)
			}),
		),
		app.Button().ID("skip-day").Class("secondary").Title("Jump every clock one day ahead: the controller sees no heartbeat for a day and fences the brokers until they heartbeat again").
			Text("Skip 1 day").OnClick(func(app.Context, app.Event) { c.onSkip(day) }),
		app.Button().ID("skip-week").Class("secondary").Title("Jump past retention.ms (7 days): old segments are deleted on every replica").
			Text("Skip 7 days").OnClick(func(app.Context, app.Event) { c.onSkip(7 * day) }),
	)
}
