package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/lab"
)

// ProducerList lists the producers (the default one first) with their
// configuration in Kafka's config names, their rate and what became of
// their records, and adds and removes named producers.
//
// For the e2e tests: each row is .producer-row with data-name, data-acks,
// data-retries (as it took effect), data-generator, data-rate, data-sent,
// data-acked and data-failed; a named producer's rate field is
// #producer-rate-<name> (changed on "change"), its remove button
// #producer-remove-<name>. The add form's fields are #np-name, #np-acks,
// #np-retries (empty for Kafka's default), #np-idempotence,
// #np-partitioner, #np-generator and #np-rate, its button #np-add, a
// refusal #np-error.
type ProducerList struct {
	app.Compo
	Lab *lab.Lab
	// Now is the lab's clock, rounded: the counters move with it.
	Now int64

	name        string
	acks        string
	retries     string // as typed: "" is Kafka's default
	idempotence client.Idempotence
	partitioner string
	generator   string
	rate        int64
	err         string
}

// idempotenceChoices are enable.idempotence's values, unset first.
var idempotenceChoices = []struct {
	v     client.Idempotence
	label string
}{
	{client.IdempotenceDefault, "(unset: true if acks=all and retries≠0)"},
	{client.IdempotenceOn, "true"},
	{client.IdempotenceOff, "false"},
}

func (f *ProducerList) OnInit() {
	f.acks, f.partitioner, f.generator, f.rate = "all", lab.StrategyDefault, lab.GenMatchEvents, 5
}

// Render draws the list and the form.
func (f *ProducerList) Render() app.UI {
	l := f.Lab
	views := l.Producers()
	for n := len(views); f.name == ""; n++ { // the first free producer-n
		f.name = fmt.Sprintf("producer-%d", n)
		for _, v := range views {
			if v.Spec.Name == f.name {
				f.name = ""
			}
		}
	}
	return app.Section().Class("producers card").ID("producers").Body(
		app.H2().Text("Producers"),
		app.Table().Class("producer-table").Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("client.id"), app.Th().Text("acks"), app.Th().Text("retries"), app.Th().Text("enable.idempotence"),
				app.Th().Text("partitioner.class"), app.Th().Text("records"), app.Th().Text("rate (records/s)"),
				app.Th().Text("sent / acked / failed"), app.Th(),
			)),
			app.TBody().Body(app.Range(views).Slice(func(i int) app.UI { return f.row(views[i]) })),
		),
		f.form(len(views)-1),
		app.If(f.err != "", func() app.UI { return app.P().ID("np-error").Class("error").Text(f.err) }),
		app.P().Class("hint").Text("retries defaults to 2147483647 (Integer.MAX_VALUE), so delivery.timeout.ms (120000) bounds the retries instead; "+
			"with retries=0 a batch fails at its first error: kill a leader and watch the failed count grow (at most once). "+
			"enable.idempotence=true needs acks=all and retries≠0: Kafka refuses it otherwise; left unset, it is true only with both. "+
			"Scenario records are keyed by match id or user id, so murmur2 keeps each match's events in one partition, in order."),
	)
}

func (f *ProducerList) row(v lab.ProducerView) app.UI {
	s := v.Spec
	generator := s.Generator
	if v.Default {
		generator = "manual (the form above)"
	}
	var rate, remove app.UI = app.Text("–"), app.Text("")
	if !v.Default {
		name := s.Name
		remove = app.Button().ID("producer-remove-" + name).Type("button").Class("secondary").Text("Remove").
			Title("close(): the producer sends what it holds, then stops").
			OnClick(func(ctx app.Context, e app.Event) { f.Lab.RemoveProducer(name) })
		if s.Generator != lab.GenManual {
			rate = app.Input().ID("producer-rate-" + name).Type("number").Min(0).Max(lab.MaxRate).Value(s.Rate).
				OnChange(func(ctx app.Context, e app.Event) {
					if r, err := strconv.ParseInt(ctx.JSSrc().Get("value").String(), 10, 64); err == nil {
						f.Lab.SetRate(name, min(max(r, 0), lab.MaxRate))
					}
				})
		}
	}
	idem := fmt.Sprint(v.Idempotent)
	if s.Idempotence == client.IdempotenceDefault && !v.Default {
		idem += " (unset)"
	}
	st := v.Stats
	name := s.Name
	if n, ok := lab.ProducerNumber(v.ID); ok {
		name += fmt.Sprintf(" (#%d)", n) // how the event log and the wire name it
	}
	return app.Tr().Class("producer-row").DataSet("name", s.Name).DataSet("acks", s.Acks.String()).DataSet("retries", v.Retries).
		DataSet("generator", s.Generator).
		DataSet("rate", s.Rate).DataSet("sent", st.Sent).DataSet("acked", st.Acked).DataSet("failed", st.Failed).Body(
		app.Td().Class("mono").Text(name), app.Td().Text(s.Acks.String()), app.Td().Class("mono").Text(v.Retries), app.Td().Text(idem),
		app.Td().Text(s.Partitioner), app.Td().Text(generator), app.Td().Body(rate),
		app.Td().Class("mono").Text(fmt.Sprintf("%d / %d / %d", st.Sent, st.Acked, st.Failed)),
		app.Td().Body(remove),
	)
}

