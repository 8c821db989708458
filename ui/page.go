// Package ui holds Streamlab's go-app components. They read core state and
// events and send commands; they do no I/O. One component per file.
package ui

import (
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// frame is how often the page advances the simulated world and redraws.
const frame = 100 * time.Millisecond

// Page is the root component: a single-tab world (one broker, a topic with
// three partitions, a producer and a consumer) whose virtual clock follows the
// page's clock.
//
// Contract with the e2e tests: the element #app-ready appears only once the
// WebAssembly app runs and the broker has created the topic. The node
// prerenders this component on the server, so the marker must not be in that
// HTML (hence app.IsClient).
type Page struct {
	app.Compo
	lab    *lab.Lab
	paused bool
	speed  int64 // virtual ms per real ms, as a multiplier
}

// OnMount starts the world and its clock.
func (p *Page) OnMount(ctx app.Context) {
	p.lab = lab.New(lab.Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120})
	p.speed = 1
	ctx.After(frame, p.tick)
}

func (p *Page) tick(ctx app.Context) {
	if p.lab == nil {
		return
	}
	if !p.paused {
		p.lab.Advance(int64(frame/time.Millisecond) * p.speed)
	}
	ctx.After(frame, p.tick)
}

// Render draws the page.
func (p *Page) Render() app.UI {
	if !app.IsClient || p.lab == nil {
		return app.Main().Class("page").Body(
			app.H1().Text("Streamlab"),
			app.P().Class("lede").Text("A Kafka-style event streaming broker that runs in your browser. Loading the broker…"),
		)
	}
	l := p.lab
	return app.Main().Class("page").Body(
		app.Header().Class("top").Body(
			app.H1().Text("Streamlab"),
			&Clock{Now: l.Now(), Paused: p.paused, Speed: p.speed,
				OnPause: func() { p.paused = !p.paused }, OnSkip: l.Skip,
				OnSpeed: func(s int64) { p.speed = s }},
		),
		app.P().Class("lede").Text("One Kafka broker runs inside this tab. Topic \""+l.Topic()+
			"\" has three partitions. Type a record and produce it: the producer picks the partition with Kafka's murmur2 "+
			"partitioner, sends a real Produce request to broker 1, which appends it at the next offset; the consumer fetches it."),
		app.If(l.TopicReady(), func() app.UI {
			return app.Span().ID("app-ready").Class("status").Text("Broker 1 is up; topic created.")
		}),
		app.If(l.AdminError() != nil, func() app.UI {
			return app.P().Class("error").Text("Creating the topic failed: " + errText(l.AdminError()))
		}),
		&ProducerForm{Lab: l, Now: l.Now()},
		app.Section().Class("partitions").Body(
			app.H2().Text("Partitions of \""+l.Topic()+"\" on broker 1"),
			app.Range(l.Partitions()).Slice(func(i int) app.UI {
				info := l.Partitions()[i]
				return &PartitionLane{Info: info, Records: l.Records(info.Partition, 24)}
			}),
		),
		&ConsumerPanel{Lab: l, Now: l.Now()},
		&Network{Lab: l, Now: l.Now()},
		&EventLog{Lab: l, Now: l.Now()},
		app.Footer().Class("limits").Body(
			app.P().Text("What is real here: the broker, producer and consumer are the Streamlab core, exchanging Kafka "+
				"protocol messages (franz-go kmsg) over a simulated network with 40–120 ms latency. Not built yet: "+
				"replication, consumer groups, idempotence, transactions, compaction, multi-tab clusters."),
		),
	)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
