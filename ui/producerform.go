package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/lab"
)

// ProducerForm lets the learner type a record and produce it, and explains
// where the key will go before it is sent.
type ProducerForm struct {
	app.Compo
	Lab *lab.Lab
	// Now is the virtual time; go-app redraws a child only when one of its
	// exported fields changes, so it makes every frame redraw.
	Now     int64
	key     string
	value   string
	nullKey bool
}

// Render draws the form.
func (f *ProducerForm) Render() app.UI {
	return app.Section().Class("producer card").Body(
		app.H2().Text("Producer"),
		app.Form().OnSubmit(f.produce).Body(
			app.Label().For("key").Text("Key"),
			app.Input().ID("key").Type("text").Value(f.key).Placeholder("user-42").Disabled(f.nullKey).
				OnInput(func(ctx app.Context, e app.Event) { f.key = ctx.JSSrc().Get("value").String() }),
			app.Label().For("value").Text("Value"),
			app.Input().ID("value").Type("text").Value(f.value).Placeholder("clicked checkout").
				OnInput(func(ctx app.Context, e app.Event) { f.value = ctx.JSSrc().Get("value").String() }),
			app.Label().Class("inline").Body(
				app.Input().ID("null-key").Type("checkbox").Checked(f.nullKey).
					OnChange(func(ctx app.Context, e app.Event) { f.nullKey = ctx.JSSrc().Get("checked").Bool() }),
				app.Text(" null key"),
			),
			app.Button().ID("produce").Type("submit").Text("Produce"),
		),
		app.P().Class("hint").ID("partition-hint").Text(f.hint()),
		app.P().Class("hint").Text(fmt.Sprintf("acks=%s, linger.ms=5. Records waiting in the producer: %d.",
			f.Lab.Producer.Config().Acks, f.Lab.Producer.Pending())),
	)
}

func (f *ProducerForm) hint() string {
	if f.nullKey {
		return "A null key is not hashed: the sticky partitioner (KIP-794) keeps filling one partition until batch.size bytes went there, then switches."
	}
	k := []byte(f.key)
	h := client.Murmur2(k)
	return fmt.Sprintf("murmur2(%q) = %d; & 0x7fffffff = %d; %% 3 partitions = partition %d",
		f.key, h, h&0x7fffffff, f.Lab.PartitionFor(k))
}

func (f *ProducerForm) produce(ctx app.Context, e app.Event) {
	e.PreventDefault()
	var key []byte
	if !f.nullKey {
		key = []byte(f.key)
	}
	f.Lab.Produce(key, []byte(f.value))
	f.value = ""
}
