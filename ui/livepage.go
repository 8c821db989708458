package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
)

// LivePage (route /live) makes this tab one broker of a live cluster: the
// other brokers are other tabs of this browser, reached over real WebRTC,
// and the broker keeps its logs in IndexedDB.
//
// Or it joins a classroom room: the brokers are then tabs of other browsers
// and devices, and the node, signaled through the node (or the worker).
//
// URL parameters: cluster (the default name), room (a room's code, which
// selects the room form), signal (the signaling service, default this
// origin's /api/), session_timeout_ms
// (broker.session.timeout.ms, default Kafka's 9000) and request_timeout_ms
// (the clients' request.timeout.ms, default 10000); the page shows the
// values in use.
//
// For the e2e tests: #app-ready appears once the WebAssembly app runs;
// #live-cluster and #live-join join; #live-room-code, #live-device and
// #live-room-join join a room, #live-room-new creates one; once joined #live-member has data-id
// (this tab's broker id), data-live (unfenced brokers in the metadata) and
// data-controller. See LiveBrokers, LiveTopics, LiveTopicForm,
// LiveProducer, LiveConsumer for theirs.
type LivePage struct {
	app.Compo
	// Cluster is nil where there is no browser (the node prerendering).
	Cluster LiveCluster

	name    string
	room    string // a room's code
	roomURL string
	device  string
	teacher string // the room's teacher token, from the URL's #teacher=
	cfg     LiveConfig
	joining bool
	member  LiveMember
	view    *LiveView
	err     string
	polling bool
}

// livePoll is how often the page reads the broker's state.
const livePoll = 500 * time.Millisecond

// Defaults and bounds of the timeouts the URL may set.
const (
	liveSessionTimeoutMs = 9000
	liveRequestTimeoutMs = 10000
)

// OnMount reads the URL parameters.
func (p *LivePage) OnMount(ctx app.Context) {
	q := ctx.Page().URL().Query()
	p.name = cleanCluster(q.Get("cluster"))
	if p.name == "" {
		p.name = "demo"
	}
	p.room = cleanCode(q.Get("room"))
	p.roomURL = q.Get("signal")
	if p.roomURL == "" {
		u := *ctx.Page().URL()
		u.Path, u.RawQuery, u.Fragment = "/api/", "", ""
		p.roomURL = u.String()
	}
	if tok, ok := strings.CutPrefix(ctx.Page().URL().Fragment, "teacher="); ok && p.room != "" {
		// The node's teacher link. The token goes to this browser's
		// storage when the tab joins; the address bar (on a projector)
		// stops showing it now.
		p.teacher = tok
		u := *ctx.Page().URL()
		u.Fragment = ""
		app.Window().Get("history").Call("replaceState", nil, "", u.String())
	}
	p.cfg.SessionTimeoutMs = urlMs(q.Get("session_timeout_ms"), liveSessionTimeoutMs, 1000, 60000)
	p.cfg.RequestTimeoutMs = urlMs(q.Get("request_timeout_ms"), liveRequestTimeoutMs, 1000, 120000)
	// The page's own context: an event handler's belongs to its element,
	// and the join form goes away once joined.
	ctx.After(livePoll, p.poll)
}

// OnDismount leaves the cluster when the page goes (another route).
func (p *LivePage) OnDismount() {
	if m := p.member; m != nil {
		p.member = nil
		go m.Close() // it waits for the broker's goroutine
	}
}

// urlMs parses a duration parameter in ms, def if absent or out of bounds.
func urlMs(s string, def, lo, hi int64) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return def
	}
	return v
}

