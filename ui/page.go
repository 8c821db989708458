// Package ui holds Streamlab's go-app components. They read core state and
// events and send commands; they do no I/O. One component per file; words.go
// holds the helpers they share.
package ui

import (
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// Page is the root component: a single-tab world (a KRaft cluster of three
// brokers, a replicated topic, a producer, a consumer and the learner's
// consumer groups) whose virtual clock
// follows the page's clock.
//
// Contract with the e2e tests: the element #app-ready appears only once the
// WebAssembly app runs and every partition of the topic has a leader. The
// node prerenders this component on the server, so the marker must not be
// in that HTML (hence app.IsClient). Elements the tests read carry stable
// ids and data- attributes (see BrokerCard, ReplicaRow, PartitionTable,
// AckCheck, ConsumerPanel, GroupForm, GroupCard).
type Page struct {
	app.Compo
	// Store keeps the session across reloads (nil: it is not kept).
	Store SessionStore

	lab    *lab.Lab
	play   *lab.Player // drives lab; after a rewind it holds the rest of the timeline
	paused bool
	speed  int64 // percent of real time
	owed   int64 // virtual ms not run yet (see tick)
	prefs  Prefs

	// The timeline: from the cluster's start to the latest moment of this
	// timeline (a rewind leaves it where it was); the marks past a rewind
	// point are the old lab's.
	start, end int64
	laterMarks []lab.Mark
	// A replay being built: the page runs play toward replayTo as fast as
	// the frame budget allows, then pauses there and says replayNote.
	replaying  bool
	replayTo   int64
	replayNote string
	note, err  string

	shareURL  string
	dirty     bool      // an action not written to the URL and the store yet
	written   time.Time // when the session was last written
	writtenAt int64     // the virtual time it was written at

	inspected *Inspected // what the inspector shows (nil: it is closed)
	keys      app.Func   // the keydown listener (listenKeys)

	// The pace (see tick): when the world was last stepped and the page
	// last redrawn, the lab's state each group of panels was redrawn with
	// (see drawGroups), and the group whose turn is next.
	lastTick, lastDraw time.Time
	shown              [drawGroups]shownState
	turn               int
	checked            uint64 // the lab's Version when the tick last checked acknowledged records
	// drawStart is when the page's last redraw began (Render), drawCost
	// how long the last redraw the tick asked for took, DOM updates
	// included, and fullCost what drawing every group would take (the
	// cost of a redraw of one group, times drawGroups).
	drawStart          time.Time
	drawCost, fullCost time.Duration
	gc                 *gcPacer
}

// shownState is what the panels were last drawn with: go-app redraws a
// child only when one of its exported fields changes, so a panel whose
// fields keep these values is not drawn again.
type shownState struct {
	version, wire, metrics uint64
	now                    int64 // virtual time
}

// SessionStore keeps the page's session (its encoded text, lab.Session)
// across reloads; wasm/session implements it in the browser. Load may
// block (the page calls it off its UI goroutine); Save must not.
type SessionStore interface {
	Load() (string, bool)
	Save(string)
}

// The page's lab: the seed is fixed so that every visitor starts from the
// same cluster; latency is high enough to watch requests travel.
// request.timeout.ms is 10 s rather than Kafka's 30 s: a killed broker in
// the sim loses its requests silently, where a real one's TCP connections
// would reset at once, so clients would wait the whole timeout.
var labConfig = lab.Config{Seed: 1, MinLatencyMs: 40, MaxLatencyMs: 120, ClientRequestTimeoutMs: 10000}

// sessionParam names the session in the URL's fragment (#s=...): a
// fragment never reaches the server.
const sessionParam = "s"

// OnMount starts the world and its clock (begin): the session in the URL if
// there is one, else the one saved before the reload, else a new cluster.
func (p *Page) OnMount(ctx app.Context) {
	p.speed = 100
	ctx.Handle(inspectAction, func(_ app.Context, a app.Action) {
		if s, ok := a.Value.(Inspected); ok {
			p.inspected = &s
		}
	})
	if v, err := url.ParseQuery(ctx.Page().URL().Fragment); err == nil && v.Get(sessionParam) != "" {
		p.begin(ctx, "the link", v.Get(sessionParam))
	} else if p.Store != nil {
		// The store is asynchronous (IndexedDB): read it off the UI
		// goroutine; the page says it is starting meanwhile.
		store := p.Store
		ctx.Async(func() {
			t, ok := store.Load()
			ctx.Dispatch(func(ctx app.Context) {
				if ok {
					p.begin(ctx, "the saved session", t)
				} else {
					p.begin(ctx, "", "")
				}
			})
		})
	} else {
		p.begin(ctx, "", "")
	}
	p.listenKeys(ctx)
}

// begin starts the world from the session text came from ("" for a new
// cluster), and its clock.
func (p *Page) begin(ctx app.Context, from, text string) {
	s, err := lab.Session{}, error(nil)
	if from != "" {
		s, err = lab.DecodeSession(text)
		if err != nil {
			p.err = fmt.Sprintf("Could not open %s: %v. A new cluster started instead.", from, err)
			from = ""
		}
	}
	if from == "" {
		p.setPlayer(lab.NewPlayer(labConfig, nil))
	} else {
		p.replay(s.Config, s.Actions, s.Now, fmt.Sprintf("Opened %s", from))
	}
	p.start, p.end = p.lab.Now(), max(p.lab.Now(), p.replayTo)
	p.lastTick = time.Now()
	ctx.After(tickEvery, p.tick)
}

// listenKeys binds the keyboard shortcuts: space pauses or resumes, →
// steps to the next event. Keys typed into a field, or pressed on a
// focused button (space clicks it), are left alone.
func (p *Page) listenKeys(ctx app.Context) {
	p.keys = app.FuncOf(func(_ app.Value, args []app.Value) any {
		e := args[0]
		if e.Get("ctrlKey").Bool() || e.Get("metaKey").Bool() || e.Get("altKey").Bool() {
			return nil
		}
		switch e.Get("target").Get("tagName").String() {
		case "INPUT", "SELECT", "TEXTAREA", "BUTTON":
			return nil
		}
		switch e.Get("key").String() {
		case " ":
			e.Call("preventDefault") // the page would scroll
			ctx.Dispatch(func(app.Context) { p.paused = !p.paused })
		case "ArrowRight":
			e.Call("preventDefault")
			ctx.Dispatch(func(app.Context) { p.step() })
		}
		return nil
	})
	app.Window().Call("addEventListener", "keydown", p.keys)
}

// OnDismount unbinds the keyboard shortcuts.
func (p *Page) OnDismount() {
	if p.keys != nil {
		app.Window().Call("removeEventListener", "keydown", p.keys)
		p.keys.Release()
		p.keys = nil
	}
}

// setPlayer makes pl's lab the one shown.
func (p *Page) setPlayer(pl *lab.Player) {
	p.play, p.lab = pl, pl.Lab()
	p.lab.OnAction(p.onAction)
}

// replay builds a new lab from cfg and replays actions up to time to,
// across frames; note says where it came from.
func (p *Page) replay(cfg lab.Config, actions []lab.Action, to int64, note string) {
	p.setPlayer(lab.NewPlayer(cfg, actions))
	p.replaying, p.replayTo, p.replayNote, p.owed = true, to, note, 0
	p.note = ""
}

// seek moves the world to virtual time t of this timeline: back, by a
// replay from the seed; forward, by running the rest of the timeline.
func (p *Page) seek(t int64) {
	t = min(max(t, p.start), p.end)
	if t >= p.lab.Now() {
		p.replaying, p.replayTo, p.replayNote = true, t, "Moved forward"
		return
	}
	p.laterMarks = p.marks()
	all := append(p.lab.Actions(), p.play.Pending()...)
	p.replay(p.lab.Config(), all, t, "Rewound")
}

// setUnclean rebuilds the world with the topic's
// unclean.leader.election.enable flipped: a new cluster from the same seed
// replays this timeline's actions up to now (the lab sets it only when it
// creates the topic).
func (p *Page) setUnclean(on bool) {
	cfg := p.lab.Config()
	cfg.UncleanLeaderElection = on
	p.laterMarks = nil
	all := append(p.lab.Actions(), p.play.Pending()...)
	p.replay(cfg, all, p.lab.Now(), fmt.Sprintf("Rebuilt with unclean.leader.election.enable=%t, replayed", on))
}

// onAction is called as the learner acts: acting while rewound forks a new
// timeline.
func (p *Page) onAction(lab.Action) {
	if n := len(p.play.Pending()); n > 0 || p.replaying {
		p.play.Drop()
		p.replaying, p.laterMarks = false, nil
		p.end = p.lab.Now()
		p.note = fmt.Sprintf("New timeline forked at %s: the old one's later moments and its %d later actions were dropped.", at(p.end), n)
	}
	p.dirty = true
}

// step pauses, then runs the world until the next thing happens (at most a
// second of virtual time).
func (p *Page) step() {
	if p.lab == nil {
		return // the saved session is still loading
	}
	p.paused = true
	if !p.replaying {
		p.play.NextEvent(1000)
	}
}

// The page's pace. Go wasm runs on the page's main thread, so whatever
// the page does in one go blocks the browser for that long: frames are not
// drawn and input waits. The page therefore works in short slices:
//
//   - every tickEvery it steps the world, in steps of stepMs virtual ms,
//     and stops after stepBudget of wall time: at high speed a busy
//     cluster runs slower than asked rather than blocking the main thread
//     (what is owed past maxOwedMs is dropped). A replay runs in the same
//     steps under the same budget. Time left over brings the check of
//     acknowledged records up to date, so that a redraw finds it done.
//   - it redraws at most every drawEvery, and less often when redrawing
//     is slow: the next redraw waits drawDuty times the length of recent
//     ones (Go's part: rendering and DOM updates), up to maxDrawGap, so
//     that redraws delay few of the browser's frames. It redraws only
//     what changed: each panel gets the lab's small version numbers, not
//     its state, and go-app redraws a child only when one of its exported
//     fields changes. A tick that redraws steps for half the budget:
//     go-app draws in a task of its own a few ms later.
//   - a tick that does not redraw collects garbage instead of stepping
//     when the heap nears the point where Go would start a collection
//     inside some redraw (gcPacer).
//   - when drawing every panel takes more than splitAbove, a redraw draws
//     one group of panels (drawGroups) in turn while time runs: under
//     load every panel changes, and drawing them all at once took 50–80
//     ms, a long task that delays frames and input. Otherwise, and when
//     time stands still (paused, a replay done), one redraw draws every
//     group, so every panel shows the same moment (the tests rely on it).
//
// A click redraws what it touched at once, whatever the pace (go-app
// updates the component that handled the event).
const (
	tickEvery  = 20 * time.Millisecond
	stepBudget = 6 * time.Millisecond
	stepMs     = 5
	maxOwedMs  = 2000
	drawEvery  = 100 * time.Millisecond
	drawDuty   = 25
	maxDrawGap = time.Second
	// The groups of panels drawn in turn: the brokers' logs (Cluster),
	// about half of a busy redraw, the main column's other panels, and
	// the side column.
	drawGroups = 3
	drawLogs   = 0
	drawMain   = 1
	drawSide   = 2
	splitAbove = 25 * time.Millisecond
)

// The session is written to the URL and the store at most once per
// writeEvery after an action, and every keepEvery while time runs.
const (
	writeEvery = time.Second
	keepEvery  = 5 * time.Second
)

func (p *Page) tick(ctx app.Context) {
	if p.lab == nil {
		return
	}
	start := time.Now()
	elapsed := min(start.Sub(p.lastTick), 5*tickEvery) // a throttled background tab does not catch up
	p.lastTick = start
	draw := start.Sub(p.lastDraw) >= min(max(drawEvery, drawDuty*p.drawCost), maxDrawGap)
	budget := stepBudget
	if draw {
		budget /= 2
	}
	if p.gc == nil {
		p.gc = newGCPacer()
	}
	if !draw && p.gc.due() {
		runtime.GC() // the collection is this tick's work (see gcPacer)
		budget = 0
	}
	switch {
	case p.replaying:
		for p.lab.Now() < p.replayTo && time.Since(start) < budget {
			p.play.AdvanceTo(min(p.lab.Now()+stepMs, p.replayTo))
		}
		if p.lab.Now() >= p.replayTo {
			p.replaying, p.paused = false, true
			p.note = fmt.Sprintf("%s to %s: a new cluster from seed %d replayed %d actions of the log.",
				p.replayNote, at(p.lab.Now()), p.lab.Config().Seed, p.lab.ActionCount())
			p.dirty = true
		}
	case !p.paused:
		p.owed = min(p.owed+int64(elapsed/time.Millisecond)*p.speed/100, maxOwedMs)
		for p.owed > 0 && time.Since(start) < budget {
			step := min(p.owed, stepMs)
			p.play.AdvanceTo(p.lab.Now() + step)
			p.owed -= step
		}
	}
	if v := p.lab.Version(); v != p.checked && time.Since(start) < budget {
		p.lab.CheckAcked()
		p.checked = v
	}
	p.end = max(p.end, p.lab.Now())
	if !p.replaying && (p.dirty && time.Since(p.written) >= writeEvery ||
		p.lab.Now() != p.writtenAt && time.Since(p.written) >= keepEvery) {
		p.write(ctx)
	}
	cur := shownState{version: p.lab.Version(), wire: p.lab.WireVersion(), metrics: p.lab.MetricsVersion(), now: p.lab.Now()}
	if draw && p.drawn(cur) && !p.replaying {
		draw = false // nothing moved since the last redraw (paused)
	}
	if p.paused && !p.drawn(cur) {
		draw = true // at once: the groups drawn in turn may show different moments
	}
	if draw {
		p.lastDraw = start
		groups := 1
		if p.paused || p.replaying || p.fullCost <= splitAbove {
			groups = drawGroups
			for g := range p.shown {
				p.shown[g] = cur
			}
		} else {
			for p.shown[p.turn] == cur { // some group differs: drawn(cur) is false
				p.turn = (p.turn + 1) % drawGroups
			}
			p.shown[p.turn] = cur
			p.turn = (p.turn + 1) % drawGroups
		}
		ctx.Defer(func(app.Context) { // after the redraw
			took := time.Since(p.drawStart)
			p.drawCost = (3*p.drawCost + took) / 4
			p.fullCost = (3*p.fullCost + took*drawGroups/time.Duration(groups)) / 4
		})
	} else {
		ctx.PreventUpdate() // the tick's dispatch would redraw the page
	}
	ctx.After(max(tickEvery-time.Since(start), time.Millisecond), p.tick)
}

// drawn reports whether every group of panels shows cur.
func (p *Page) drawn(cur shownState) bool {
	for _, sh := range p.shown {
		if sh != cur {
			return false
		}
	}
	return true
}

// write puts the session in the URL (replaceState: no new history entry)
// and in the store.
func (p *Page) write(ctx app.Context) {
	text := p.lab.Session().Encode()
	u := *ctx.Page().URL()
	u.Fragment = sessionParam + "=" + text
	ctx.Page().ReplaceURL(&u)
	if p.Store != nil {
		p.Store.Save(text)
	}
	p.dirty, p.written, p.writtenAt = false, time.Now(), p.lab.Now()
}

// share writes the session now and shows its link.
func (p *Page) share(ctx app.Context) {
	p.write(ctx)
	p.shareURL = ctx.Page().URL().String()
}

// marks is the timeline's marks: the lab's up to now, the old timeline's
// after (when rewound).
func (p *Page) marks() []lab.Mark {
	out := p.lab.Marks()
	for _, m := range p.laterMarks {
		if m.At > p.lab.Now() {
			out = append(out, m)
		}
	}
	return out
}

// Render draws the page.
func (p *Page) Render() app.UI {
	if !app.IsClient || p.lab == nil {
		return app.Main().Class("page").Body(
			app.H1().Text("Streamlab"),
			app.P().Class("lede").Text("A Kafka-style event streaming cluster that runs in your browser. Starting three brokers…"),
		)
	}
	p.drawStart = time.Now()
	logs, sh, side := p.shown[drawLogs], p.shown[drawMain], p.shown[drawSide]
	l := p.lab
	now := max(logs.now, sh.now, side.now) // the newest moment drawn: the clock and the timeline
	stepNow := sh.now / nowStepMs * nowStepMs
	sideNow := side.now / nowStepMs * nowStepMs
	wire := uint64(0)
	if p.prefs.ShowWire {
		wire = side.wire
	}
	cfg := l.Config()
	return app.Main().Class("page").Body(
		app.Header().Class("top").Body(
			app.Div().Class("title").Body(
				app.H1().Text("Streamlab"),
				app.If(l.TopicReady(), func() app.UI {
					return app.Span().ID("app-ready").Class("status").Text(fmt.Sprintf("cluster up: %d brokers, topic %q ready", len(l.BrokerIDs()), cfg.Topic))
				}).Else(func() app.UI {
					return app.Span().Class("status").Text("starting the cluster…")
				}),
			),
			&Clock{Now: now, Paused: p.paused, Speed: p.speed,
				onPause: func() { p.paused = !p.paused }, onStep: p.step, onSkip: func(ms int64) { p.lab.Skip(ms) },
				onSpeed: func(s int64) { p.speed = s }},
		),
		&Timeline{Start: p.start, End: p.end, Now: now, Marks: p.marks(), Actions: l.ActionCount(), Pending: len(p.play.Pending()),
			Replaying: p.replaying, ReplayTo: p.replayTo, Note: p.note, Error: p.err, ShareURL: p.shareURL,
			onSeek: p.seek, onShare: p.share},
		app.P().Class("lede").Text(fmt.Sprintf("Three brokers form a KRaft cluster, each also a controller voter. Topic %q has %d partitions, "+
			"each on %d brokers (replication factor %d, min.insync.replicas=%d). Produce records, then break a broker: "+
			"the controller fences it and elects new leaders.",
			cfg.Topic, cfg.Partitions, cfg.ReplicationFactor, cfg.ReplicationFactor, cfg.MinInsyncReplicas)),
		app.If(l.AdminError() != nil, func() app.UI {
			return app.P().Class("error").Text("Creating the topic failed: " + errText(l.AdminError()))
		}),
		app.Div().Class("layout").Body(
			app.Div().Class("main-col").Body(
				&ProducerForm{Lab: l, Version: sh.version},
				&ProducerList{Lab: l, Now: stepNow},
				&Cluster{Lab: l, Version: logs.version},
				&FaultPanel{Lab: l, Version: sh.version, onUnclean: p.setUnclean},
				&ThroughputChart{Lab: l, Version: sh.metrics},
				&GroupPanel{Lab: l, Version: sh.version, Now: stepNow},
				&LagChart{Lab: l, Version: sh.metrics},
				&PartitionTable{Lab: l, Version: sh.version},
				&Network{Lab: l, Now: sh.now, Selected: p.inspectedFlight()},
			),
			app.Aside().Class("side-col").Body(
				&Lessons{Lab: l, Version: side.version, Now: sideNow},
				&Inspector{Lab: l, Sel: p.inspected, Version: p.inspectorVersion(side.version), Now: p.inspectorNow(sideNow), onClose: func() { p.inspected = nil }},
				&AckCheck{Lab: l, Version: side.version},
				&EventLog{Lab: l, Version: side.version, Wire: wire, Prefs: &p.prefs},
				&ConsumerPanel{Lab: l, Version: side.version},
			),
		),
		app.Footer().Class("limits").Body(
			app.P().Text("What is real here: the brokers, the controller quorum (etcd raft), the producer and the consumer are the Streamlab core, "+
				"exchanging Kafka protocol messages (franz-go kmsg) and raft messages over a simulated network with 40–120 ms latency; "+
				"every state and event shown is theirs. Simplified: a killed broker's connections do not reset, so clients wait "+
				"request.timeout.ms (10 s here, Kafka's default is 30 s) before trying elsewhere."),
			app.P().Text(fmt.Sprintf("Consumer groups are the core's group coordinator and consumers; here __consumer_offsets has %d partitions "+
				"(Kafka's offsets.topic.num.partitions is 50) to keep the page light, and each member runs one assignor.", lab.OffsetsTopicPartitions)),
			app.P().Text("The timeline, share links and restore on reload keep no recording: they keep the seed and the action log, "+
				"and replay the deterministic core (principle 3 of the design). "+
				"A cluster of live brokers, one per browser tab over WebRTC, is at /live."),
		),
	)
}

// inspectedFlight is the key of the message the inspector shows, "" if none.
func (p *Page) inspectedFlight() string {
	if p.inspected == nil || p.inspected.What != "message" {
		return ""
	}
	return flightKey(p.inspected.Flight)
}

// inspectorVersion redraws the inspector with the lab's state, except for a
// message, which does not change.
func (p *Page) inspectorVersion(v uint64) uint64 {
	if p.inspected == nil || p.inspected.What == "message" {
		return 0
	}
	return v
}

// inspectorNow is the clock an inspected member follows (see
// Inspector.Now), 0 for the rest.
func (p *Page) inspectorNow(stepNow int64) int64 {
	if p.inspected == nil || p.inspected.What != "member" {
		return 0
	}
	return stepNow
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
