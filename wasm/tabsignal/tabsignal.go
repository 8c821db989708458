//go:build js && wasm

// Package tabsignal connects the tabs of one browser: an rtc.Signaler over a
// BroadcastChannel named "streamlab/<cluster>", and presence, so that each
// node learns which node ids are alive and can connect to them.
//
// Every message is a JSON text: {"Signal": {...}} or {"Presence": {...}}. A
// node announces itself when it opens (Join set: whoever hears it answers
// with its own presence at once), then every Interval, and says Bye when it
// closes. The channel's onmessage callback only copies the text into a
// bounded queue; one goroutine decodes and dispatches, so no handler ever
// runs inside a js callback.
package tabsignal

import (
	"encoding/json"
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// Presence is a node saying that it is alive (or, with Bye, leaving).
type Presence struct {
	ID   core.NodeID
	Join bool `json:",omitempty"` // just opened: answer with your presence
	Bye  bool `json:",omitempty"`
}

type message struct {
	Signal   *rtc.Signal `json:",omitempty"`
	Presence *Presence   `json:",omitempty"`
}

// Config describes a Channel.
type Config struct {
	Cluster string
	ID      core.NodeID
	// Interval between presence announcements (default 1 s). A node not
	// heard for 3 intervals is no longer listed by Peers.
	Interval time.Duration
	// Presence, if set, gets every presence of another node, on the
	// channel's goroutine; it must not block for long.
	Presence func(Presence)
}

// maxQueued bounds the messages waiting for the dispatcher: beyond it they
// are dropped, as signaling is best effort (rtc retries by timing out).
const maxQueued = 4096

// Channel is one node's end of the cluster's BroadcastChannel.
type Channel struct {
	cfg       Config
	bc        js.Value
	onMessage js.Func

	mu      sync.Mutex
	queue   []string
	handler func(rtc.Signal)
	gen     int // counts Receive calls
	seen    map[core.NodeID]time.Time
	closed  bool

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

// Open joins the cluster's channel and announces cfg.ID.
func Open(cfg Config) (*Channel, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	ctor := js.Global().Get("BroadcastChannel")
	if ctor.IsUndefined() {
		return nil, errors.New("tabsignal: this browser has no BroadcastChannel")
	}
	c := &Channel{
		cfg:  cfg,
		bc:   ctor.New("streamlab/" + cfg.Cluster),
		seen: map[core.NodeID]time.Time{},
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	c.onMessage = js.FuncOf(func(_ js.Value, args []js.Value) any {
		data := args[0].Get("data")
		if data.Type() != js.TypeString {
			return nil // not ours
		}
		c.mu.Lock()
		if !c.closed && len(c.queue) < maxQueued {
			c.queue = append(c.queue, data.String())
		}
		c.mu.Unlock()
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return nil
	})
	c.bc.Set("onmessage", c.onMessage)
	go c.run()
	c.announce(Presence{ID: cfg.ID, Join: true})
	return c, nil
}

// ID is this node's id.
func (c *Channel) ID() core.NodeID { return c.cfg.ID }

// Send implements rtc.Signaler.
func (c *Channel) Send(s rtc.Signal) error { return c.post(message{Signal: &s}) }

// Receive implements rtc.Signaler: handle gets the signals addressed to this
// node, on the channel's goroutine.
func (c *Channel) Receive(handle func(rtc.Signal)) (stop func()) {
	c.mu.Lock()
	c.gen++
	gen := c.gen
	c.handler = handle
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.gen == gen { // a later Receive replaced it: leave that one
			c.handler = nil
		}
		c.mu.Unlock()
	}
}

// Peers returns the other nodes heard within the last 3 intervals.
func (c *Channel) Peers() []core.NodeID {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []core.NodeID
	for id, at := range c.seen {
		if time.Since(at) <= 3*c.cfg.Interval {
			ids = append(ids, id)
		}
	}
	return ids
}

// Close says Bye, stops the goroutine and releases the channel and the
// callback.
func (c *Channel) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return nil
	}
	c.mu.Unlock()
	c.announce(Presence{ID: c.cfg.ID, Bye: true})
	c.mu.Lock()
	c.closed = true
	c.handler = nil
	c.mu.Unlock()
	close(c.quit)
	<-c.done
	c.bc.Set("onmessage", js.Null())
	c.bc.Call("close")
	c.onMessage.Release()
	return nil
}

func (c *Channel) announce(p Presence) {
	// Best effort: a lost one is followed by the next.
	_ = c.post(message{Presence: &p})
}

func (c *Channel) post(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return rtc.ErrClosed
	}
	c.bc.Call("postMessage", string(b))
	return nil
}

func (c *Channel) run() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-tick.C:
			c.announce(Presence{ID: c.cfg.ID})
		case <-c.wake:
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			c.mu.Unlock()
			for _, s := range q {
				c.dispatch(s)
			}
		}
	}
}

// dispatch handles one message; anything malformed is ignored.
func (c *Channel) dispatch(s string) {
	var m message
	if json.Unmarshal([]byte(s), &m) != nil {
		return
	}
	switch {
	case m.Signal != nil:
		if m.Signal.To != c.cfg.ID || m.Signal.From == c.cfg.ID {
			return
		}
		c.mu.Lock()
		h := c.handler
		c.mu.Unlock()
		if h != nil {
			h(*m.Signal)
		}
	case m.Presence != nil:
		p := *m.Presence
		if p.ID == c.cfg.ID {
			return
		}
		c.mu.Lock()
		if p.Bye {
			delete(c.seen, p.ID)
		} else {
			c.seen[p.ID] = time.Now()
		}
		c.mu.Unlock()
		if p.Join {
			c.announce(Presence{ID: c.cfg.ID})
		}
		if c.cfg.Presence != nil {
			c.cfg.Presence(p)
		}
	}
}
