package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// AckCheck checks Kafka's promise live: every record a producer saw
// acknowledged, looked up at its offset in the current leader's log.
//
// For the e2e tests: #ack-check holds one .ack-line per acks setting with
// data-acks, data-acked, data-present, data-lost, data-unknown and
// data-deleted.
type AckCheck struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
}

// Render draws the check.
func (a *AckCheck) Render() app.UI {
	checks := a.Lab.CheckAcked()
	return app.Section().Class("ack-check card").ID("ack-check").Body(
		app.H2().Text("Acknowledged records"),
		app.If(len(checks) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing acknowledged yet")
		}),
		app.Range(checks).Slice(func(i int) app.UI {
			c := checks[i]
			cls, text := "ok", fmt.Sprintf("acks=%s: %d acknowledged, all in the leaders' logs", c.Acks, c.Acked)
			if n := len(c.Lost); n > 0 {
				cls, text = "bad", fmt.Sprintf("acks=%s: %d acknowledged, %d LOST", c.Acks, c.Acked, n)
			}
			if c.Unknown > 0 {
				text += fmt.Sprintf("; %d in partitions with no leader now", c.Unknown)
			}
			if c.Deleted > 0 {
				text += fmt.Sprintf("; %d deleted by retention", c.Deleted)
			}
			return app.Div().Class("ack-line", cls).DataSet("acks", c.Acks.String()).DataSet("acked", c.Acked).
				DataSet("present", c.Present).DataSet("lost", len(c.Lost)).DataSet("unknown", c.Unknown).DataSet("deleted", c.Deleted).Body(
				app.P().Text(text),
				app.If(len(c.Lost) > 0, func() app.UI {
					lost := c.Lost
					if len(lost) > 5 {
						lost = lost[:5]
					}
					return app.Ul().Class("lost").Body(app.Range(lost).Slice(func(j int) app.UI {
						r := lost[j]
						return app.Li().Text(fmt.Sprintf("%s offset %d: %s = %s", tp(r.Topic, r.Partition), r.Offset, showBytes(r.Key), showBytes(r.Value)))
					}))
				}),
			)
		}),
		app.P().Class("hint").Text("Each record a producer heard acknowledged, looked up at its offset in the current leader's log. "+
			"With acks=all and min.insync.replicas=2, losing one broker loses nothing; try acks=1 and isolate a leader."),
	)
}
