package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// BrokerCard is one broker: its state (live, fenced, paused, crashed), its
// controller voter, the buttons that break it, and the replicas it holds.
//
// For the e2e tests: the card is #broker-<id> with data-state and
// data-controller ("active" or "voter"); the buttons are
// #kill-broker-<id> / #restart-broker-<id>, #pause-broker-<id> /
// #resume-broker-<id>, #isolate-broker-<id> / #heal-broker-<id> and
// #slow-broker-<id> / #unslow-broker-<id>.
type BrokerCard struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
	View    lab.BrokerView
	Parts   []lab.PartitionView
}

// slowMs is the latency SlowBroker adds.
const slowMs = 800

// window is how many of a replica's newest records are drawn.
const window = 9

var stateHelp = map[lab.BrokerState]string{
	lab.BrokerLive:    "live: registered with the controller, heartbeating, unfenced: it may lead partitions",
	lab.BrokerFenced:  "fenced: the controller got no heartbeat for broker.session.timeout.ms (9 s), or the broker has not caught up with the metadata log yet; it leads nothing and is in no ISR (unless it was the last member)",
	lab.BrokerPaused:  "paused: the process is stopped (like SIGSTOP or a long GC pause); messages to it wait",
	lab.BrokerCrashed: "crashed: the process is gone; its disk is kept, shown greyed as it was at the crash",
}

// Render draws the card.
func (b *BrokerCard) Render() app.UI {
	v := b.View
	id := v.ID
	l := b.Lab
	down := v.State == lab.BrokerCrashed
	role := "voter"
	if v.ActiveController {
		role = "active"
	}
	return app.Div().Class("broker-card", "state-"+string(v.State)).ID(fmt.Sprintf("broker-%d", id)).
		DataSet("state", string(v.State)).DataSet("controller", role).DataSet("isolated", v.Isolated).Body(
		app.Div().Class("broker-head").Body(
			app.H3().Class("inspectable").Title("Inspect this broker").Text(fmt.Sprintf("Broker %d", id)).
				OnClick(func(ctx app.Context, _ app.Event) { inspect(ctx, Inspected{What: "broker", Broker: id}) }, app.EventScope(id)),
			app.Span().Class("state-chip", "chip-"+string(v.State)).Title("%s", stateHelp[v.State]).Text(string(v.State)),
			app.If(v.ActiveController, func() app.UI {
				return app.Span().Class("crown").Title("The active controller: the raft leader of the controller quorum. It keeps the metadata log: brokers, partition leaders, ISRs.").
					Text("♛ controller")
			}).ElseIf(v.Voter, func() app.UI {
				return app.Span().Class("voter").Title("A controller quorum voter (process.roles=broker,controller): it keeps a copy of the metadata log and votes in controller elections.").
					Text("voter")
			}),
		),
		app.P().Class("broker-sub").Body(
			app.Text(b.subline()),
		),
		app.Div().Class("actions").Body(
			app.If(down, func() app.UI {
				return app.Button().ID(fmt.Sprintf("restart-broker-%d", id)).Title("Start the process again from its disk: it recovers its logs, registers, catches up and rejoins the ISRs").
					Text("Restart").OnClick(func(app.Context, app.Event) { l.RestartBroker(id) })
			}).Else(func() app.UI {
				return app.Button().ID(fmt.Sprintf("kill-broker-%d", id)).Class("danger").Title("kill -9 the broker: requests to it are lost; after broker.session.timeout.ms (9 s) the controller fences it and elects new leaders").
					Text("Kill").OnClick(func(app.Context, app.Event) { l.KillBroker(id) })
			}),
			app.If(v.State == lab.BrokerPaused, func() app.UI {
				return app.Button().ID(fmt.Sprintf("resume-broker-%d", id)).Class("secondary").Text("Resume").
					OnClick(func(app.Context, app.Event) { l.ResumeBroker(id) })
			}).Else(func() app.UI {
				return app.Button().ID(fmt.Sprintf("pause-broker-%d", id)).Class("secondary").Disabled(down).
					Title("Stop the process without killing it (SIGSTOP, a long GC pause)").Text("Pause").
					OnClick(func(app.Context, app.Event) { l.PauseBroker(id) })
			}),
			app.If(v.Isolated, func() app.UI {
				return app.Button().ID(fmt.Sprintf("heal-broker-%d", id)).Class("secondary").Text("Heal").
					Title("Reconnect it with the other brokers").
					OnClick(func(app.Context, app.Event) { l.Heal(id) })
			}).Else(func() app.UI {
				return app.Button().ID(fmt.Sprintf("isolate-broker-%d", id)).Class("secondary").Disabled(down).
					Title("Cut the network between this broker and the other brokers; the producer and the consumer still reach it").
					Text("Isolate").OnClick(func(app.Context, app.Event) { l.Isolate(id) })
			}),
			app.If(v.SlowMs > 0, func() app.UI {
				return app.Button().ID(fmt.Sprintf("unslow-broker-%d", id)).Class("secondary").Text("Normal speed").
					OnClick(func(app.Context, app.Event) { l.SlowBroker(id, 0) })
			}).Else(func() app.UI {
				return app.Button().ID(fmt.Sprintf("slow-broker-%d", id)).Class("secondary").Disabled(down).
					Title("Add %d ms to every message to and from this broker", slowMs).Text("Slow").
					OnClick(func(app.Context, app.Event) { l.SlowBroker(id, slowMs) })
			}),
		),
		app.Div().Class("replicas").Body(
			app.Range(b.Parts).Slice(func(i int) app.UI {
				pv := b.Parts[i]
				rv := pv.Brokers[int(id)-1]
				return &ReplicaRow{Topic: l.Topic(), Replica: rv, Partition: pv.Partition,
					ControllerLeader: pv.Leader, Records: l.ReplicaRecords(id, pv.Partition, window)}
			}),
		),
	)
}

func (b *BrokerCard) subline() string {
	v := b.View
	s := "not registered yet"
	if v.Registered {
		s = fmt.Sprintf("broker epoch %d", v.Epoch)
	}
	if v.Voter {
		s += fmt.Sprintf(" · raft term %d", v.ControllerEpoch)
		if v.BelievesLeader && !v.ActiveController {
			s += " · still believes it leads the quorum"
		}
	}
	if v.Isolated {
		s += " · cut off from the other brokers"
	}
	if v.SlowMs > 0 {
		s += fmt.Sprintf(" · +%d ms on every message", v.SlowMs)
	}
	return s
}
