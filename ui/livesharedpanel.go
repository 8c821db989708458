package ui

import (
	"fmt"
	"slices"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveSharedPanel is every broker as its own member says it is: each tab
// (and the node) shares its broker with its peers every second, so this
// tab shows how each broker sees itself, how many replicas it holds and
// leads, and the producer and consumer run beside it — not only what this
// broker's metadata says.
//
// For the e2e tests: the panel is #live-shared; each broker is
// #live-shared-<id> with data-state ("live", "fenced", "unregistered",
// "killed", "unknown"), data-replicas, data-leads, data-group and
// data-read.
type LiveSharedPanel struct {
	app.Compo
	View *LiveView
}

// sharedRow is one broker's line.
type sharedRow struct {
	id                 int32
	self               bool
	state, age         string
	replicas, leads    int
	producer, consumer string
	group              string
	read               int
}

// Render draws the table.
func (p *LiveSharedPanel) Render() app.UI {
	rows := p.rows()
	return app.Section().Class("card live-shared").ID("live-shared").Body(
		app.H2().Text("Every broker, as it shares itself"),
		app.P().Class("hint").Text("Each member shares its broker with its peers every second: how it sees itself, the offsets of its replicas "+
			"(the topics table shows them) and the clients its tab runs. Kafka has no such protocol — a follower's log end offset is "+
			"known to its leader and to metrics — so this is what a dashboard scraping every broker would show; it changes nothing in the cluster."),
		app.Table().Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("Broker"),
				app.Th().Title("Its registration as the broker itself knows it").Text("It says"),
				app.Th().Title("Replicas it holds (__consumer_offsets included), and how many of them it leads").Text("Replicas (leads)"),
				app.Th().Text("Producer in its tab"),
				app.Th().Text("Consumer in its tab"),
				app.Th().Title("When its member last shared it").Text("Shared"),
			)),
			app.TBody().Body(app.Range(rows).Slice(func(i int) app.UI {
				r := rows[i]
				name := fmt.Sprintf("broker %d", r.id)
				if r.self {
					name += " (this tab)"
				}
				return app.Tr().ID(fmt.Sprintf("live-shared-%d", r.id)).
					DataSet("state", r.state).DataSet("replicas", r.replicas).DataSet("leads", r.leads).
					DataSet("group", r.group).DataSet("read", r.read).Body(
					app.Td().Text(name),
					app.Td().Body(app.Span().Class("state-chip", "chip-"+chip(r.state)).Text(r.state)),
					app.Td().Text(fmt.Sprintf("%d (%d)", r.replicas, r.leads)),
					app.Td().Text(r.producer),
					app.Td().Text(r.consumer),
					app.Td().Text(r.age),
				)
			})),
		),
	)
}

func chip(state string) string {
	switch state {
	case "live":
		return "live"
	case "killed":
		return "crashed"
	}
	return "fenced"
}

// rows are this tab's broker and every broker heard, by id.
func (p *LiveSharedPanel) rows() []sharedRow {
	v := p.View
	self := sharedRow{id: int32(v.ID), self: true, state: registration(v.Registered, v.Fenced), age: "now", producer: "–", consumer: "–"}
	for _, t := range v.Topics {
		for _, part := range t.Partitions {
			if part.LEO >= 0 && slices.Contains(part.Reg.Replicas, int32(v.ID)) {
				self.replicas++
				if part.Reg.Leader == int32(v.ID) {
					self.leads++
				}
			}
		}
	}
	if v.Sent > 0 || v.Acked > 0 || v.Failed > 0 {
		self.producer = producerText(v.Sent, v.Acked, v.Failed)
	}
	if v.Group != "" {
		self.consumer, self.group, self.read = consumerText(v.Group, v.Topic, v.Assignment, v.Read), v.Group, v.Read
	}
	rows := []sharedRow{self}
	for _, sh := range v.Shared {
		r := sharedRow{id: int32(sh.Broker), state: registration(sh.BrokerEpoch >= 0, sh.Fenced), producer: "–", consumer: "–",
			age: fmt.Sprintf("%.0f s ago", float64(sh.AgeMs)/1000)}
		switch {
		case sh.Killed:
			r.state = "killed"
		case sh.AgeMs > sharedStaleMs:
			r.state = "unknown"
		}
		for _, rep := range sh.Replicas {
			r.replicas++
			if rep.Leader {
				r.leads++
			}
		}
		if pr := sh.Producer; pr != nil {
			r.producer = producerText(pr.Sent, pr.Acked, pr.Failed)
		}
		if c := sh.Consumer; c != nil {
			r.consumer, r.group, r.read = consumerText(c.Group, c.Topic, c.Assignment, c.Read), c.Group, c.Read
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b sharedRow) int { return int(a.id - b.id) })
	return rows
}

func registration(registered, fenced bool) string {
	switch {
	case !registered:
		return "unregistered"
	case fenced:
		return "fenced"
	}
	return "live"
}

func producerText(sent, acked, failed int) string {
	return fmt.Sprintf("sent %d · acked %d · failed %d", sent, acked, failed)
}

func consumerText(group, topic string, assignment []int32, read int) string {
	return fmt.Sprintf("group %s on %s · partitions %v · read %d", group, topic, assignment, read)
}
