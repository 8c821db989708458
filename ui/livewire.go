package ui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LiveWire is the whole cluster's traffic between members, from what every
// member shared (p2p/gossip): each counts the messages its machines sent
// to other members over its last second, so every tab draws the same
// routes. Per route from one machine to another: the messages per second
// of each API and direction, and a pipe whose moving dots grow with the
// rate (a picture of the rate, not one dot per message).
//
// For the e2e tests: each route is #live-wire-<from>-<to> with data-apis
// ("Fetch request,Fetch response", sorted) and data-rate (messages per
// second, all APIs).
type LiveWire struct {
	app.Compo
	View *LiveView
}

// wireRoute is a route's traffic.
type wireRoute struct {
	from, to core.NodeID
	rates    map[string]float64 // "Fetch request" → messages per second
	total    float64
}

// Render draws the routes.
func (w *LiveWire) Render() app.UI {
	routes, beside := w.routes()
	name := func(id core.NodeID) string {
		if b, ok := beside[id]; ok {
			return fmt.Sprintf("client %d (beside broker %d)", id, b)
		}
		return liveNodeName(id)
	}
	return app.Section().Class("card live-wire").ID("live-wire").Body(
		app.H2().Text("On the wire: the whole cluster's last second"),
		app.P().Class("hint").Text("Every member counts the messages its machines send to the other members over WebRTC and shares the counts "+
			"every second, so every tab shows the same traffic: followers fetching from leaders, brokers heartbeating to the active controller "+
			"and fetching the metadata log, the voters' raft messages, and the clients of each tab (ids from 1000 up) talking to the brokers of others. "+
			"Messages between a tab's own broker and its own clients stay in the tab and are not counted."),
		app.If(len(routes) == 0, func() app.UI {
			return app.P().Class("empty").Text("nothing shared yet (members share every second)")
		}),
		app.Ul().Class("wire-routes").Body(app.Range(routes).Slice(func(i int) app.UI {
			r := routes[i]
			apis := make([]string, 0, len(r.rates))
			for a := range r.rates {
				apis = append(apis, a)
			}
			slices.Sort(apis)
			parts := make([]string, len(apis))
			for j, a := range apis {
				parts[j] = fmt.Sprintf("%s %s/s", a, rate(r.rates[a]))
			}
			return app.Li().ID(fmt.Sprintf("live-wire-%d-%d", r.from, r.to)).Class("wire-route").
				DataSet("apis", strings.Join(apis, ",")).DataSet("rate", rate(r.total)).Body(
				app.Span().Class("route").Text(fmt.Sprintf("%s → %s", name(r.from), name(r.to))),
				pipe(r.total),
				app.Span().Class("mono").Text(strings.Join(parts, " · ")),
			)
		})),
	)
}

// routes merges every fresh member's counts into rates per route, and
// says which broker each client runs beside (the member that counted its
// messages).
func (w *LiveWire) routes() ([]wireRoute, map[core.NodeID]core.NodeID) {
	v := w.View
	at := map[[2]core.NodeID]*wireRoute{}
	beside := map[core.NodeID]core.NodeID{}
	add := func(sh LiveShared) {
		if sh.Killed || sh.AgeMs > sharedStaleMs || sh.WindowMs <= 0 {
			return
		}
		for _, l := range sh.Sent {
			if l.From >= core.ClientIDBase {
				beside[l.From] = sh.Broker
			}
			k := [2]core.NodeID{l.From, l.To}
			r := at[k]
			if r == nil {
				r = &wireRoute{from: l.From, to: l.To, rates: map[string]float64{}}
				at[k] = r
			}
			perSec := float64(l.N) * 1000 / float64(sh.WindowMs)
			r.rates[strings.TrimSpace(l.API+" "+l.Kind)] += perSec
			r.total += perSec
		}
	}
	add(v.Self)
	for _, sh := range v.Shared {
		add(sh)
	}
	out := make([]wireRoute, 0, len(at))
	for _, r := range at {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b wireRoute) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
	return out, beside
}

// pipe is a route's line with 1 to 6 dots moving along it, one more for
// each doubling of the rate.
func pipe(perSec float64) app.UI {
	n := 0
	if perSec > 0 {
		n = min(6, 1+int(math.Log2(1+perSec)/2))
	}
	dots := make([]app.UI, n)
	for i := range dots {
		dots[i] = app.Span().Class("dot").Style("animation-delay", fmt.Sprintf("%.2fs", float64(i)/float64(n)))
	}
	return app.Span().Class("pipe").Title("%s messages per second", rate(perSec)).Body(dots...)
}

func rate(perSec float64) string {
	if perSec >= 10 || perSec == 0 {
		return fmt.Sprintf("%.0f", perSec)
	}
	return fmt.Sprintf("%.1f", perSec)
}

// liveNodeName names a machine of a live cluster: a broker, or a client
// (whose id the member that runs it hands out, from core.ClientIDBase up:
// a tab's producer, consumer and admin, the node's Kafka connections).
func liveNodeName(id core.NodeID) string {
	if id >= core.ClientIDBase {
		return fmt.Sprintf("client %d", id)
	}
	return fmt.Sprintf("broker %d", id)
}
