// Package ui holds Streamlab's go-app components. They read core state and
// events and send commands; they do no I/O. One component per file; words.go
// holds the helpers they share.
package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// frame is how often the page advances the simulated world and redraws.
const frame = 100 * time.Millisecond

// Page is the root component: a single-tab world (a KRaft cluster of three
// brokers, a replicated topic, a producer, a consumer and the learner's
// consumer groups) whose virtual clock
// follows the page's clock.
//
// Contract with the e2e tests: the element #app-ready appears only once the
// WebAssembly app runs and every partition of the topic has a leader. The
// node prerenders this component on the server, so the marker must not be
// in that HTML (hence app.IsClient). Elements the tests read carry stable
// ids and data- attributes (see BrokerCard, ReplicaRow, PartitionTable,
// AckCheck, ConsumerPanel, GroupForm, GroupCard).
type Page struct {
	app.Compo
	lab    *lab.Lab
	paused bool
	speed  int64 // percent of real time
	owed   int64 // virtual ms not run yet (see tick)
	prefs  Prefs
}

// The page's lab: the seed is fixed so that every visitor starts from the
// same cluster; latency is high enough to watch requests travel.
// request.timeout.ms is 10 s rather than Kafka's 30 s: a killed broker in
// the sim loses its requests silently, where a real one's TCP connections
// would reset at once, so clients would wait the whole timeout.
var labConfig = lab.Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000}

// OnMount starts the world and its clock.
func (p *Page) OnMount(ctx app.Context) {
	p.lab = lab.New(labConfig)
	p.speed = 100
	ctx.After(frame, p.tick)
}

// The world advances in steps of at most stepMs virtual ms, and a frame
// stops stepping after frameBudget of wall time: at high speed a busy
// cluster then runs slower than asked rather than blocking the page's main
// thread (Go wasm runs there). What is left over is dropped past maxOwedMs.
const (
	stepMs      = 100
	frameBudget = 25 * time.Millisecond
	maxOwedMs   = 2000
)

func (p *Page) tick(ctx app.Context) {
	if p.lab == nil {
		return
	}
	if !p.paused {
		p.owed = min(p.owed+int64(frame/time.Millisecond)*p.speed/100, maxOwedMs)
		start := time.Now()
		for p.owed > 0 && time.Since(start) < frameBudget {
			step := min(p.owed, stepMs)
			p.lab.Advance(step)
			p.owed -= step
		}
	}
	ctx.After(frame, p.tick)
}

// Render draws the page.
func (p *Page) Render() app.UI {
	if !app.IsClient || p.lab == nil {
		return app.Main().Class("page").Body(
			app.H1().Text("Streamlab"),
			app.P().Class("lede").Text("A Kafka-style event streaming cluster that runs in your browser. Starting three brokers…"),
		)
	}
	l := p.lab
	now, version := l.Now(), l.Version()
	wire := uint64(0)
	if p.prefs.ShowWire {
		wire = l.WireVersion()
	}
	cfg := l.Config()
	parts := l.PartitionViews()
	return app.Main().Class("page").Body(
		app.Header().Class("top").Body(
			app.Div().Class("title").Body(
				app.H1().Text("Streamlab"),
				app.If(l.TopicReady(), func() app.UI {
					return app.Span().ID("app-ready").Class("status").Text(fmt.Sprintf("cluster up: %d brokers, topic %q ready", len(l.BrokerIDs()), cfg.Topic))
				}).Else(func() app.UI {
					return app.Span().Class("status").Text("starting the cluster…")
				}),
			),
			&Clock{Now: now, Paused: p.paused, Speed: p.speed,
				OnPause: func() { p.paused = !p.paused }, OnSkip: l.Skip,
				OnSpeed: func(s int64) { p.speed = s }},
		),
		app.P().Class("lede").Text(fmt.Sprintf("Three brokers form a KRaft cluster, each also a controller voter. Topic %q has %d partitions, "+
			"each on %d brokers (replication factor %d, min.insync.replicas=%d). Produce records, then break a broker: "+
			"the controller fences it and elects new leaders.",
			cfg.Topic, cfg.Partitions, cfg.ReplicationFactor, cfg.ReplicationFactor, cfg.MinInsyncReplicas)),
		app.If(l.AdminError() != nil, func() app.UI {
			return app.P().Class("error").Text("Creating the topic failed: " + errText(l.AdminError()))
		}),
		app.Div().Class("layout").Body(
			app.Div().Class("main-col").Body(
				&ProducerForm{Lab: l, Version: version},
				&Cluster{Lab: l, Version: version, Parts: parts},
				&GroupPanel{Lab: l, Version: version, Now: now / nowStepMs * nowStepMs},
				&PartitionTable{Lab: l, Version: version, Parts: parts},
				&Network{Lab: l, Now: now},
			),
			app.Aside().Class("side-col").Body(
				&AckCheck{Lab: l, Version: version},
				&EventLog{Lab: l, Version: version, Wire: wire, Prefs: &p.prefs},
				&ConsumerPanel{Lab: l, Version: version},
			),
		),
		app.Footer().Class("limits").Body(
			app.P().Text("What is real here: the brokers, the controller quorum (etcd raft), the producer and the consumer are the Streamlab core, "+
				"exchanging Kafka protocol messages (franz-go kmsg) and raft messages over a simulated network with 40–120 ms latency; "+
				"every state and event shown is theirs. Simplified: a killed broker's connections do not reset, so clients wait "+
				"request.timeout.ms (10 s here, Kafka's default is 30 s) before trying elsewhere."),
			app.P().Text(fmt.Sprintf("Consumer groups are the core's group coordinator and consumers; here __consumer_offsets has %d partitions "+
				"(Kafka's offsets.topic.num.partitions is 50) to keep the page light, and each member runs one assignor.", lab.OffsetsTopicPartitions)),
			app.P().Text("Not built yet in this page: rewinding the timeline, links that share a session, several producers, "+
				"lag charts, and multi-tab clusters over WebRTC."),
		),
	)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
