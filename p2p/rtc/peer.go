package rtc

import (
	"fmt"
	"sync"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/frame"
)

const (
	// The writer waits while the channel buffers more than highWater
	// bytes, until it drains to lowWater (the channel's
	// bufferedAmountLowThreshold): enough in flight to fill the pipe,
	// without piling a backlog into the browser or pion.
	highWater = 1 << 20
	lowWater  = 256 << 10
	// maxQueued bounds the frames waiting for the writer, per peer.
	maxQueued = 64 << 20
	// maxInbox bounds the received messages waiting for the reader, per
	// peer. Natively the data channel then stops reading (flow control
	// reaches the sender); a browser cannot be held back: the peer is
	// dropped.
	maxInbox = 16 << 20
	// refuseLinger is how long a refusal may take to reach the peer
	// before the connection is closed anyway.
	refuseLinger = 2 * time.Second
)

// conn is what a peer needs from the platform: one peer connection with one
// negotiated data channel (ordered, reliable, id 0 on both sides: no in-band
// channel negotiation). native.go wraps pion, js.go the browser's
// RTCPeerConnection. Its methods are called from goroutines (the loop, the
// writer, drop's closer), never from its own callbacks.
type conn interface {
	createOffer() (SessionDescription, error)
	createAnswer() (SessionDescription, error)
	setLocalDescription(SessionDescription) error
	setRemoteDescription(SessionDescription) error
	addICECandidate(Candidate) error
	// send sends one binary message on the data channel.
	send(m []byte) error
	// bufferedAmount is the number of bytes the channel has yet to send.
	bufferedAmount() int
	// close closes the connection and frees what its callbacks hold;
	// events it may still cause find the attempt dead.
	close() error
}

// connEvents are what a conn reports. They never block, except message
// natively (see peer.deliver).
type connEvents struct {
	candidate func(Candidate)              // a local candidate to trickle
	open      func()                       // the data channel opened
	low       func()                       // bufferedAmount fell to lowWater
	message   func(data []byte, text bool) // one message, data the receiver's
	down      func(err error)              // ErrConnectionFailed or ErrPeerClosed
}

// peer is one connection attempt to a node, from creation to teardown.
type peer struct {
	t       *Transport
	id      core.NodeID
	session uint64
	offerer bool
	conn    conn            // nil if it could not be created
	prev    <-chan struct{} // the replaced attempt's readerDone: its PeerDown comes first

	// owned by the loop
	remoteSet  bool
	candidates []Candidate // received before the remote description
	writing    bool
	timer      *time.Timer

	dead bool // guarded by t.upMu; set by drop

	done       chan struct{} // closed by drop
	readerDone chan struct{} // closed when the reader has reported PeerDown
	low        chan struct{} // the channel's buffered amount fell to lowWater
	in         inbox
	out        outbox

	mu     sync.Mutex
	err    error // why the attempt ended: the first reason wins
	silent bool  // no PeerDown unless it was up (set by drop before done)
}

// newPeer runs on the loop: it creates the connection and starts the
// reader. Failures drop the attempt at once (p.dead).
func (t *Transport) newPeer(id core.NodeID, session uint64, offerer bool, prev <-chan struct{}) *peer {
	p := &peer{
		t: t, id: id, session: session, offerer: offerer, prev: prev,
		done: make(chan struct{}), readerDone: make(chan struct{}), low: make(chan struct{}, 1),
		in: newInbox(), out: newOutbox(),
	}
	t.peers[id] = p
	t.wg.Add(1)
	go p.read()
	c, err := newConn(&t.cfg, connEvents{
		candidate: func(c Candidate) { t.post(func() { t.candidate(p, c) }) },
		open: func() {
			t.post(func() {
				if !p.dead && !p.writing {
					p.writing = true
					t.wg.Add(1)
					go p.write()
				}
			})
		},
		low: func() { signal(p.low) },
		message: func(data []byte, text bool) {
			if text {
				p.fail(fmt.Errorf("%w: text message from node %d", ErrProtocol, p.id))
				return
			}
			p.deliver(data)
		},
		down: func(err error) { t.post(func() { t.drop(p, err, false) }) },
	})
	if err != nil {
		t.drop(p, fmt.Errorf("rtc: connection to %d: %w", id, err), false)
		return p
	}
	p.conn = c
	p.timer = time.AfterFunc(t.cfg.ConnectTimeout, func() {
		t.post(func() {
			if !p.isUp() {
				t.drop(p, ErrConnectTimeout, false)
			}
		})
	})
	return p
}

// candidate runs on the loop: it trickles one local candidate to the peer.
func (t *Transport) candidate(p *peer, c Candidate) {
	if p.dead {
		return
	}
	if err := t.signal(p, SignalCandidate, "", &c); err != nil {
		t.cfg.Logf("rtc: node %d: candidate to %d: %v", t.cfg.ID, p.id, err)
	}
}

