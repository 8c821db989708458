// Package host runs one deterministic core.Machine in real time (natively or in
// a browser tab): one goroutine owns the machine and is the only one to call
// it. It ticks the machine with the wall clock, steps it with the envelopes
// handed to Step, and after each Step or Tick handles Ready as core.Machine
// asks: the storage writes are made durable first, then the messages go to the
// callback registered for their destination, then the events go to the event
// sink, and the machine is told to Advance.
//
// A write that fails stops the machine for good (Err tells why): a machine
// whose state is ahead of its store must not send the acknowledgements that
// promise durability. The messages of that Ready are dropped.
package host

import (
	"errors"
	"fmt"
	"log"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// ErrClosed is returned by Step and Do once the host is closed.
var ErrClosed = errors.New("host: closed")

// Options tune a Host; the zero value is usable.
type Options struct {
	// TickInterval is how often the machine is ticked (default 10 ms).
	TickInterval time.Duration
	// Now is the clock in Unix milliseconds (default the wall clock).
	Now func() int64
	// Events, if set, gets every event of every Ready on the machine's
	// goroutine, after the Ready's messages were delivered. It must not
	// block or call the Host.
	Events func([]core.Event)
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
	// QueueLen is how many envelopes Step can queue before it blocks
	// (default 1024).
	QueueLen int
}

// Host runs one machine. Its methods are safe for concurrent use.
type Host struct {
	m     core.Machine
	id    core.NodeID
	store storage.Store
	opt   Options

	in   chan core.Envelope
	do   chan func(core.Machine)
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the machine goroutine has returned

	closeOnce sync.Once
	err       error // why the machine stopped; set before done is closed

	mu      sync.RWMutex
	deliver map[core.NodeID]func(core.Envelope)

	nextClient atomic.Int64
}

// Start runs m in a new goroutine. m must be freshly opened on store: Start
// ticks it once at the current time and handles its first Ready (for a
// broker opened by broker.Open, the writes and events of recovery) before
// Step or Do see it.
func Start(m core.Machine, store storage.Store, opt Options) *Host {
	if opt.TickInterval <= 0 {
		opt.TickInterval = 10 * time.Millisecond
	}
	if opt.Now == nil {
		opt.Now = func() int64 { return time.Now().UnixMilli() }
	}
	if opt.Logf == nil {
		opt.Logf = log.Printf
	}
	if opt.QueueLen <= 0 {
		opt.QueueLen = 1024
	}
	h := &Host{
		m: m, id: m.ID(), store: store, opt: opt,
		in:      make(chan core.Envelope, opt.QueueLen),
		do:      make(chan func(core.Machine)),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		deliver: map[core.NodeID]func(core.Envelope){},
	}
	go h.run()
	return h
}

// ID is the machine's node id.
func (h *Host) ID() core.NodeID { return h.id }

// Register makes deliver the destination of every message the machine sends
// to id, replacing any earlier registration. deliver runs on the machine's
// goroutine: it must not block or call the Host.
func (h *Host) Register(id core.NodeID, deliver func(core.Envelope)) {
	h.mu.Lock()
	h.deliver[id] = deliver
	h.mu.Unlock()
}

// Unregister forgets id: messages to it are dropped from the next Ready on
// (one being delivered may still reach it).
func (h *Host) Unregister(id core.NodeID) {
	h.mu.Lock()
	delete(h.deliver, id)
	h.mu.Unlock()
}

// NewClientID returns a node id for a new client (a connection), from
// core.ClientIDBase up, skipping ids that are registered. Ids wrap around
// before overflowing int32.
func (h *Host) NewClientID() core.NodeID {
	const span = int64(1<<31) - int64(core.ClientIDBase) // ids up to MaxInt32
	for {
		id := core.ClientIDBase + core.NodeID((h.nextClient.Add(1)-1)%span)
		h.mu.RLock()
		_, taken := h.deliver[id]
		h.mu.RUnlock()
		if !taken {
			return id
		}
	}
}

// Step queues env for the machine, blocking while the queue is full. It
// returns ErrClosed (or the error that stopped the machine) if the machine
// no longer runs.
func (h *Host) Step(env core.Envelope) error {
	select {
	case <-h.done:
		return h.Err()
	default:
	}
	select {
	case h.in <- env:
		return nil
	case <-h.done:
		return h.Err()
	}
}

// Do runs f on the machine's goroutine, between two Steps, and waits for it;
// the Ready that f causes (if it steps the machine) is handled as usual
// afterwards. Use it to read a machine's state safely.
func (h *Host) Do(f func(core.Machine)) error {
	ran := make(chan struct{})
	select {
	case h.do <- func(m core.Machine) { defer close(ran); f(m) }:
	case <-h.done:
		return h.Err()
	}
	select {
	case <-ran:
		return nil
	case <-h.done:
		select {
		case <-ran:
			return nil
		default:
		}
		return h.Err()
	}
}

// Done is closed once the machine has stopped: after Close, or after a
// storage failure.
func (h *Host) Done() <-chan struct{} { return h.done }

// Err is nil while the machine runs, ErrClosed after Close, and the storage
// failure (or a panic of the machine) that stopped it otherwise.
func (h *Host) Err() error {
	select {
	case <-h.done:
		return h.err
	default:
		return nil
	}
}

// Close stops the machine and waits for its goroutine to return. Envelopes
// still queued are dropped. It returns the error that had stopped the
// machine already, if any.
func (h *Host) Close() error {
	h.closeOnce.Do(func() { close(h.quit) })
	<-h.done
	if errors.Is(h.err, ErrClosed) {
		return nil
	}
	return h.err
}

// batchSteps bounds how many queued envelopes are stepped before their
// Ready is handled.
const batchSteps = 64

func (h *Host) run() {
	err := ErrClosed
	defer func() {
		if p := recover(); p != nil {
			// A machine that panics is in an unknown state: stop it, as
			// for a storage failure, rather than take down the process
			// with every other machine and connection.
			err = fmt.Errorf("host: machine %d panicked: %v", h.id, p)
			h.opt.Logf("%v\n%s", err, debug.Stack())
		}
		h.err = err
		close(h.done)
	}()
	h.m.Tick(h.opt.Now())
	if err = h.handleReady(); err != nil {
		return
	}
	ticker := time.NewTicker(h.opt.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-h.quit:
			err = ErrClosed
			return
		case env := <-h.in:
			h.m.Step(env)
			// Step what else is queued before handling Ready: one round
			// of writes for many requests (Kafka's group commit), with
			// the same order of writes and messages.
			for n := 1; n < batchSteps && h.stepQueued(); n++ {
			}
		case <-ticker.C:
			h.m.Tick(h.opt.Now())
		case f := <-h.do:
			f(h.m)
		}
		if err = h.handleReady(); err != nil {
			return
		}
	}
}

