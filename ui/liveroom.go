package ui

import (
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveRoomPanel is the classroom room this tab joined: every device in it,
// which broker each one runs, and where real Kafka clients reach it. It is
// what a teacher watches to see who is connected.
//
// For the e2e tests: the panel is #live-room with data-code and
// data-members; each device is #live-room-member-<id> with data-device,
// data-kind and data-kafka.
type LiveRoomPanel struct {
	app.Compo
	Room *LiveRoom
	Self int32 // this tab's broker id
}

// Render draws the panel.
func (r *LiveRoomPanel) Render() app.UI {
	room := r.Room
	return app.Section().Class("card live-room").ID("live-room").
		DataSet("code", room.Code).DataSet("members", len(room.Members)).Body(
		app.H2().Text(fmt.Sprintf("Room %s", room.Code)),
		app.P().Class("hint").Text(fmt.Sprintf("Devices join with the code %s on this page (signaling service %s). "+
			"Each device runs one broker of cluster %q; the room hands out the broker ids.", room.Code, room.URL, room.Cluster)),
		app.Table().Body(
			app.THead().Body(app.Tr().Body(
				app.Th().Text("Broker"),
				app.Th().Text("Device"),
				app.Th().Title("A browser tab, or the Streamlab node (a native broker that keeps its data in files)").Text("Kind"),
				app.Th().Title("The address the node proxies real Kafka clients (kcat -b ADDR) to this broker at").Text("Kafka clients"),
				app.Th().Title("When it joined the room (a member that stops polling the signaling service for a while leaves it)").Text("Joined"),
			)),
			app.TBody().Body(app.Range(room.Members).Slice(func(i int) app.UI {
				m := room.Members[i]
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
				return app.Tr().ID(fmt.Sprintf("live-room-member-%d", m.ID)).
					DataSet("device", m.Device).DataSet("kind", m.Kind).DataSet("kafka", m.Kafka).Body(
					app.Td().Text(fmt.Sprintf("broker %d", m.ID)),
					app.Td().Text(device),
					app.Td().Text(m.Kind),
					app.Td().Class("mono").Text(kafka),
					app.Td().Text(clockTime(m.Joined)),
				)
			})),
		),
	)
}

// clockTime is a Unix ms time as the local clock shows it.
func clockTime(ms int64) string {
	if ms <= 0 {
		return "–"
	}
	return time.UnixMilli(ms).Format("15:04:05")
}