// cleanCluster keeps a cluster name to letters, digits, - and _ (it names
// Web Locks, a BroadcastChannel and IndexedDB databases), 40 at most.
func cleanCluster(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cleanCode keeps a room code to letters and digits, upper case, 16 at
// most.
func cleanCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if b.Len() >= 16 {
			break
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (p *LivePage) join(ctx app.Context, e app.Event) {
	e.PreventDefault()
	name := cleanCluster(p.name)
	if name == "" {
		p.err = "A cluster name needs letters or digits."
		return
	}
	cfg := p.cfg
	cfg.Cluster = name
	p.start(ctx, cfg)
}

func (p *LivePage) joinRoom(ctx app.Context, e app.Event) {
	e.PreventDefault()
	code := cleanCode(p.room)
	if code == "" {
		p.err = "Type the room's code (letters and digits), or create a room."
		return
	}
	cfg := p.cfg
	cfg.Room, cfg.RoomURL, cfg.Device, cfg.Teacher = code, p.roomURL, strings.TrimSpace(p.device), p.teacher
	p.start(ctx, cfg)
}

// newRoom creates a room on the signaling service and fills in its code.
func (p *LivePage) newRoom(ctx app.Context, e app.Event) {
	e.PreventDefault()
	if p.joining || p.Cluster == nil {
		return
	}
	lc, url := p.Cluster, p.roomURL
	ctx.Async(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		code, err := lc.CreateRoom(cctx, url)
		ctx.Dispatch(func(app.Context) {
			if err != nil {
				p.err = "Could not create a room: " + err.Error()
				return
			}
			p.room, p.err = code, ""
		})
	})
}

func (p *LivePage) start(ctx app.Context, cfg LiveConfig) {
	if p.joining || p.member != nil || p.Cluster == nil {
		return
	}
	p.joining, p.err = true, ""
	lc := p.Cluster
	ctx.Async(func() {
		jctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := lc.Join(jctx, cfg)
		ctx.Dispatch(func(ctx app.Context) {
			p.joining = false
			if err != nil {
				p.err = joinError(err)
				return
			}
			p.member, p.cfg = m, cfg
		})
	})
}

func joinError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "Joining took more than 30 s: " + err.Error()
	}
	if strings.Contains(err.Error(), "room full") {
		return "The room has no free broker id: " + err.Error()
	}
	if strings.Contains(err.Error(), "taken") {
		return "Every broker id of this cluster is held by another tab (3 brokers at most): " + err.Error()
	}
	return "Could not join: " + err.Error()
}

// poll reads the broker off the UI goroutine, then redraws.
func (p *LivePage) poll(ctx app.Context) {
	if m := p.member; m != nil && !p.polling {
		p.polling = true
		ctx.Async(func() {
			v := m.View()
			ctx.Dispatch(func(app.Context) { p.view, p.polling = &v, false })
		})
	}
	ctx.After(livePoll, p.poll)
}

// run calls f on the member off the UI goroutine, and shows its error.
func (p *LivePage) run(ctx app.Context, f func(LiveMember) error) {
	m := p.member
	if m == nil {
		return
	}
	ctx.Async(func() {
		err := f(m)
		ctx.Dispatch(func(app.Context) {
			p.err = ""
			if err != nil {
				p.err = err.Error()
			}
		})
	})
}

