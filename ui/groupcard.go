package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/lab"
)

// GroupCard is one consumer group: the state its coordinator reports, the
// generation, the coordinator, the protocol, which member owns each
// partition, and each member with its partitions, positions, committed
// offsets and lag. A rebalance shows as it happens: the state steps through
// PreparingRebalance and CompletingRebalance, partitions a member gave up
// leave the ownership row (all of them under an eager assignor, only those
// that move under cooperative-sticky), and what the last rebalance revoked
// and assigned stays highlighted for a few seconds.
//
// For the e2e tests: the card is .group-card with data-group, data-state
// and data-generation; each member is .member with data-member (c-n),
// data-state, data-partitions (comma-separated) and data-idle, and a .gpart
// per partition with data-partition, data-position, data-committed and
// data-lag (-1: unknown); buttons are
// #add-member-<group>, #remove-<c-n> and #crash-<c-n>; a click on a
// member's .member-name opens it in the inspector.
type GroupCard struct {
	app.Compo
	Lab  *lab.Lab
	View lab.GroupView
	// Now is the virtual time, in steps (see GroupPanel): the highlights
	// of a rebalance last highlightMs.
	Now int64
}

// highlightMs is how long what a rebalance revoked and assigned stays
// highlighted, in virtual time.
const highlightMs = 6000

// rebalanceSteps are the states a rebalance goes through, in order.
var rebalanceSteps = []string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"}

var groupStateHelp = map[string]string{
	"":                    "looking up its coordinator (FindCoordinator) and joining",
	"Empty":               "no member: committed offsets are kept",
	"PreparingRebalance":  "rebalancing: the coordinator waits for every member to rejoin (JoinGroup)",
	"CompletingRebalance": "rebalancing: every member rejoined; the leader computes the assignment (SyncGroup)",
	"Stable":              "every member has its partitions and heartbeats",
	"Dead":                "gone from this coordinator",
}

// Render draws the card.
func (c *GroupCard) Render() app.UI {
	g := c.View
	topic := c.Lab.Topic()
	owner := map[int32]lab.MemberView{}
	for _, m := range g.Members {
		for _, p := range m.Partitions {
			owner[p.Partition] = m
		}
	}
	coord := fmt.Sprintf("coordinator: not known yet (__consumer_offsets-%d has no leader)", g.OffsetsPartition)
	if g.Coordinator >= 0 {
		coord = fmt.Sprintf("coordinator: broker %d, leader of __consumer_offsets-%d", g.Coordinator, g.OffsetsPartition)
	}
	protocol := g.Protocol
	if protocol == "" {
		protocol = "none yet"
	}
	state := g.State
	if state == "" {
		state = "joining"
	}
	name := g.Config.Name
	return app.Div().Class("group-card", "gstate-"+state).DataSet("group", name).DataSet("state", g.State).DataSet("generation", g.Generation).Body(
		app.Div().Class("group-head").Body(
			app.H3().Text("group.id="+name),
			app.Span().Class("gstate").Title("%s", groupStateHelp[g.State]).Text(state),
			app.Span().Class("gen").Text(fmt.Sprintf("generation %d", max(g.Generation, 0))),
			app.Button().ID("add-member-"+name).Class("secondary").Disabled(len(g.Members) >= lab.MaxMembersPerGroup).
				Title("Start one more consumer with this group.id: the coordinator rebalances the group").
				Text("+ member").OnClick(func(app.Context, app.Event) { c.Lab.AddMember(name) }),
		),
		app.Ol().Class("steps").Body(
			app.Range(rebalanceSteps).Slice(func(i int) app.UI {
				s := rebalanceSteps[i]
				li := app.Li().Text(s)
				if s == g.State {
					li = li.Class("current")
				}
				return li
			}),
		),
		app.P().Class("group-sub hint").Text(fmt.Sprintf("%s · partition.assignment.strategy=%s (protocol chosen: %s) · %s · processing %d ms/record · session.timeout.ms=%d",
			coord, g.Config.Assignor, protocol, commitLabel(g.Config), g.Config.ProcessingDelayMs, g.Config.SessionTimeoutMs)),
		app.Ol().Class("owners").Body(
			app.Range(make([]struct{}, c.Lab.PartitionCount())).Slice(func(i int) app.UI {
				p := int32(i)
				m, ok := owner[p]
				li := app.Li().Class("owner").DataSet("partition", p)
				if !ok {
					return li.Class("unowned").Title("%s: no member consumes it right now", tp(topic, p)).Body(
						app.Span().Class("pname").Text(fmt.Sprintf("P%d", p)), app.Span().Text("—"))
				}
				bg, fg := memberColor(m.ID)
				switch {
				case m.Crashed:
					li = li.Class("stalled").Title("%s: assigned to %s, which crashed: nobody reads it until the coordinator removes %s (session.timeout.ms)", tp(topic, p), m.Name, m.Name)
				case c.recent(m) && slices.Contains(m.Added, p):
					li = li.Class("added").Title("%s: just assigned to %s", tp(topic, p), m.Name)
				default:
					li = li.Title("%s: consumed by %s", tp(topic, p), m.Name)
				}
				return li.Style("background", bg).Style("color", fg).Body(
					app.Span().Class("pname").Text(fmt.Sprintf("P%d", p)), app.Span().Text(m.Name))
			}),
		),
		app.Ul().Class("members").Body(
			app.Range(g.Members).Slice(func(i int) app.UI { return c.member(g.Members[i]) }),
		),
		app.If(g.State == "" || g.Reason == "", func() app.UI {
			return app.P().Class("hint").Text(groupStateHelp[g.State])
		}).Else(func() app.UI {
			return app.P().Class("hint").Text(groupStateHelp[g.State] + ". Last change: " + withoutUUIDs(g.Reason))
		}),
	)
}

