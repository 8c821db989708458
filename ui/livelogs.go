package ui

import (
	"fmt"
	"slices"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/controller"
	"github.com/streamlab/streamlab/core/lab"
)

// LiveLogs draws every broker's logs with the single-tab page's ReplicaRow:
// per topic, a card per broker with its replica of each partition — role,
// leader epoch, ISR membership, the newest records coloured by key, the
// high watermark and the log end offset — as the broker last shared it
// (p2p/gossip, every second), this tab's own as it is now. The ISR and the
// leader are those of the metadata this tab's broker applied.
//
// For the e2e tests: a broker's card is #live-log-<topic>-<id> with
// data-heard ("now", "late", "killed" or "never"); its rows are
// ReplicaRow's .replica and .record.
type LiveLogs struct {
	app.Compo
	View *LiveView
}

// Render draws the cards.
func (l *LiveLogs) Render() app.UI {
	v := l.View
	topics := userTopics(v)
	if len(topics) == 0 {
		return app.Div()
	}
	return app.Section().Class("card live-logs").ID("live-logs").Body(
		app.H2().Text("Every broker's log"),
		app.P().Class("hint").Text("Each broker shares its replicas with the other members every second: "+
			"their offsets and newest records. A follower's log trails its leader's until it fetches, and its high watermark "+
			"until the leader's next answer."),
		logLegend(),
		app.Range(topics).Slice(func(i int) app.UI {
			tp := topics[i]
			return app.Div().Class("live-log-topic").Body(
				app.H3().Text(tp.Name),
				app.Div().Class("brokers").Body(app.Range(v.Brokers).Slice(func(j int) app.UI {
					return l.card(tp, v.Brokers[j].ID)
				})),
			)
		}),
	)
}

// card is broker id's replicas of tp.
func (l *LiveLogs) card(tp LiveTopic, id int32) app.UI {
	v := l.View
	sh, heard := l.shared(id)
	var rows []app.UI
	for _, p := range tp.Partitions {
		if !slices.Contains(p.Reg.Replicas, id) {
			continue
		}
		rv := lab.ReplicaView{Broker: core.NodeID(id), Leader: p.Reg.Leader, InISR: slices.Contains(p.Reg.ISR, id)}
		var recs []broker.StoredRecord
		if i := slices.IndexFunc(sh.Replicas, func(r LiveReplica) bool { return r.Topic == tp.Name && r.Partition == p.Partition }); i >= 0 {
			r := sh.Replicas[i]
			rv.Holds, rv.Down, rv.LeaderEpoch = true, heard != "now", r.LeaderEpoch
			rv.LogStartOffset, rv.HighWatermark, rv.LogEndOffset = r.LogStart, r.HW, r.LEO
			rv.Role = "follower"
			if r.Leader {
				rv.Role = "leader"
			}
			for _, rec := range r.Tail {
				recs = append(recs, broker.StoredRecord{Offset: rec.Offset, Key: rec.Key, Value: rec.Value})
			}
		}
		rows = append(rows, &ReplicaRow{Topic: tp.Name, Partition: p.Partition, Replica: rv, ControllerLeader: p.Reg.Leader, Records: recs})
	}
	state, help := "live", "registered and unfenced in the metadata"
	if i := slices.IndexFunc(v.Brokers, func(b controller.Broker) bool { return b.ID == id }); i >= 0 && v.Brokers[i].Fenced {
		state, help = "fenced", "fenced in the metadata: it leads nothing and is in no ISR"
	}
	switch heard {
	case "killed":
		state, help = "crashed", "killed by the room's teacher: it shares nothing until it is restarted"
	case "late":
		help += fmt.Sprintf("; not heard for %.0f s: its tab may be closed or cut off (drawn as last shared)", float64(sh.AgeMs)/1000)
	case "never":
		help += "; it has shared nothing with this tab yet"
	}
	me := ""
	if id == int32(v.ID) {
		me = " (this tab)"
	}
	return app.Div().Class("broker-card", "state-"+state).ID(fmt.Sprintf("live-log-%s-%d", tp.Name, id)).DataSet("heard", heard).Body(
		app.Div().Class("broker-head").Body(
			app.H3().Text(fmt.Sprintf("Broker %d%s", id, me)),
			app.Span().Class("state-chip", "chip-"+state).Title("%s", help).Text(state),
		),
		app.Div().Class("replicas").Body(rows...),
	)
}

// shared is broker id as it last shared itself, and how fresh that is:
// "now", "late" (older than sharedStaleMs), "killed" or "never".
func (l *LiveLogs) shared(id int32) (LiveShared, string) {
	v := l.View
	if id == int32(v.ID) {
		return v.Self, "now"
	}
	i := slices.IndexFunc(v.Shared, func(s LiveShared) bool { return int32(s.Broker) == id })
	switch {
	case i < 0:
		return LiveShared{}, "never"
	case v.Shared[i].Killed:
		return v.Shared[i], "killed"
	case v.Shared[i].AgeMs > sharedStaleMs:
		return v.Shared[i], "late"
	}
	return v.Shared[i], "now"
}
