package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Clock shows the simulated time and lets the learner pause it, slow it down
// or skip ahead (retention.ms defaults to 7 days: skipping a week shows old
// segments being deleted).
type Clock struct {
	app.Compo
	Now     int64
	Paused  bool
	Speed   int64
	OnPause func()
	OnSkip  func(ms int64)
	OnSpeed func(int64)
}

const day = 24 * 60 * 60 * 1000

// Render draws the clock bar.
func (c *Clock) Render() app.UI {
	label := "Pause"
	if c.Paused {
		label = "Resume"
	}
	return app.Div().Class("clock").Body(
		app.Span().ID("clock").Title("Virtual time of the simulated cluster").
			Text(time.UnixMilli(c.Now).UTC().Format("2006-01-02 15:04:05.0")+" UTC"),
		app.Button().ID("pause").Text(label).OnClick(func(app.Context, app.Event) { c.OnPause() }),
		app.Select().ID("speed").Title("Simulation speed").OnChange(func(ctx app.Context, e app.Event) {
			var s int64
			fmt.Sscan(ctx.JSSrc().Get("value").String(), &s)
			if s > 0 {
				c.OnSpeed(s)
			}
		}).Body(
			app.Option().Value("1").Selected(c.Speed == 1).Text("1× speed"),
			app.Option().Value("10").Selected(c.Speed == 10).Text("10× speed"),
		),
		app.Button().ID("skip-day").Title("Jump the clock one day ahead").Text("Skip 1 day").
			OnClick(func(app.Context, app.Event) { c.OnSkip(day) }),
		app.Button().ID("skip-week").Title("Jump past retention.ms (7 days): old segments are deleted").Text("Skip 7 days").
			OnClick(func(app.Context, app.Event) { c.OnSkip(7 * day) }),
	)
}