// Render draws the page.
func (p *LivePage) Render() app.UI {
	head := func(status ...app.UI) app.UI {
		title := "Streamlab: a live cluster of tabs"
		if p.member != nil && p.cfg.Room != "" {
			title = "Streamlab: a classroom cluster"
		}
		return app.Div().Class("title").Body(append([]app.UI{app.H1().Text(title)}, status...)...)
	}
	if !app.IsClient || p.Cluster == nil {
		return app.Main().Class("page live").Body(
			head(),
			app.P().Class("lede").Text("Each browser tab that joins becomes one broker of a real cluster: the tabs talk over WebRTC and keep their logs in IndexedDB. "+
				"This needs the WebAssembly app: loading…"),
		)
	}
	if p.member == nil {
		return app.Main().Class("page live").Body(
			app.Header().Class("top").Body(head(
				app.Span().ID("app-ready").Class("status").Text("not joined yet"),
			)),
			app.P().Class("lede").Text("Open this page in up to three tabs of this browser and join the same cluster in each: every tab becomes one broker "+
				"(and controller voter) of a real KRaft-style cluster. Then close a tab: to the others it is a crashed broker."),
			app.Form().Class("card live-join").OnSubmit(p.join).Body(
				app.Label().For("live-cluster").Text("Cluster name"),
				app.Input().ID("live-cluster").Type("text").Value(p.name).MaxLength(40).
					OnInput(func(ctx app.Context, e app.Event) { p.name = ctx.JSSrc().Get("value").String() }),
				app.Button().ID("live-join").Type("submit").Disabled(p.joining).
					Text(fmt.Sprintf("Make this tab a broker in cluster %q", cleanCluster(p.name))),
				app.If(p.joining, func() app.UI {
					return app.P().Class("hint").Text("Taking a broker id, opening IndexedDB, connecting to the other tabs…")
				}),
			),
			app.Form().Class("card live-join").OnSubmit(p.joinRoom).Body(
				app.P().Text("Or join a classroom room: devices anywhere on the network become brokers of one cluster, signaled through "+
					"the Streamlab node (or the Cloudflare worker) that serves the room."),
				app.Label().For("live-room-code").Text("Room code"),
				app.Input().ID("live-room-code").Type("text").Value(p.room).MaxLength(16).Placeholder("e.g. K7QX2M").
					OnInput(func(ctx app.Context, e app.Event) { p.room = ctx.JSSrc().Get("value").String() }),
				app.Label().For("live-device").Text("This device's name (shown to the room)"),
				app.Input().ID("live-device").Type("text").Value(p.device).MaxLength(64).Placeholder("e.g. Ada's laptop").
					OnInput(func(ctx app.Context, e app.Event) { p.device = ctx.JSSrc().Get("value").String() }),
				app.Button().ID("live-room-join").Type("submit").Disabled(p.joining).Text("Make this tab a broker in the room"),
				app.Button().ID("live-room-new").Type("button").Disabled(p.joining).OnClick(p.newRoom).Text("Create a new room"),
				app.P().Class("hint").Text("Signaling service: "+p.roomURL),
			),
			app.If(p.err != "", func() app.UI { return app.P().Class("error").Text(p.err) }),
			p.limits(),
		)
	}
	v := p.view
	if v == nil {
		v = &LiveView{ID: p.member.ID(), Controller: -1}
	}
	return app.Main().Class("page live").Body(
		app.Header().Class("top").Body(head(
			app.Span().ID("app-ready").Class("status").Text(clusterLabel(p.cfg, v)),
			app.Span().ID("live-member").Class("status").
				DataSet("id", v.ID).DataSet("live", liveAlive(v)).DataSet("controller", v.Controller).
				Text(fmt.Sprintf("this tab is broker %d · %s", v.ID, memberState(v))),
		)),
		app.If(p.err != "", func() app.UI { return app.P().Class("error").Text(p.err) }),
		app.Div().Class("layout").Body(
			app.Div().Class("main-col").Body(
				app.If(v.Room != nil, func() app.UI {
					return &LiveRoomPanel{Room: v.Room, Self: int32(v.ID), OnFaults: func(ctx app.Context, down, split []core.NodeID) {
						p.run(ctx, func(m LiveMember) error { return m.SetRoomFaults(down, split) })
					}}
				}),
				&LiveBrokers{View: v},
				&LiveTopics{View: v},
				&LiveLogs{View: v},
				&LiveWire{View: v},
				&LiveSharedPanel{View: v},
				&LiveTopicForm{Alive: liveAlive(v), OnCreate: func(ctx app.Context, name string, parts int32, rf int16, minISR int) {
					p.run(ctx, func(m LiveMember) error { return m.CreateTopic(name, parts, rf, minISR) })
				}},
			),
			app.Aside().Class("side-col").Body(
				&LiveProducer{View: v, OnProduce: func(ctx app.Context, topic string, n int, key, value string) {
					p.run(ctx, func(m LiveMember) error { return m.Produce(topic, n, key, value) })
				}},
				&LiveConsumer{View: v, OnStart: func(ctx app.Context, group, topic string) {
					p.run(ctx, func(m LiveMember) error { return m.Consume(group, topic) })
				}},
				&LiveEventLog{View: v},
			),
		),
		p.limits(),
	)
}

func clusterLabel(cfg LiveConfig, v *LiveView) string {
	if cfg.Room != "" {
		return "room " + cfg.Room
	}
	return fmt.Sprintf("cluster %q", cfg.Cluster)
}

func memberState(v *LiveView) string {
	switch {
	case !v.Registered:
		return "not registered with the controller yet"
	case v.Fenced:
		return fmt.Sprintf("registered (broker epoch %d), fenced", v.BrokerEpoch)
	}
	return fmt.Sprintf("live (broker epoch %d)", v.BrokerEpoch)
}

// limits says what is real here and what is not built yet.
func (p *LivePage) limits() app.UI {
	return app.Footer().Class("limits").Body(
		app.P().Text("Live here: each tab runs the Streamlab broker and controller voter (etcd raft) for real; the tabs exchange Kafka protocol and raft "+
			"messages over real WebRTC data channels (signaled over a BroadcastChannel between the tabs of this browser, or through a room's "+
			"signaling service between devices), and each broker keeps its logs in IndexedDB. A closed tab is a crashed broker: its peers notice by missed heartbeats."),
		app.P().ID("live-timeouts").Text(fmt.Sprintf("Timeouts in use: broker.session.timeout.ms=%d (Kafka's default 9000), clients' request.timeout.ms=%d "+
			"(Kafka's default 30000: a closed tab resets no connection, so requests to it end only by timing out). "+
			"Set them with ?session_timeout_ms= and ?request_timeout_ms= in the URL.", p.cfg.SessionTimeoutMs, p.cfg.RequestTimeoutMs)),
		app.P().Text("Not built yet: faults injected into a cluster of this browser's tabs (a room's teacher can kill brokers and cut the network), "+
			"more than 3 brokers per browser cluster, reassigning "+
			"partitions, several producers or consumers per tab, each message in flight (the traffic is shown as every member's counts per route), "+
			"the single-tab page's timeline and inspector. "+
			"In a network without multicast (some sandboxes), Chromium gathers WebRTC candidates only once the page may use the microphone."),
	)
}
