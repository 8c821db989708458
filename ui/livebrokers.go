package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// LiveBrokers shows the other brokers this one knows (its peers) and the
// brokers of the metadata this broker applied, with the active controller.
//
// For the e2e tests: #live-peer-<id> has data-connected and data-heard;
// #live-broker-<id> has data-state ("live" or "fenced") and
// data-controller ("active" or "").
type LiveBrokers struct {
	app.Compo
	View *LiveView
}

// Render draws the peers and the brokers.
func (b *LiveBrokers) Render() app.UI {
	v := b.View
	heard, how, none := "heard on the BroadcastChannel, connecting…",
		"Tabs announce themselves on a BroadcastChannel every second; brokers then talk over WebRTC. "+
			"A closed tab is a crashed broker: no goodbye, its peers notice by missed heartbeats.",
		"No other tab heard yet: open this page in another tab and join the same cluster."
	if v.Room != nil {
		heard, how, none = "in the room, connecting…",
			"The room's signaling service lists its members and relays their WebRTC offers; brokers then talk over WebRTC directly. "+
				"A closed tab or device is a crashed broker: no goodbye, its peers notice by missed heartbeats.",
			"No other member in the room yet: join it from another device (or tab) with the room's code."
	}
	return app.Section().Class("card live-brokers").ID("live-brokers").Body(
		app.H2().Text("Brokers"),
		app.H3().Text("Peers: the other brokers this one heard of"),
		app.P().Class("hint").Text(how),
		app.If(len(v.Peers) == 0, func() app.UI {
			return app.P().Class("hint warn").Text(none)
		}),
		app.Ul().Class("live-peers").Body(
			app.Range(v.Peers).Slice(func(i int) app.UI {
				p := v.Peers[i]
				state, text := "down", "not heard lately and not connected: its tab was closed, or has not joined again"
				switch {
				case p.Connected:
					state, text = "up", "connected over WebRTC"
				case p.Heard:
					state, text = "heard", heard
				}
				if !p.Connected && p.Err != "" {
					text += " (last error: " + p.Err + ")"
				}
				return app.Li().ID(fmt.Sprintf("live-peer-%d", p.ID)).Class("live-peer", "peer-"+state).
					DataSet("connected", p.Connected).DataSet("heard", p.Heard).Body(
					app.Strong().Text(fmt.Sprintf("broker %d", p.ID)),
					app.Text(": "+text),
				)
			}),
		),
		app.H3().Text(fmt.Sprintf("The cluster, as broker %d's metadata says", v.ID)),
		app.If(len(v.Brokers) == 0, func() app.UI {
			return app.P().Class("hint").Text("No broker registered in the metadata this broker applied yet.")
		}),
		app.Ul().Class("live-broker-list").Body(
			app.Range(v.Brokers).Slice(func(i int) app.UI {
				br := v.Brokers[i]
				state, help := "live", "registered, heartbeating, unfenced: it may lead partitions"
				if br.Fenced {
					state, help = "fenced", fmt.Sprintf("fenced: no heartbeat within broker.session.timeout.ms (%d ms here), or not caught up: it leads nothing and is in no ISR", v.SessionTimeoutMs)
				}
				ctrl := ""
				if int32(v.Controller) == br.ID {
					ctrl = "active"
				}
				me := ""
				if br.ID == int32(v.ID) {
					me = " (this tab)"
				}
				return app.Li().ID(fmt.Sprintf("live-broker-%d", br.ID)).Class("live-broker", "state-"+state).
					DataSet("state", state).DataSet("controller", ctrl).Body(
					app.Strong().Text(fmt.Sprintf("broker %d%s", br.ID, me)),
					app.Span().Class("state-chip", "chip-"+state).Title("%s", help).Text(state),
					app.Span().Class("hint").Text(fmt.Sprintf(" broker epoch %d", br.Epoch)),
					app.If(ctrl != "", func() app.UI {
						return app.Span().Class("crown").Title("The active controller (raft leader of the quorum), as this broker's voter knows it").
							Text(fmt.Sprintf(" ♛ controller, epoch %d", v.ControllerEpoch))
					}),
				)
			}),
		),
	)
}
