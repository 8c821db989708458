package ui

import (
	"fmt"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// Timeline is the session's time line: a scrubber over [Start, End] with
// the notable moments marked, what rewinding did, and the share link.
// Releasing the scrubber calls onSeek; the page then replays the seed and
// the action log up to that time.
//
// Contract with the e2e tests: #timeline carries data-now, data-start,
// data-end (virtual Unix ms), data-replaying ("true" while a replay is
// being built), data-actions and data-pending; #scrubber is the range input
// (its value is ms since Start; a "change" event seeks); #share makes the
// link, shown in #share-link.
type Timeline struct {
	app.Compo
	Start, End, Now int64
	Marks           []lab.Mark
	Actions         int // actions applied in the lab shown
	Pending         int // later actions of the timeline, applied as the clock reaches them
	Replaying       bool
	ReplayTo        int64
	Note, Error     string
	ShareURL        string

	// Unexported: see Clock.
	onSeek  func(t int64)
	onShare func(app.Context)

	preview int64 // where the scrubber is while dragged; -1: not dragged
}

// maxShownMarks bounds the marks drawn (the newest), to keep the DOM light.
const maxShownMarks = 300

// at writes a virtual time as the time since the cluster was started.
func at(t int64) string { return "t=" + lab.Duration(t-sim.Epoch) }

// OnMount starts with the scrubber not dragged.
func (c *Timeline) OnMount(app.Context) { c.preview = -1 }

// Render draws the timeline.
func (c *Timeline) Render() app.UI {
	span := max(c.End-c.Start, 1)
	pos := c.Now - c.Start
	if c.preview >= 0 {
		pos = c.preview
	}
	marks := c.Marks[max(0, len(c.Marks)-maxShownMarks):]
	status := fmt.Sprintf("%s of %s · %d actions", at(c.Now), at(c.End), c.Actions)
	switch {
	case c.Replaying:
		status = fmt.Sprintf("Replaying the deterministic core from the seed and the action log… %s of %s", at(c.Now), at(c.ReplayTo))
	case c.preview >= 0:
		status = fmt.Sprintf("Release to rewind to %s", at(c.Start+c.preview))
	case c.Pending > 0:
		status += fmt.Sprintf(" · %d later %s of this timeline replay as the clock reaches them", c.Pending, plural(c.Pending, "action", "actions"))
	}
	return app.Section().ID("timeline").Class("timeline", "card").
		DataSet("now", c.Now).DataSet("start", c.Start).DataSet("end", c.End).DataSet("replaying", c.Replaying).
		DataSet("actions", c.Actions).DataSet("pending", c.Pending).Body(
		app.Div().Class("timeline-head").Body(
			app.H2().Text("Timeline"),
			app.Span().ID("timeline-status").Class("hint").Text(status),
			app.Button().ID("share").Class("secondary").Title("Put a link to this moment of this session in the address bar").
				Text("Copy link").OnClick(func(ctx app.Context, e app.Event) { c.onShare(ctx) }),
		),
		app.Div().Class("timeline-track").Body(
			app.Range(marks).Slice(func(i int) app.UI {
				m := marks[i]
				left := float64(m.At-c.Start) * 100 / float64(span)
				return app.Span().Class("tl-mark", "tl-"+m.Kind).Style("left", fmt.Sprintf("%.2f%%", min(max(left, 0), 100))).
					Title("%s: %s", at(m.At), m.Text)
			}),
			app.Input().ID("scrubber").Type("range").Min(0).Max(span).Step(1).Value(pos).
				Disabled(c.Replaying).Aria("label", "Virtual time of the session").
				OnInput(func(ctx app.Context, e app.Event) { c.preview = scrubValue(ctx) }).
				OnChange(func(ctx app.Context, e app.Event) {
					v := scrubValue(ctx)
					c.preview = -1
					if v >= 0 {
						c.onSeek(c.Start + v)
					}
				}),
		),
		app.P().Class("hint").Text("Dragging back rewinds: the page builds a new cluster from the same seed and replays the action log "+
			"(every produce, kill, restart, group change…) up to that time. The core is deterministic, so it is the same world, not a recording. "+
			"Acting while rewound forks a new timeline; the old one's later actions are dropped."),
		app.If(c.Note != "", func() app.UI { return app.P().ID("timeline-note").Class("note").Text(c.Note) }),
		app.If(c.Error != "", func() app.UI { return app.P().ID("session-error").Class("error").Text(c.Error) }),
		app.If(c.ShareURL != "", func() app.UI {
			return app.Div().Class("share").Body(
				app.Label().For("share-link").Text("Link to this moment (also in the address bar now): "),
				app.Input().ID("share-link").Class("mono").ReadOnly(true).Value(c.ShareURL),
			)
		}),
	)
}

// scrubValue reads the scrubber's position, -1 if it is not a number.
func scrubValue(ctx app.Context) int64 {
	v, err := strconv.ParseInt(ctx.JSSrc().Get("value").String(), 10, 64)
	if err != nil || v < 0 {
		return -1
	}
	return v
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