// recent reports whether m's last rebalance is recent enough to highlight.
func (c *GroupCard) recent(m lab.MemberView) bool {
	return m.Last.Generation >= 0 && c.Now-m.Last.Time < highlightMs
}

func (c *GroupCard) member(m lab.MemberView) app.UI {
	topic := c.Lab.Topic()
	var parts []string
	for _, p := range m.Partitions {
		parts = append(parts, fmt.Sprint(p.Partition))
	}
	state := groupMemberState(m)
	bg, fg := memberColor(m.ID)
	var revoked []int32
	if c.recent(m) {
		for _, p := range m.Revoked {
			if !containsPart(m.Partitions, p) {
				revoked = append(revoked, p)
			}
		}
	}
	li := app.Li().Class("member").DataSet("member", m.Name).DataSet("state", state).
		DataSet("partitions", strings.Join(parts, ",")).DataSet("idle", m.Idle)
	if m.Crashed || m.Leaving {
		li = li.Class("gone")
	}
	return li.Body(
		app.Div().Class("member-head").Body(
			// The name, not the whole row, opens the inspector: a click
			// on Remove or Crash must not open it too.
			app.Span().Class("member-name inspectable").Style("background", bg).Style("color", fg).
				Title("Inspect %s: click to see its group, assignment, offsets and configuration", m.Name).Text(m.Name).
				OnClick(func(ctx app.Context, _ app.Event) { inspect(ctx, Inspected{What: "member", Member: m.ID}) }, app.EventScope(m.Name)),
			app.If(m.MemberID != "", func() app.UI {
				return app.Span().Class("member-id mono").Title("member id: %s", m.MemberID).Text(shortMember(m.MemberID))
			}),
			app.Span().Class("member-state").Text(state),
			app.If(m.Leader, func() app.UI {
				return app.Span().Class("leader-chip").Title("the group leader: it ran the assignor for this generation").Text("leader")
			}),
			app.Span().Class("hint").Text(fmt.Sprintf("processed %d", m.Processed)),
			app.If(!m.Crashed && !m.Leaving, func() app.UI {
				// EventScope: go-app keeps a handler of the same code
				// across renders; a row may show another member later.
				return app.Span().Class("member-actions").Body(
					app.Button().ID("remove-"+m.Name).Class("secondary").
						Title("close(): commit (with auto commit), then LeaveGroup: the group rebalances at once").
						Text("Remove").OnClick(func(app.Context, app.Event) { c.Lab.RemoveMember(m.ID) }, app.EventScope(m.Name)),
					app.Button().ID("crash-"+m.Name).Class("danger").
						Title("kill -9: no commit, no LeaveGroup; the coordinator notices after session.timeout.ms").
						Text("Crash").OnClick(func(app.Context, app.Event) { c.Lab.CrashMember(m.ID) }, app.EventScope(m.Name)),
				)
			}),
		),
		app.Div().Class("member-parts").Body(
			app.If(m.Idle, func() app.UI {
				return app.Span().Class("idle").Text("idle: the group has more members than partitions")
			}),
			app.If(len(m.Partitions) == 0 && !m.Idle && len(revoked) == 0, func() app.UI {
				return app.Span().Class("hint").Text(noPartitions(m))
			}),
			app.Range(m.Partitions).Slice(func(i int) app.UI {
				p := m.Partitions[i]
				chip := app.Span().Class("gpart").DataSet("partition", p.Partition).
					DataSet("position", p.Position).DataSet("committed", p.Committed).DataSet("lag", p.Lag).
					Title("%s: position %s (next offset to read), committed %s (the group's), lag %s (high watermark − position)",
						tp(topic, p.Partition), offText(p.Position), offText(p.Committed), offText(p.Lag))
				if c.recent(m) && slices.Contains(m.Added, p.Partition) {
					chip = chip.Class("added")
				}
				return chip.Body(
					app.Span().Class("pname").Text(fmt.Sprintf("P%d", p.Partition)),
					app.Text(fmt.Sprintf(" pos %s · committed %s · lag %s", offText(p.Position), offText(p.Committed), offText(p.Lag))),
				)
			}),
			app.Range(revoked).Slice(func(i int) app.UI {
				return app.Span().Class("gpart revoked").Title("revoked in generation %d", m.Last.Generation).
					Text(fmt.Sprintf("P%d revoked", revoked[i]))
			}),
		),
		app.If(m.CommitError != "", func() app.UI {
			return app.P().Class("hint warn").Text("last commit failed: " + m.CommitError)
		}),
	)
}

