package ui

import (
	"fmt"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveProducer produces N records with acks=all from this tab's producer
// and counts what the brokers acknowledged.
//
// For the e2e tests: fields #live-produce-topic, #live-produce-n,
// #live-produce-key, #live-produce-value ("input" events), the button
// #live-produce, and #live-produced with data-sent, data-acked and
// data-failed.
type LiveProducer struct {
	app.Compo
	View      *LiveView
	OnProduce func(ctx app.Context, topic string, n int, key, value string)

	topic string
	n     string
	key   string
	value string
}

// OnInit sets the defaults.
func (p *LiveProducer) OnInit() { p.n, p.value = "100", "hello" }

// firstTopic is the first topic that is not internal, "" if none.
func firstTopic(v *LiveView) string {
	if topics := userTopics(v); len(topics) > 0 {
		return topics[0].Name
	}
	return ""
}

// check reads the fields when called: go-app keeps a handler's first
// closure across renders, so handlers must not capture render-time values.
func (p *LiveProducer) check() (topic string, n int, ok bool) {
	topic = p.topic
	if topic == "" {
		topic = firstTopic(p.View)
	}
	n, err := strconv.Atoi(p.n)
	return topic, n, topic != "" && err == nil && n >= 1 && n <= 100000
}

// Render draws the form and the counts.
func (p *LiveProducer) Render() app.UI {
	v := p.View
	topic, _, ok := p.check()
	field := func(id, label, value, placeholder string, set func(string)) app.UI {
		return app.Label().For(id).Body(
			app.Text(label+" "),
			app.Input().ID(id).Type("text").Value(value).Placeholder(placeholder).MaxLength(64).
				OnInput(func(ctx app.Context, e app.Event) { set(ctx.JSSrc().Get("value").String()) }),
		)
	}
	return app.Section().Class("card live-producer").Body(
		app.H2().Text("Producer (acks=all)"),
		app.Form().OnSubmit(func(ctx app.Context, e app.Event) {
			e.PreventDefault()
			if topic, n, ok := p.check(); ok && p.OnProduce != nil {
				p.OnProduce(ctx, topic, n, p.key, p.value)
			}
		}).Body(
			field("live-produce-topic", "topic", topic, "orders", func(s string) { p.topic = s }),
			field("live-produce-n", "records", p.n, "100", func(s string) { p.n = s }),
			field("live-produce-key", "key", p.key, "empty: null key", func(s string) { p.key = s }),
			field("live-produce-value", "value", p.value, "hello", func(s string) { p.value = s }),
			app.Button().ID("live-produce").Type("submit").Disabled(!ok).Text("Produce"),
		),
		app.P().Class("hint").Text("Values are value-0, value-1…; a null key spreads records over partitions (sticky partitioner), a key sends all to one (murmur2). "+
			"acks=all: the leader answers once every in-sync replica has the record, and refuses while the ISR is below min.insync.replicas."),
		app.P().ID("live-produced").Class("live-counts").
			DataSet("sent", v.Sent).DataSet("acked", v.Acked).DataSet("failed", v.Failed).
			Text(fmt.Sprintf("sent %d · acknowledged %d · failed %d", v.Sent, v.Acked, v.Failed)),
		app.If(v.LastFailure != "", func() app.UI { return app.P().Class("error").Text("last failure: " + v.LastFailure) }),
	)
}
