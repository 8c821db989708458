package ui

import (
	"fmt"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LiveTopics is each topic as the metadata this tab's broker applied
// describes it: per partition the leader, leader epoch, replicas and ISR,
// this broker's replica's high watermark and log end offset, and every
// replica's, as each broker last shared them.
//
// For the e2e tests: each row is #live-partition-<topic>-<n> with
// data-leader, data-epoch, data-isr ("1,2,3"), data-hw and data-leo (this
// tab's replica), and data-leos ("1:400,2:400,3:?", every replica's LEO, ?
// where unknown).
type LiveTopics struct {
	app.Compo
	View *LiveView
}

// Render draws a table per topic.
func (t *LiveTopics) Render() app.UI {
	v := t.View
	topics := userTopics(v)
	internal := len(v.Topics) - len(topics) // __consumer_offsets: the group coordinators' log
	return app.Section().Class("card live-topics").ID("live-topics").Body(
		app.H2().Text("Topics"),
		app.If(len(topics) == 0, func() app.UI { return app.P().Class("hint").Text("No topic yet: create one below.") }),
		app.Range(topics).Slice(func(i int) app.UI {
			tp := topics[i]
			mir := tp.MinISR
			if mir == "" {
				mir = "1 (default)"
			}
			return app.Div().Class("live-topic").Body(
				app.H3().Text(fmt.Sprintf("%s · min.insync.replicas=%s", tp.Name, mir)),
				app.Table().Body(
					app.THead().Body(app.Tr().Body(
						app.Th().Text("Partition"),
						app.Th().Title("The replica producers and consumers talk to").Text("Leader"),
						app.Th().Title("Bumped by every leader election").Text("Leader epoch"),
						app.Th().Title("The brokers that hold a copy, preferred leader first").Text("Replicas"),
						app.Th().Title("In-sync replicas: caught up with the leader").Text("ISR"),
						app.Th().Title("High watermark of this tab's replica: on the leader, what consumers may read").Text("HW here"),
						app.Th().Title("Log end offset of this tab's replica").Text("LEO here"),
						app.Th().Title("Every replica's log end offset / high watermark, as each broker shared them (every second): "+
							"followers trail the leader's LEO until they fetch, and learn the HW from the leader's next answer").Text("Each replica: LEO / HW"),
					)),
					app.TBody().Body(app.Range(tp.Partitions).Slice(func(j int) app.UI {
						p := tp.Partitions[j]
						leader := "none"
						if p.Reg.Leader >= 0 {
							leader = fmt.Sprintf("broker %d", p.Reg.Leader)
						}
						hw, leo := "–", "–"
						if p.HW >= 0 {
							hw, leo = fmt.Sprint(p.HW), fmt.Sprint(p.LEO)
						}
						var leos []string
						var each []app.UI
						for _, id := range p.Reg.Replicas {
							leo, hw, why := v.replicaOffsets(core.NodeID(id), tp.Name, p)
							if why != "" {
								leos = append(leos, fmt.Sprintf("%d:?", id))
								each = append(each, app.Span().Class("replica-offsets unknown").Title(why).Text(fmt.Sprintf("b%d ?", id)))
								continue
							}
							leos = append(leos, fmt.Sprintf("%d:%d", id, leo))
							each = append(each, app.Span().Class("replica-offsets").Text(fmt.Sprintf("b%d %d/%d", id, leo, hw)))
						}
						class := "ok"
						switch {
						case p.Reg.Leader < 0:
							class = "bad"
						case len(p.Reg.ISR) < len(p.Reg.Replicas):
							class = "warn"
						}
						return app.Tr().ID(fmt.Sprintf("live-partition-%s-%d", tp.Name, p.Partition)).Class(class).
							DataSet("leader", p.Reg.Leader).DataSet("epoch", p.Reg.LeaderEpoch).
							DataSet("isr", join(p.Reg.ISR)).DataSet("hw", p.HW).DataSet("leo", p.LEO).DataSet("leos", strings.Join(leos, ",")).Body(
							app.Td().Text(fmt.Sprintf("P%d", p.Partition)),
							app.Td().Text(leader),
							app.Td().Text(p.Reg.LeaderEpoch),
							app.Td().Text(ids(p.Reg.Replicas)),
							app.Td().Text(ids(p.Reg.ISR)),
							app.Td().Text(hw),
							app.Td().Text(leo),
							app.Td().Class("mono").Body(each...),
						)
					})),
				),
			)
		}),
		app.If(internal > 0, func() app.UI {
			return app.P().Class("hint").Text("Not shown: __consumer_offsets, where the group coordinators keep groups and committed offsets.")
		}),
	)
}
