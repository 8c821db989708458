package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveConsumer starts this tab's consumer group member and shows its
// assignment and what it read.
//
// For the e2e tests: fields #live-group and #live-consume-topic ("input"
// events), the button #live-consume, and #live-consumer with data-group,
// data-read (distinct records read) and data-assignment ("0,2").
type LiveConsumer struct {
	app.Compo
	View    *LiveView
	OnStart func(ctx app.Context, group, topic string)

	group string
	topic string
}

// OnInit sets the defaults.
func (c *LiveConsumer) OnInit() { c.group = "readers" }

// Render draws the form, or the running member.
func (c *LiveConsumer) Render() app.UI {
	v := c.View
	if v.Group == "" {
		topic := c.consumeTopic()
		return app.Section().Class("card live-consumer").Body(
			app.H2().Text("Consumer group member"),
			app.Form().OnSubmit(func(ctx app.Context, e app.Event) {
				e.PreventDefault()
				// Read now: go-app keeps a handler's first closure.
				if topic := c.consumeTopic(); c.group != "" && topic != "" && c.OnStart != nil {
					c.OnStart(ctx, c.group, topic)
				}
			}).Body(
				app.Label().For("live-group").Body(app.Text("group.id "),
					app.Input().ID("live-group").Type("text").Value(c.group).MaxLength(40).
						OnInput(func(ctx app.Context, e app.Event) { c.group = ctx.JSSrc().Get("value").String() })),
				app.Label().For("live-consume-topic").Body(app.Text("topic "),
					app.Input().ID("live-consume-topic").Type("text").Value(topic).MaxLength(64).
						OnInput(func(ctx app.Context, e app.Event) { c.topic = ctx.JSSrc().Get("value").String() })),
				app.Button().ID("live-consume").Type("submit").Disabled(c.group == "" || topic == "").Text("Start a member in this tab"),
			),
			app.P().Class("hint").Text("Members of one group.id in several tabs share the partitions; it starts from the committed offsets, or the earliest."),
		)
	}
	return app.Section().Class("card live-consumer").ID("live-consumer").
		DataSet("group", v.Group).DataSet("read", v.Read).DataSet("assignment", join(v.Assignment)).Body(
		app.H2().Text(fmt.Sprintf("Consumer of group %q", v.Group)),
		app.P().Class("live-counts").Text(fmt.Sprintf("read %d distinct records of %s · assigned %s", v.Read, v.Topic, assignedText(v))),
		app.Ol().Class("consumed").Body(
			app.Range(v.LastRead).Slice(func(i int) app.UI {
				r := v.LastRead[len(v.LastRead)-1-i]
				return app.Li().Class("consumed-record").DataSet("partition", r.Partition).DataSet("offset", r.Offset).
					Text(fmt.Sprintf("P%d offset %d: %s = %s", r.Partition, r.Offset, showBytes(r.Key), showBytes(r.Value)))
			}),
		),
	)
}

func (c *LiveConsumer) consumeTopic() string {
	if c.topic != "" {
		return c.topic
	}
	return firstTopic(c.View)
}

func assignedText(v *LiveView) string {
	if len(v.Assignment) == 0 {
		return "nothing yet (joining the group)"
	}
	return tps(v.Topic, v.Assignment)
}