func (f *ProducerList) form(named int) app.UI {
	full := named >= lab.MaxProducers
	str := func(p *string) func(app.Context, app.Event) {
		return func(ctx app.Context, e app.Event) { *p = ctx.JSSrc().Get("value").String() }
	}
	return app.Form().Class("group-form producer-add").OnSubmit(f.add).Body(
		field("client.id", "The producer's name", app.Input().ID("np-name").Type("text").Value(f.name).MaxLength(32).OnInput(str(&f.name))),
		field("acks", "How many replicas must have a record before the producer hears it is stored",
			app.Select().ID("np-acks").OnChange(str(&f.acks)).Body(
				app.Range(acksChoices).Slice(func(i int) app.UI {
					c := acksChoices[i]
					return app.Option().Value(c.value).Selected(c.value == f.acks).Text(c.value)
				}))),
		field("retries", "How many times a batch that failed with a retriable error is sent again before the producer gives up; "+
			"0 gives up at the first error (at most once). Empty is Kafka's default, 2147483647",
			app.Input().ID("np-retries").Type("number").Min(0).Max(math.MaxInt32).Value(f.retries).
				Placeholder("default 2147483647").OnInput(str(&f.retries))),
		field("enable.idempotence", "Producer id and sequence numbers on each batch: a retried batch is written once, in order",
			app.Select().ID("np-idempotence").OnChange(func(ctx app.Context, e app.Event) {
				v, _ := strconv.Atoi(ctx.JSSrc().Get("value").String())
				f.idempotence = client.Idempotence(v)
			}).Body(
				app.Range(idempotenceChoices).Slice(func(i int) app.UI {
					c := idempotenceChoices[i]
					return app.Option().Value(int(c.v)).Selected(c.v == f.idempotence).Text(c.label)
				}))),
		field("partitioner.class", "How the producer chooses a record's partition",
			app.Select().ID("np-partitioner").OnChange(str(&f.partitioner)).Body(
				app.Range(lab.Strategies).Slice(func(i int) app.UI {
					s := lab.Strategies[i]
					return app.Option().Value(s).Selected(s == f.partitioner).Text(s)
				}))),
		field("records", "Typed by you, or made by a built-in scenario at a rate on the virtual clock",
			app.Select().ID("np-generator").OnChange(str(&f.generator)).Body(
				app.Range(lab.Generators).Slice(func(i int) app.UI {
					g := lab.Generators[i]
					return app.Option().Value(g).Selected(g == f.generator).Text(g)
				}))),
		field("rate", "Records per virtual second (scenarios only)",
			app.Input().ID("np-rate").Type("number").Min(0).Max(lab.MaxRate).Value(f.rate).
				OnInput(func(ctx app.Context, e app.Event) {
					f.rate, _ = strconv.ParseInt(ctx.JSSrc().Get("value").String(), 10, 64)
				})),
		app.Button().ID("np-add").Type("submit").Disabled(full).Text("Add producer"),
	)
}

func (f *ProducerList) add(ctx app.Context, e app.Event) {
	e.PreventDefault()
	acks, err := client.ParseAcks(f.acks)
	retries := 0 // Kafka's default
	if t := strings.TrimSpace(f.retries); t != "" && err == nil {
		retries, err = strconv.Atoi(t)
		switch {
		case err != nil || retries < 0:
			err = fmt.Errorf("retries %q: a whole number from 0 to %d", t, math.MaxInt32)
		case retries == 0:
			retries = -1 // the spec's spelling of Kafka's retries=0
		}
	}
	if err == nil {
		err = f.Lab.AddProducer(lab.ProducerSpec{Name: f.name, Acks: acks, Retries: retries, Idempotence: f.idempotence,
			Partitioner: f.partitioner, Generator: f.generator, Rate: f.rate})
	}
	f.err = errText(err)
	if err == nil {
		f.name = ""
	}
}
