package ui

import (
	"fmt"
	"slices"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/lab"
)

// ProducerForm lets the learner type a record and produce it, choose acks,
// and explains where the key will go, and to which broker, before it is
// sent.
type ProducerForm struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
	key     string
	value   string
	nullKey bool
	bursts  int
	target  string // a named manual producer; "" is the default one
}

// acksChoices are Kafka's acks values, with what each promises.
var acksChoices = []struct {
	acks  client.Acks
	value string
	label string
	help  string
}{
	{client.AcksAll, "all", "acks=all", "the leader answers once every in-sync replica has the record, " +
		"and refuses (NOT_ENOUGH_REPLICAS) while the ISR is smaller than min.insync.replicas; idempotent."},
	{client.AcksLeader, "1", "acks=1", "the leader answers once it appended the record: if it is lost before a follower copied it, " +
		"so is the acknowledged record; not idempotent."},
	{client.AcksNone, "0", "acks=0", "the producer waits for no answer: sent counts as delivered; not idempotent."},
}

// Render draws the form.
func (f *ProducerForm) Render() app.UI {
	l := f.Lab
	acks := l.Acks()
	help := ""
	for _, c := range acksChoices {
		if c.acks == acks {
			help = c.help
		}
	}
	var manual []string
	for _, v := range l.Producers()[1:] {
		if v.Spec.Generator == lab.GenManual {
			manual = append(manual, v.Spec.Name)
		}
	}
	if !slices.Contains(manual, f.target) {
		f.target = "" // removed
	}
	keys := recentKeys(l, 8)
	if l.Strategy() != lab.StrategyDefault {
		keys = nil // the chips show murmur2's choice, which this strategy ignores
	}
	return app.Section().Class("producer card").Body(
		app.H2().Text("Producer"),
		app.Form().OnSubmit(f.produce).Body(
			app.Label().For("key").Text("Key"),
			app.Input().ID("key").Type("text").Value(f.key).Placeholder("user-42").Disabled(f.nullKey).MaxLength(64).
				OnInput(func(ctx app.Context, e app.Event) { f.key = ctx.JSSrc().Get("value").String() }),
			app.Label().For("value").Text("Value"),
			app.Input().ID("value").Type("text").Value(f.value).Placeholder("clicked checkout").MaxLength(200).
				OnInput(func(ctx app.Context, e app.Event) { f.value = ctx.JSSrc().Get("value").String() }),
			app.Label().Class("inline").Body(
				app.Input().ID("null-key").Type("checkbox").Checked(f.nullKey).
					OnChange(func(ctx app.Context, e app.Event) { f.nullKey = ctx.JSSrc().Get("checked").Bool() }),
				app.Text(" null key"),
			),
			app.If(len(manual) > 0, func() app.UI {
				return app.Select().ID("producer-target").Title("client.id: the producer that sends what you type").
					OnChange(func(ctx app.Context, e app.Event) { f.target = ctx.JSSrc().Get("value").String() }).Body(
					app.Option().Value("").Selected(f.target == "").Text("producer: "+lab.DefaultProducerName),
					app.Range(manual).Slice(func(i int) app.UI {
						return app.Option().Value(manual[i]).Selected(manual[i] == f.target).Text("producer: " + manual[i])
					}),
				)
			}),
			app.Select().ID("acks").Disabled(f.target != "").Title("acks: how many replicas must have a record before the producer hears it is stored").
				OnChange(func(ctx app.Context, e app.Event) {
					v := ctx.JSSrc().Get("value").String()
					for _, c := range acksChoices {
						if c.value == v {
							l.SetAcks(c.acks)
						}
					}
				}).Body(
				app.Range(acksChoices).Slice(func(i int) app.UI {
					c := acksChoices[i]
					return app.Option().Value(c.value).Selected(c.acks == acks).Text(c.label)
				}),
			),
			app.Select().ID("partitioner").Title("partitioner.class: how the producer chooses a record's partition").
				OnChange(func(ctx app.Context, e app.Event) { l.SetStrategy(ctx.JSSrc().Get("value").String()) }).Body(
				app.Range(lab.Strategies).Slice(func(i int) app.UI {
					s := lab.Strategies[i]
					return app.Option().Value(s).Selected(s == l.Strategy()).Text("partitioner: " + s)
				}),
			),
			app.Button().ID("produce").Type("submit").Text("Produce"),
			app.Button().ID("produce-10").Type("button").Class("secondary").
				Title("Produce ten records with keys user-0 … user-9").Text("Produce 10").
				OnClick(f.burst),
		),
		app.P().Class("hint mono").ID("partition-hint").Text(f.hint()),
		app.P().Class("hint").ID("acks-hint").Text(fmt.Sprintf("acks=%s: %s Waiting in the producer: %d.", acks, help, l.Producer.Pending())),
		app.If(len(keys) > 0, func() app.UI {
			return app.P().Class("keys").Body(
				app.Span().Class("hint").Text("Keys (same key, same colour, same partition):"),
				app.Range(keys).Slice(func(i int) app.UI {
					k := keys[i]
					bg, fg := keyColor(k)
					return app.Span().Class("key-chip").Style("background", "%s", bg).Style("color", "%s", fg).
						Text(fmt.Sprintf("%s → P%d", showBytes(k), l.PartitionFor(k)))
				}),
			)
		}),
	)
}

// recentKeys are the newest distinct non-null keys acknowledged.
func recentKeys(l *lab.Lab, n int) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	acked := l.Acked()
	for i := len(acked) - 1; i >= 0 && len(out) < n; i-- {
		k := acked[i].Key
		if k == nil || seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		out = append(out, k)
	}
	return out
}

func (f *ProducerForm) hint() string {
	l := f.Lab
	switch l.Strategy() {
	case lab.StrategyRoundRobin:
		return "round-robin (Kafka's RoundRobinPartitioner): keys are ignored, records go to the partitions in turn, so one key's records spread out and lose their order."
	case lab.StrategyByMatch:
		return `by value field "match": a JSON value's "match" field is hashed like a key, so {"match":"m1","goal":1} and every other m1 event land in one partition, key or not; a value without it falls back to the default.`
	}
	if f.nullKey {
		return "A null key is not hashed: the sticky partitioner (KIP-794) keeps filling one partition until batch.size bytes went there, then switches."
	}
	k := []byte(f.key)
	h := client.Murmur2(k)
	p := l.PartitionFor(k)
	s := fmt.Sprintf("murmur2(%q) = %d; & 0x7fffffff = %d; %% %d partitions = partition %d", f.key, h, h&0x7fffffff, l.PartitionCount(), p)
	if leader, epoch := l.Leader(p); leader >= 0 {
		s += fmt.Sprintf(" → its leader, broker %d (leader epoch %d)", leader, epoch)
	} else {
		s += " → no leader right now: the producer will wait and retry"
	}
	return s
}

func (f *ProducerForm) produce(ctx app.Context, e app.Event) {
	e.PreventDefault()
	var key []byte
	if !f.nullKey {
		key = []byte(f.key)
	}
	f.send(key, []byte(f.value))
	f.value = ""
}

func (f *ProducerForm) burst(ctx app.Context, e app.Event) {
	f.bursts++
	for i := range 10 {
		f.send([]byte(fmt.Sprint("user-", i)), []byte(fmt.Sprintf("burst %d #%d", f.bursts, i)))
	}
}

// send hands a record to the chosen producer.
func (f *ProducerForm) send(key, value []byte) {
	if f.target != "" {
		f.Lab.ProduceTo(f.target, key, value)
		return
	}
	f.Lab.Produce(key, value)
}
