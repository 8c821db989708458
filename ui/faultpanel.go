package ui

import (
	"fmt"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/lab"
)

// FaultPanel breaks the network as a whole: message loss and duplication,
// a split of the brokers in two sides, and the topic's
// unclean.leader.election.enable, each with what a learner should watch.
//
// For the e2e tests: #loss and #duplication are selects of percentages
// ("change"), #side-a-<id> the checkboxes of side A, #partition-brokers
// splits, #heal-network heals every cut, #unclean-election rebuilds the
// cluster with the knob flipped; the panel #fault-panel has data-loss,
// data-duplication and data-unclean.
type FaultPanel struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: a fault is a notable event.
	Version uint64
	// onUnclean rebuilds the lab with unclean.leader.election.enable set
	// (unexported: see Clock).
	onUnclean func(bool)

	sideA map[core.NodeID]bool
}

var faultPcts = []int64{0, 5, 10, 20, 30, 50}

// Render draws the panel.
func (f *FaultPanel) Render() app.UI {
	l := f.Lab
	unclean := l.Config().UncleanLeaderElection
	chosen := 0
	for _, id := range l.BrokerIDs() {
		if f.sideA[id] {
			chosen++
		}
	}
	split := chosen > 0 && chosen < len(l.BrokerIDs())
	return app.Section().ID("fault-panel").Class("fault-panel card").
		DataSet("loss", l.Loss()).DataSet("duplication", l.Duplication()).DataSet("unclean", unclean).Body(
		app.H2().Text("Break the network"),
		app.Div().Class("fault-row").Body(
			app.Label().For("loss").Text("Lose"),
			pctSelect("loss", l.Loss(), l.SetLoss),
			app.Label().For("duplication").Text("of messages · duplicate"),
			pctSelect("duplication", l.Duplication(), l.SetDuplication),
			app.Span().Text("of messages, between every machine"),
		),
		app.P().Class("hint").Text("Watch for: a lost request or response leaves its sender waiting request.timeout.ms (10 s here), "+
			"then it retries — the event log shows the retries, and with acks=all the check of acknowledged records stays green. "+
			"A duplicated Produce is what idempotence is for: the leader knows the batch's producer id and sequence number and "+
			"answers the copy with the first one's offsets, so no record is in the log twice."),
		app.Div().Class("fault-row").Body(
			app.Span().Text("Side A:"),
			app.Range(l.BrokerIDs()).Slice(func(i int) app.UI {
				id := l.BrokerIDs()[i]
				return app.Label().Class("check").Body(
					app.Input().Type("checkbox").ID(fmt.Sprintf("side-a-%d", id)).Checked(f.sideA[id]).
						OnChange(func(ctx app.Context, e app.Event) {
							if f.sideA == nil {
								f.sideA = map[core.NodeID]bool{}
							}
							f.sideA[id] = ctx.JSSrc().Get("checked").Bool()
						}),
					app.Text(fmt.Sprintf(" broker %d", id)),
				)
			}),
			app.Button().ID("partition-brokers").Class("danger").Disabled(!split).
				Title("Cut every link between side A and the other brokers; clients still reach both sides").
				Text("Split from the rest").OnClick(func(app.Context, app.Event) {
				var a []core.NodeID
				for _, id := range l.BrokerIDs() {
					if f.sideA[id] {
						a = append(a, id)
					}
				}
				l.PartitionBrokers(a)
			}),
			app.Button().ID("heal-network").Class("secondary").Title("Heal every cut: isolations and splits").
				Text("Heal all").OnClick(func(app.Context, app.Event) { l.HealAll() }),
		),
		app.P().Class("hint").Text("Watch for: the side with two of the three controller voters keeps (or elects) the active controller; "+
			"brokers on the other side miss their heartbeats and are fenced after broker.session.timeout.ms (9 s), and the partitions "+
			"they led get leaders on the majority side with a higher leader epoch. A cut-off leader still calls itself leader, but "+
			"acks=all cannot complete there (its ISR shrinks below min.insync.replicas). Heal, and it truncates what only it had."),
		app.Div().Class("fault-row").Body(
			app.Label().Class("check").Body(
				app.Input().Type("checkbox").ID("unclean-election").Checked(unclean).
					OnChange(func(ctx app.Context, e app.Event) { f.onUnclean(ctx.JSSrc().Get("checked").Bool()) }),
				app.Text(" unclean.leader.election.enable on the topic"),
			),
		),
		app.P().Class("hint").Text("With it, when every ISR member is down the controller elects any live replica, even one that "+
			"missed acknowledged records: the partition is available again and those records are gone. Kafka can change it on a "+
			"live topic; here it is set when the topic is created, so flipping it builds a new cluster from the same seed and "+
			"replays this session's actions into it."),
	)
}

// pctSelect is a select of faultPcts, calling set with the one picked.
func pctSelect(id string, cur int64, set func(int64)) app.UI {
	return app.Select().ID(id).OnChange(func(ctx app.Context, e app.Event) {
		if n, err := strconv.ParseInt(ctx.JSSrc().Get("value").String(), 10, 64); err == nil {
			set(n)
		}
	}).Body(app.Range(faultPcts).Slice(func(i int) app.UI {
		p := faultPcts[i]
		return app.Option().Value(fmt.Sprint(p)).Selected(p == cur).Text(fmt.Sprintf("%d%%", p))
	}))
}
