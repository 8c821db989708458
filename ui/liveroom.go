package ui

import (
	"fmt"
	"slices"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LiveRoomPanel is the classroom room this tab joined: every device in it,
// which broker each one runs, where real Kafka clients reach it, and the
// faults the teacher injected. In the teacher's browser (the one that
// created the room, or opened the node's teacher link) it has the
// buttons that inject them: kill or restart a device's broker, cut it off
// from the others or reconnect it, heal everything. Every device applies
// the room's faults to itself, so every screen then shows the same
// fencing, elections and ISR changes.
//
// For the e2e tests: the panel is #live-room with data-code, data-members
// and data-teacher; each device is #live-room-member-<id> with data-device,
// data-kind, data-kafka and data-state ("running", "killed", "cut off");
// the teacher's buttons are #live-room-kill-<id>, #live-room-cut-<id> and
// #live-room-heal.
type LiveRoomPanel struct {
	app.Compo
	Room *LiveRoom
	Self int32 // this tab's broker id
	// OnFaults sets the room's faults (the whole set).
	OnFaults func(ctx app.Context, down, split []core.NodeID)
}

// Render draws the panel.
func (r *LiveRoomPanel) Render() app.UI {
	room := r.Room
	head := []app.UI{
		app.Th().Text("Broker"),
		app.Th().Text("Device"),
		app.Th().Title("A browser tab, or the Streamlab node (a native broker that keeps its data in files)").Text("Kind"),
		app.Th().Title("The address the node proxies real Kafka clients (kcat -b ADDR) to this broker at").Text("Kafka clients"),
		app.Th().Title("When it joined the room (a member that stops polling the signaling service for a while leaves it)").Text("Joined"),
		app.Th().Title("What the teacher did to this broker").Text("State"),
	}
	if room.Teacher {
		head = append(head, app.Th().Text("Teacher"))
	}
	return app.Section().Class("card live-room").ID("live-room").
		DataSet("code", room.Code).DataSet("members", len(room.Members)).DataSet("teacher", room.Teacher).Body(
		app.H2().Text(fmt.Sprintf("Room %s", room.Code)),
		app.P().Class("hint").Text(fmt.Sprintf("Devices join with the code %s on this page (signaling service %s). "+
			"Each device runs one broker of cluster %q; the room hands out the broker ids.", room.Code, room.URL, room.Cluster)),
		app.If(room.Teacher, func() app.UI {
			return app.P().Class("hint").Text("You are this room's teacher. Kill a broker: it stops (its device keeps its clients and " +
				"connections), the controller fences it after broker.session.timeout.ms, and the partitions it led elect new leaders; " +
				"restart it: it recovers its log from storage and catches up into the ISR. Cut a broker off: traffic between it and the " +
				"others is dropped (a network partition); no connection breaks, so only timeouts reveal it, as in a real network.")
		}),
		app.Table().Body(
			app.THead().Body(app.Tr().Body(head...)),
			app.TBody().Body(app.Range(room.Members).Slice(func(i int) app.UI { return r.member(room.Members[i]) })),
		),
		app.If(room.Teacher && (len(room.Down) > 0 || len(room.Split) > 0), func() app.UI {
			return app.Button().ID("live-room-heal").Type("button").OnClick(func(ctx app.Context, e app.Event) {
				r.OnFaults(ctx, nil, nil)
			}).Text("Heal: restart every killed broker and reconnect everyone")
		}),
	)
}

func (r *LiveRoomPanel) member(m LiveRoomMember) app.UI {
	room := r.Room
	device := m.Device
	if device == "" {
		device = "(unnamed)"
	}
	if int32(m.ID) == r.Self {
		device += " (this tab)"
	}
	kafka := m.Kafka
	if kafka == "" {
		kafka = "–"
	}
	down, cut := slices.Contains(room.Down, m.ID), slices.Contains(room.Split, m.ID)
	state, class := "running", "state-chip chip-live"
	switch {
	case down:
		state, class = "killed", "state-chip chip-crashed"
	case cut:
		state, class = "cut off", "state-chip chip-fenced"
	}
	cells := []app.UI{
		app.Td().Text(fmt.Sprintf("broker %d", m.ID)),
		app.Td().Text(device),
		app.Td().Text(m.Kind),
		app.Td().Class("mono").Text(kafka),
		app.Td().Text(clockTime(m.Joined)),
		app.Td().Body(app.Span().Class(class).Text(state)),
	}
	if room.Teacher {
		kill, cutText := "Kill broker", "Cut off"
		if down {
			kill = "Restart broker"
		}
		if cut {
			cutText = "Reconnect"
		}
		// The handlers read the faults when clicked: go-app keeps a
		// handler of the same code across renders (EventScope renews it
		// per broker id only).
		id, scope := m.ID, app.EventScope(fmt.Sprint(m.ID))
		cells = append(cells, app.Td().Body(
			app.Button().ID(fmt.Sprintf("live-room-kill-%d", m.ID)).Type("button").
				Title("A killed broker stops; restarted, it recovers its log from storage").
				OnClick(func(ctx app.Context, e app.Event) { r.OnFaults(ctx, toggle(r.Room.Down, id), r.Room.Split) }, scope).Text(kill),
			app.Button().ID(fmt.Sprintf("live-room-cut-%d", m.ID)).Type("button").
				Title("Brokers cut off talk among themselves, not with the others").
				OnClick(func(ctx app.Context, e app.Event) { r.OnFaults(ctx, r.Room.Down, toggle(r.Room.Split, id)) }, scope).Text(cutText),
		))
	}
	return app.Tr().ID(fmt.Sprintf("live-room-member-%d", m.ID)).
		DataSet("device", m.Device).DataSet("kind", m.Kind).DataSet("kafka", m.Kafka).DataSet("state", state).Body(cells...)
}

// toggle returns ids with id added, or removed if it was there, sorted.
func toggle(ids []core.NodeID, id core.NodeID) []core.NodeID {
	if i := slices.Index(ids, id); i >= 0 {
		return slices.Delete(slices.Clone(ids), i, i+1)
	}
	out := append(slices.Clone(ids), id)
	slices.Sort(out)
	return out
}

// clockTime is a Unix ms time as the local clock shows it.
func clockTime(ms int64) string {
	if ms <= 0 {
		return "–"
	}
	return time.UnixMilli(ms).Format("15:04:05")
}
