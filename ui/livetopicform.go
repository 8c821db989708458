package ui

import (
	"fmt"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveTopicForm creates a topic with an admin client (CreateTopics to the
// active controller): name, partitions, replication factor up to the
// brokers alive, min.insync.replicas.
//
// For the e2e tests: fields #live-topic-name, #live-topic-partitions,
// #live-topic-rf, #live-topic-minisr ("input" events) and the button
// #live-create-topic.
type LiveTopicForm struct {
	app.Compo
	Alive    int // unfenced brokers in the metadata
	OnCreate func(ctx app.Context, name string, partitions int32, rf int16, minISR int)

	name       string
	partitions string
	rf         string
	minISR     string
}

// OnInit sets the defaults.
func (f *LiveTopicForm) OnInit() {
	f.name, f.partitions, f.minISR = "orders", "3", "2"
}

// check reads the fields: what to create, or the problem with them.
func (f *LiveTopicForm) check() (rf string, parts int32, r int16, m int, problem string) {
	rf = f.rf
	if rf == "" {
		rf = strconv.Itoa(max(1, min(3, f.Alive)))
	}
	pn, perr := strconv.Atoi(f.partitions)
	rn, rerr := strconv.Atoi(rf)
	m, merr := strconv.Atoi(f.minISR)
	switch {
	case f.name == "":
		problem = "name the topic"
	case perr != nil || pn < 1 || pn > 64:
		problem = "partitions: 1 to 64"
	case rerr != nil || rn < 1:
		problem = "replication factor: at least 1"
	case rn > f.Alive:
		problem = fmt.Sprintf("replication factor %d > %d broker(s) alive: the controller would refuse it (INVALID_REPLICATION_FACTOR)", rn, f.Alive)
	case merr != nil || m < 1:
		problem = "min.insync.replicas: at least 1"
	case m > rn:
		problem = fmt.Sprintf("min.insync.replicas=%d > replication factor %d: acks=all could never succeed", m, rn)
	}
	return rf, int32(pn), int16(rn), m, problem
}

// Render draws the form. Its handlers read the fields when they run:
// go-app keeps a handler's first closure across renders.
func (f *LiveTopicForm) Render() app.UI {
	rf, _, _, _, problem := f.check()
	field := func(id, label, value string, set func(string)) app.UI {
		return app.Label().For(id).Body(
			app.Text(label+" "),
			app.Input().ID(id).Type("text").Value(value).MaxLength(40).
				OnInput(func(ctx app.Context, e app.Event) { set(ctx.JSSrc().Get("value").String()) }),
		)
	}
	return app.Section().Class("card live-topic-form").Body(
		app.H2().Text("Create a topic"),
		app.Form().OnSubmit(func(ctx app.Context, e app.Event) {
			e.PreventDefault()
			if _, parts, r, m, problem := f.check(); problem == "" && f.OnCreate != nil {
				f.OnCreate(ctx, f.name, parts, r, m)
			}
		}).Body(
			field("live-topic-name", "name", f.name, func(s string) { f.name = s }),
			field("live-topic-partitions", "partitions", f.partitions, func(s string) { f.partitions = s }),
			field("live-topic-rf", "replication factor", rf, func(s string) { f.rf = s }),
			field("live-topic-minisr", "min.insync.replicas", f.minISR, func(s string) { f.minISR = s }),
			app.Button().ID("live-create-topic").Type("submit").Disabled(problem != "").Text("Create topic"),
		),
		app.If(problem != "", func() app.UI { return app.P().Class("hint warn").Text(problem) }),
		app.P().Class("hint").Text("An admin client in this tab sends CreateTopics; the controller places the replicas on the unfenced brokers "+
			"and writes the topic to the metadata log, which every broker then applies."),
	)
}
