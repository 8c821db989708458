package ui

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// GroupPanel is the consumer groups: a short explanation, the form that
// adds a group, and a card per group.
type GroupPanel struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version; Now the virtual time in steps of
	// nowStepMs, for the highlights of a rebalance to fade. go-app redraws
	// a child only when one of its exported fields changes.
	Version uint64
	Now     int64
}

// nowStepMs is how finely GroupPanel follows the clock.
const nowStepMs = 500

// Render draws the panel.
func (p *GroupPanel) Render() app.UI {
	groups := p.Lab.Groups()
	return app.Section().Class("groups card").ID("groups").Body(
		app.H2().Text("Consumer groups"),
		app.P().Class("hint").Text("A consumer group is consumers sharing one group.id: the group splits the topic's partitions among "+
			"its members, so each partition is read by exactly one member, and it commits how far it got (offsets in __consumer_offsets). "+
			"Another group reads the same records again, independently. When a member joins, leaves or stops heartbeating, the group "+
			"coordinator (a broker) starts a rebalance: every member rejoins (JoinGroup), the leader member runs the assignor, and "+
			"SyncGroup hands out the new split. Eager assignors take every partition back first; cooperative-sticky moves only what must "+
			"move, over two rebalances. Members read from the earliest offset (auto.offset.reset=earliest)."),
		&GroupForm{Lab: p.Lab, Groups: len(groups), Ready: p.Lab.TopicReady()},
		app.If(len(groups) == 0, func() app.UI {
			return app.P().Class("empty").Text("no consumer group yet")
		}),
		app.Div().Class("group-list").Body(
			app.Range(groups).Slice(func(i int) app.UI {
				return &GroupCard{Lab: p.Lab, View: groups[i], Now: p.Now}
			}),
		),
	)
}