func (p *peer) setErr(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// fail ends the attempt with err, from any goroutine.
func (p *peer) fail(err error) {
	p.setErr(err)
	p.t.post(func() { p.t.drop(p, err, false) })
}

func (p *peer) isUp() bool {
	p.t.upMu.RLock()
	defer p.t.upMu.RUnlock()
	return p.t.up[p.id] == p
}

// write sends the hello, then whatever Send queues, cut into messages.
func (p *peer) write() {
	defer p.t.wg.Done()
	if err := p.send(p.t.hello); err != nil {
		p.fail(err)
		return
	}
	for {
		select {
		case <-p.out.wake:
		case <-p.done:
			return
		}
		for m := range frame.Messages(p.out.take(), frame.MessageSize) {
			if err := p.send(m); err != nil {
				p.fail(err)
				return
			}
		}
	}
}

// send sends one message once the channel's buffer has room.
func (p *peer) send(m []byte) error {
	for p.conn.bufferedAmount() > highWater {
		select {
		case <-p.low:
		case <-p.done:
			return ErrClosed
		}
	}
	if err := p.conn.send(m); err != nil {
		return fmt.Errorf("rtc: send to %d: %w", p.id, err)
	}
	return nil
}

// readState is the reader's view of the handshake.
type readState struct {
	asm      *frame.Assembler
	hello    bool // the peer's hello came and was welcome
	accepted bool // the peer accepted this node's hello
	up       bool
	refusing bool // this node refused the peer: ignore it until it hangs up
	stopped  bool // the stream is unusable: read nothing more
}

// read decodes what arrives and makes every callback for this attempt.
func (p *peer) read() {
	t := p.t
	defer t.wg.Done()
	defer close(p.readerDone)
	st := readState{asm: frame.NewAssembler(t.cfg.MaxFrame)}
	for open := true; open; {
		select {
		case <-p.in.wake:
		case <-p.done:
			open = false // deliver what had arrived, then report
		}
		for _, m := range p.in.take() {
			p.handle(&st, m)
		}
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if st.up || !p.silent {
		t.cfg.PeerDown(p.id, err)
	}
}

func (p *peer) handle(st *readState, m []byte) {
	if st.stopped {
		return
	}
	frames, err := st.asm.Feed(m)
	for _, b := range frames {
		if st.stopped {
			return
		}
		p.handleFrame(st, b)
	}
	if err != nil && !st.stopped {
		p.fail(fmt.Errorf("rtc: stream from %d: %w", p.id, err))
		st.stopped = true
	}
}

func (p *peer) handleFrame(st *readState, b []byte) {
	t := p.t
	f, err := frame.Decode(b)
	if err != nil {
		p.fail(fmt.Errorf("rtc: frame from %d: %w", p.id, err))
		st.stopped = true
		return
	}
	switch {
	case f.Kind == frame.KindRefuse:
		p.fail(&RefusedError{Peer: p.id, Reason: f.Reason})
		st.stopped = true
	case st.refusing:
	case f.Kind == frame.KindHello && !st.hello:
		if err := t.checkHello(p, f.Hello); err != nil {
			p.setErr(err)
			p.out.pushAlways(frame.AppendRefuse(nil, err.Error()))
			st.refusing = true
			time.AfterFunc(refuseLinger, func() { p.fail(err) })
			return
		}
		st.hello = true
		p.out.pushAlways(frame.AppendAccept(nil))
		p.maybeUp(st)
	case f.Kind == frame.KindAccept && !st.accepted:
		st.accepted = true
		p.maybeUp(st)
	case f.Kind == frame.KindState && st.up:
		t.cfg.ReceiveState(p.id, f.State)
	case f.Kind >= frame.KindRequest && st.up: // an envelope
		t.cfg.Receive(p.id, f.Envelope)
	default:
		p.fail(fmt.Errorf("%w: unexpected %v frame from node %d", ErrProtocol, f.Kind, p.id))
		st.stopped = true
	}
}

// maybeUp reports the peer up once both hellos are accepted, after the
// attempt it replaced has reported down.
func (p *peer) maybeUp(st *readState) {
	if !st.hello || !st.accepted {
		return
	}
	if p.prev != nil {
		select {
		case <-p.prev:
		case <-p.done:
		}
	}
	t := p.t
	t.upMu.Lock()
	if p.dead {
		t.upMu.Unlock()
		st.stopped = true
		return
	}
	t.up[p.id] = p
	t.upMu.Unlock()
	st.up = true
	t.cfg.PeerUp(p.id)
}

// inbox holds received messages for the reader.
type inbox struct {
	mu     sync.Mutex
	msgs   [][]byte
	bytes  int
	closed bool
	wake   chan struct{} // messages arrived
	room   chan struct{} // the reader took everything
}

func newInbox() inbox {
	return inbox{wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// push queues m unless the inbox is full (false) or closed (dropped).
func (q *inbox) push(m []byte) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true
	}
	if q.bytes >= maxInbox {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, m)
	q.bytes += len(m)
	q.mu.Unlock()
	signal(q.wake)
	return true
}

func (q *inbox) take() [][]byte {
	q.mu.Lock()
	msgs := q.msgs
	q.msgs, q.bytes = nil, 0
	q.mu.Unlock()
	signal(q.room)
	return msgs
}

func (q *inbox) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// outbox holds encoded frames for the writer.
type outbox struct {
	mu     sync.Mutex
	frames [][]byte
	bytes  int
	wake   chan struct{}
}

func newOutbox() outbox { return outbox{wake: make(chan struct{}, 1)} }

// push queues a frame unless maxQueued bytes are already waiting.
func (q *outbox) push(b []byte) bool {
	q.mu.Lock()
	if q.bytes+len(b) > maxQueued {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, b)
	q.bytes += len(b)
	q.mu.Unlock()
	signal(q.wake)
	return true
}

// pushAlways queues a handshake frame: never refused, a few bytes.
func (q *outbox) pushAlways(b []byte) {
	q.mu.Lock()
	q.frames = append(q.frames, b)
	q.bytes += len(b)
	q.mu.Unlock()
	signal(q.wake)
}

func (q *outbox) take() [][]byte {
	q.mu.Lock()
	frames := q.frames
	q.frames, q.bytes = nil, 0
	q.mu.Unlock()
	return frames
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