// noPartitions says why a member consumes nothing.
func noPartitions(m lab.MemberView) string {
	switch {
	case m.Crashed:
		return "crashed: it reads nothing; the coordinator still counts it until session.timeout.ms"
	case m.Leaving:
		return "closed: it sent LeaveGroup"
	case m.State == "STABLE":
		return "no partition in this generation"
	}
	return "no partition while it joins"
}

func commitLabel(cfg lab.GroupConfig) string {
	for _, c := range commitChoices {
		if c.mode == cfg.Commit {
			return c.long
		}
	}
	return cfg.Commit.String()
}

// memberColor is a member's colour, by its number.
func memberColor(id core.NodeID) (bg, fg string) {
	c := palette[int(id-lab.MemberIDBase)%len(palette)]
	return c[0], c[1]
}

func offText(n int64) string {
	if n < 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

func containsPart(ps []lab.PartitionProgress, p int32) bool {
	for _, x := range ps {
		if x.Partition == p {
			return true
		}
	}
	return false
}

// groupMemberState is a member's state in a word or two: its MemberState,
// or what ended it.
func groupMemberState(m lab.MemberView) string {
	switch {
	case m.Crashed:
		return "crashed"
	case m.Leaving:
		return "left"
	case m.Error != "":
		return "failed: " + m.Error
	}
	return m.State
}
