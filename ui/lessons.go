package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// Lessons guides the learner through short lessons (lessontext.go). A step
// is ticked when its check holds in the lab, whatever the learner clicked:
// the panel only reads state.
//
// For the e2e tests: #lessons (data-open), #lessons-open / #lessons-close,
// #lesson-pick-<n> (1-based), #lesson-prev / #lesson-next, and each step
// #lesson-step-<i> (1-based) with data-done and data-current.
type Lessons struct {
	app.Compo
	Lab *lab.Lab
	// Version and Now (in steps of nowStepMs): go-app redraws a child only
	// when one of its exported fields changes, and a check may start to
	// hold with the clock alone (a session timing out).
	Version uint64
	Now     int64

	open     bool
	cur      int
	progress map[int]*lab.Progress // by lesson, on Lab (a rewind's new lab starts over)
}

// track is the progress of the current lesson on the current lab.
func (c *Lessons) track() *lab.Progress {
	pr := c.progress[c.cur]
	if pr == nil || pr.Lab() != c.Lab {
		if c.progress == nil {
			c.progress = map[int]*lab.Progress{}
		}
		pr = lab.NewProgress(c.Lab, lessons[c.cur].checks())
		c.progress[c.cur] = pr
	}
	return pr
}

// Render draws the panel.
func (c *Lessons) Render() app.UI {
	if !c.open {
		return app.Section().Class("lessons card").ID("lessons").DataSet("open", false).Body(
			app.Div().Class("lessons-head").Body(
				app.H2().Text("Lessons"),
				app.Button().ID("lessons-open").Text("Open the lessons").OnClick(func(app.Context, app.Event) { c.open = true }),
			),
			app.P().Class("hint").Text(fmt.Sprintf("%d short lessons: producers, partitions, offsets, replicas, the ISR, "+
				"consumer groups and rebalances, each step checked on this cluster.", len(lessons))),
		)
	}
	ls := lessons[c.cur]
	done := c.track().Update()
	return app.Section().Class("lessons card").ID("lessons").DataSet("open", true).Body(
		app.Div().Class("lessons-head").Body(
			app.H2().Text("Lessons"),
			app.Button().ID("lessons-close").Class("secondary").Text("Close").OnClick(func(app.Context, app.Event) { c.open = false }),
		),
		app.Ol().Class("lesson-list").Body(
			app.Range(lessons).Slice(func(i int) app.UI {
				return app.Li().Body(
					app.Button().ID(fmt.Sprintf("lesson-pick-%d", i+1)).Class("link").Title("%s", lessons[i].title).
						DataSet("current", i == c.cur).Text(fmt.Sprint(i + 1)).OnClick(func(app.Context, app.Event) { c.cur = i }),
				)
			}),
		),
		app.H3().ID("lesson-title").Text(fmt.Sprintf("%d. %s", c.cur+1, ls.title)),
		app.P().Class("lesson-intro").Text(ls.intro),
		app.Ol().Class("lesson-steps").Body(
			app.Range(ls.steps).Slice(func(i int) app.UI {
				s := ls.steps[i]
				state := "todo"
				switch {
				case i < done:
					state = "done"
				case i == done:
					state = "current"
				}
				return app.Li().ID(fmt.Sprintf("lesson-step-%d", i+1)).Class("lesson-step", "step-"+state).
					DataSet("done", i < done).DataSet("current", i == done).Body(
					app.Span().Class("step-mark").Text(map[string]string{"done": "✓", "current": "→", "todo": "·"}[state]),
					app.Div().Body(
						app.P().Class("step-do").Text(s.do),
						app.P().Class("step-watch").Text("Watch: "+s.watch),
					),
				)
			}),
		),
		app.If(done == len(ls.steps), func() app.UI {
			return app.P().Class("lesson-done").Text("Lesson done.")
		}),
		app.Div().Class("lesson-nav").Body(
			app.If(c.cur > 0, func() app.UI {
				return app.Button().ID("lesson-prev").Class("secondary").Text("← Previous").
					OnClick(func(app.Context, app.Event) { c.cur-- })
			}),
			app.If(c.cur < len(lessons)-1, func() app.UI {
				return app.Button().ID("lesson-next").Class("secondary").Text("Next lesson →").
					OnClick(func(app.Context, app.Event) { c.cur++ })
			}),
		),
	)
}
