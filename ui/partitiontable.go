package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// PartitionTable is the topic as the active controller's metadata log
// describes it: each partition's leader, leader epoch, replicas and ISR,
// with the leader's high watermark and log end offset.
//
// For the e2e tests: each row is #partition-<n> with data-leader,
// data-epoch, data-isr ("1,2,3") and data-hw.
type PartitionTable struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
}

// Render draws the table.
func (t *PartitionTable) Render() app.UI {
	l := t.Lab
	minISR := l.Config().MinInsyncReplicas
	parts := l.PartitionViews()
	return app.Section().Class("partition-table card").Body(
		app.H2().Text(fmt.Sprintf("Topic %q, as the controller's metadata says", l.Topic())),
		app.Table().Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("Partition"),
				app.Th().Title("The replica producers and consumers talk to").Text("Leader"),
				app.Th().Title("Bumped by every leader election; a replica with an older epoch is refused (FENCED_LEADER_EPOCH)").Text("Leader epoch"),
				app.Th().Title("The brokers that hold a copy, preferred leader first").Text("Replicas"),
				app.Th().Title("In-sync replicas: caught up with the leader").Text("ISR"),
				app.Th().Title("High watermark on the leader: consumers read below it").Text("HW"),
				app.Th().Title("Log end offset on the leader").Text("LEO"),
				app.Th().Text(""),
			)),
			app.TBody().Body(
				app.Range(parts).Slice(func(i int) app.UI {
					pv := parts[i]
					leader, hw, leo := "none", "–", "–"
					if pv.Leader >= 0 {
						leader = fmt.Sprintf("broker %d", pv.Leader)
						for _, r := range pv.Brokers {
							if int32(r.Broker) == pv.Leader && r.Holds && !r.Down {
								hw, leo = fmt.Sprint(r.HighWatermark), fmt.Sprint(r.LogEndOffset)
							}
						}
					}
					note := ""
					switch {
					case pv.Leader < 0 && len(pv.Replicas) > 0:
						note = "no leader: produce and fetch wait for one"
					case len(pv.ISR) < minISR:
						note = fmt.Sprintf("ISR below min.insync.replicas=%d: acks=all is refused (NOT_ENOUGH_REPLICAS)", minISR)
					case len(pv.ISR) < len(pv.Replicas):
						note = "under-replicated"
					}
					return app.Tr().ID(fmt.Sprintf("partition-%d", pv.Partition)).Class(rowClass(pv, minISR)).
						DataSet("leader", pv.Leader).DataSet("epoch", pv.LeaderEpoch).DataSet("isr", join(pv.ISR)).DataSet("hw", hw).Body(
						app.Td().Class("inspectable").Title("Inspect this partition").Text(fmt.Sprintf("P%d", pv.Partition)).
							OnClick(func(ctx app.Context, _ app.Event) {
								inspect(ctx, Inspected{What: "partition", Partition: pv.Partition})
							}, app.EventScope(pv.Partition)),
						app.Td().Text(leader),
						app.Td().Text(pv.LeaderEpoch),
						app.Td().Text(ids(pv.Replicas)),
						app.Td().Text(ids(pv.ISR)),
						app.Td().Text(hw),
						app.Td().Text(leo),
						app.Td().Class("note").Text(note),
					)
				}),
			),
		),
	)
}

func rowClass(pv lab.PartitionView, minISR int) string {
	switch {
	case pv.Leader < 0 || len(pv.ISR) < minISR:
		return "bad"
	case len(pv.ISR) < len(pv.Replicas):
		return "warn"
	}
	return "ok"
}

func join(v []int32) string {
	s := make([]string, len(v))
	for i, id := range slices.Sorted(slices.Values(v)) {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}