func (h *Host) stepQueued() bool {
	select {
	case env := <-h.in:
		h.m.Step(env)
		return true
	default:
		return false
	}
}

// handleReady drains the machine's Ready until it has nothing more to say.
// A storage failure stops the machine: the error is returned and the
// Ready's messages are never delivered.
func (h *Host) handleReady() error {
	for {
		rd := h.m.Ready()
		if rd.Empty() {
			return nil
		}
		if err := storage.Apply(h.store, rd.Writes); err != nil {
			err = fmt.Errorf("host: machine %d stopped: %w", h.id, err)
			h.opt.Logf("%v", err)
			if h.opt.Events != nil {
				h.opt.Events([]core.Event{core.StorageFailed{Err: err.Error()}})
			}
			return err
		}
		if len(rd.Messages) > 0 {
			// The destinations are called without the lock: one may take
			// a lock of its own that a caller of Register holds (mesh
			// registers under its mutex, and its send takes it).
			fs := make([]func(core.Envelope), len(rd.Messages))
			h.mu.RLock()
			for i, env := range rd.Messages {
				fs[i] = h.deliver[env.To]
			}
			h.mu.RUnlock()
			for i, env := range rd.Messages {
				if fs[i] != nil {
					fs[i](env)
				}
			}
		}
		if h.opt.Events != nil && len(rd.Events) > 0 {
			h.opt.Events(rd.Events)
		}
		h.m.Advance()
	}
}
