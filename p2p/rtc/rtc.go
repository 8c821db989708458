// Package rtc carries core envelopes between Streamlab nodes over WebRTC data
// channels: natively with pion/webrtc, in the browser (js/wasm) with the
// browser's own RTCPeerConnection, through the small conn interface.
//
// Each pair of nodes shares one ordered, reliable data channel. The stream
// on it is p2p/frame's: a hello from each side first (protocol version,
// node id, cluster name), then one frame per envelope, cut into messages of
// 16 KiB at most. A hello from another cluster, another protocol version, an
// unexpected id or a broker id the node does not accept is answered with a
// refusal frame that says why, and the connection is dropped.
//
// Threading: one goroutine per Transport owns the connections' state and
// does all the signaling work (in the browser it awaits promises: that must
// not happen inside a js callback); the platform's callbacks only post
// events to it. Each connection has a reader goroutine, which decodes and
// makes every callback for that peer (PeerUp, Receive..., PeerDown, in that
// order), and a writer goroutine, which sends the queued frames and waits
// while the channel's send buffer is full.
package rtc

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/frame"
)

// Errors, matched with errors.Is. PeerDown gets one of them (or a
// *RefusedError, or a frame decoding error) as the reason.
var (
	ErrClosed           = errors.New("rtc: transport closed")
	ErrNotConnected     = errors.New("rtc: peer not connected")
	ErrPeerClosed       = errors.New("rtc: peer closed the connection")
	ErrConnectionFailed = errors.New("rtc: connection failed (ICE)")
	ErrConnectTimeout   = errors.New("rtc: connection not established in time")
	ErrReplaced         = errors.New("rtc: replaced by a new connection from the peer")
	ErrSendQueueFull    = errors.New("rtc: send queue full, envelope dropped")
	ErrReceiveQueueFull = errors.New("rtc: receive queue full")
	ErrProtocol         = errors.New("rtc: peer protocol violation")

	// Reasons to refuse a peer's hello.
	ErrWrongCluster = errors.New("rtc: wrong cluster")
	ErrUnknownPeer  = errors.New("rtc: unknown broker id")
	ErrWrongPeer    = errors.New("rtc: unexpected node id")
	ErrVersion      = errors.New("rtc: peer protocol version mismatch")
)

// RefusedError is the reason a peer gave for refusing this node's hello.
type RefusedError struct {
	Peer   core.NodeID
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("rtc: refused by node %d: %s", e.Peer, e.Reason)
}

// Config describes a Transport. ID, Cluster and Signaler are required.
type Config struct {
	ID       core.NodeID
	Cluster  string
	Signaler Signaler

	// AllowPeer says whether a node may connect (nil: any node); a hello
	// from a refused id is answered with ErrUnknownPeer.
	AllowPeer func(core.NodeID) bool

	// Receive gets every envelope a peer sends, in the peer's order, on
	// that peer's reader goroutine: it may block, which holds back only
	// that peer (natively up to the sender, through the data channel's flow
	// control). It must not call Close.
	Receive func(from core.NodeID, env core.Envelope)
	// ReceiveState gets the state frames a peer sends (SendState), on the
	// same goroutine as Receive; b is the peer's payload.
	ReceiveState func(from core.NodeID, b []byte)
	// PeerUp says that Send(id, ...) now reaches id.
	PeerUp func(id core.NodeID)
	// PeerDown says that the connection to id is gone, or that an attempt
	// to connect failed, and why. A closed tab, a crashed process and a
	// failed ICE connection all end here: the layer above treats it as a
	// crashed broker and may Connect again.
	PeerDown func(id core.NodeID, err error)

	// ICEServers are STUN/TURN servers (none: host candidates only).
	ICEServers []ICEServer
	// Platform holds what only one platform understands (natively, the
	// pion API that creates the connections).
	Platform PlatformConfig
	// MaxFrame bounds a frame in both directions (default
	// frame.DefaultMaxFrame).
	MaxFrame int
	// ConnectTimeout bounds the time from Connect (or an offer) to both
	// hellos (default 20 s).
	ConnectTimeout time.Duration
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Transport connects one node to its peers.
type Transport struct {
	cfg   Config
	hello []byte

	stopSignals func()

	// events queue for the loop goroutine
	emu      sync.Mutex
	events   []func()
	wake     chan struct{}
	closed   bool          // Close was called
	loopDone chan struct{} // closed when the loop has returned

	// owned by the loop goroutine
	peers map[core.NodeID]*peer // the current attempt to each peer
	stop  bool

	// upMu guards up and every peer's dead flag.
	upMu sync.RWMutex
	up   map[core.NodeID]*peer

	wg sync.WaitGroup // peer goroutines
}

// New starts a transport and starts receiving signals. Connections come
// from Connect and from the offers of peers.
func New(cfg Config) (*Transport, error) {
	if cfg.Signaler == nil {
		return nil, errors.New("rtc: Config.Signaler is required")
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = frame.DefaultMaxFrame
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 20 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.PeerUp == nil {
		cfg.PeerUp = func(core.NodeID) {}
	}
	if cfg.PeerDown == nil {
		cfg.PeerDown = func(core.NodeID, error) {}
	}
	if cfg.Receive == nil {
		cfg.Receive = func(core.NodeID, core.Envelope) {}
	}
	if cfg.ReceiveState == nil {
		cfg.ReceiveState = func(core.NodeID, []byte) {}
	}
	hello, err := frame.AppendHello(nil, frame.Hello{ID: cfg.ID, Cluster: cfg.Cluster})
	if err != nil {
		return nil, err
	}
	t := &Transport{
		cfg: cfg, hello: hello,
		wake:     make(chan struct{}, 1),
		loopDone: make(chan struct{}),
		peers:    map[core.NodeID]*peer{},
		up:       map[core.NodeID]*peer{},
	}
	go t.loop()
	t.stopSignals = cfg.Signaler.Receive(func(s Signal) {
		if s.To == t.cfg.ID {
			t.post(func() { t.onSignal(s) })
		}
	})
	return t, nil
}

// ID is the local node id.
func (t *Transport) ID() core.NodeID { return t.cfg.ID }

// Connect starts connecting to peer unless a connection (or an attempt) to
// it exists. It does not wait: PeerUp or PeerDown tells how it went. When
// both nodes connect to each other at once, the lower id's offer wins.
func (t *Transport) Connect(peer core.NodeID) error {
	if peer == t.cfg.ID {
		return fmt.Errorf("rtc: node %d cannot connect to itself", peer)
	}
	if !t.post(func() { t.connect(peer) }) {
		return ErrClosed
	}
	return nil
}

// Send queues env for peer, in order after what was queued before. It does
// not block: the envelope is encoded now and sent by the peer's writer. It
// fails, dropping the envelope, if peer is not up (ErrNotConnected), the
// envelope does not encode or its frame exceeds MaxFrame, or too much is
// already queued for peer (ErrSendQueueFull): like a lossy network, which
// the core's timeouts and retries handle.
func (t *Transport) Send(peer core.NodeID, env core.Envelope) error {
	t.upMu.RLock()
	p := t.up[peer]
	t.upMu.RUnlock()
	if p == nil {
		return fmt.Errorf("%w: %d", ErrNotConnected, peer)
	}
	b, err := frame.AppendEnvelope(nil, env)
	if err != nil {
		return err
	}
	if len(b)-4 > t.cfg.MaxFrame {
		return fmt.Errorf("%w: %v is %d bytes > %d", frame.ErrFrameTooLarge, env, len(b)-4, t.cfg.MaxFrame)
	}
	if !p.out.push(b) {
		return fmt.Errorf("%w (%d)", ErrSendQueueFull, peer)
	}
	return nil
}

// SendState queues a state frame (what this member shares of its broker)
// for peer, as Send queues an envelope.
func (t *Transport) SendState(peer core.NodeID, payload []byte) error {
	t.upMu.RLock()
	p := t.up[peer]
	t.upMu.RUnlock()
	if p == nil {
		return fmt.Errorf("%w: %d", ErrNotConnected, peer)
	}
	b, err := frame.AppendState(nil, payload)
	if err != nil {
		return err
	}
	if !p.out.push(b) {
		return fmt.Errorf("%w (%d)", ErrSendQueueFull, peer)
	}
	return nil
}

// Peers returns the peers that are up.
func (t *Transport) Peers() []core.NodeID {
	t.upMu.RLock()
	defer t.upMu.RUnlock()
	ids := make([]core.NodeID, 0, len(t.up))
	for id := range t.up {
		ids = append(ids, id)
	}
	return ids
}

// Close drops every connection (each gets its PeerDown with ErrClosed) and
// waits for the transport's goroutines. It must not be called from a
// callback of the transport.
func (t *Transport) Close() error {
	t.emu.Lock()
	if t.closed {
		t.emu.Unlock()
		<-t.loopDone
		return nil
	}
	t.closed = true
	t.events = append(t.events, func() {
		for _, p := range t.peers {
			t.drop(p, ErrClosed, false)
		}
		t.stop = true
	})
	t.emu.Unlock()
	t.notify()
	t.stopSignals()
	<-t.loopDone
	t.wg.Wait()
	return nil
}

// post queues f for the loop goroutine; false once the transport is closed.
// It never blocks: the platform's callbacks (js callbacks under wasm) call it.
func (t *Transport) post(f func()) bool {
	t.emu.Lock()
	if t.closed {
		t.emu.Unlock()
		return false
	}
	t.events = append(t.events, f)
	t.emu.Unlock()
	t.notify()
	return true
}

func (t *Transport) notify() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Transport) loop() {
	defer close(t.loopDone)
	for !t.stop {
		<-t.wake
		t.emu.Lock()
		evs := t.events
		t.events = nil
		t.emu.Unlock()
		for _, f := range evs {
			f()
		}
	}
}

// sessionID names a new connection attempt; 53 bits survive a trip
// through JavaScript numbers.
func sessionID() uint64 { return rand.Uint64() >> 11 }

func (t *Transport) signal(p *peer, kind SignalKind, sdp string, c *Candidate) error {
	return t.cfg.Signaler.Send(Signal{From: t.cfg.ID, To: p.id, Session: p.session, Kind: kind, SDP: sdp, Candidate: c})
}

// connect runs on the loop: a new attempt as the offerer.
func (t *Transport) connect(id core.NodeID) {
	if t.peers[id] != nil {
		return
	}
	p := t.newPeer(id, sessionID(), true, nil)
	if p.dead {
		return
	}
	offer, err := p.conn.createOffer()
	if err == nil {
		err = p.conn.setLocalDescription(offer)
	}
	if err == nil {
		err = t.signal(p, SignalOffer, offer.SDP, nil)
	}
	if err != nil {
		t.drop(p, fmt.Errorf("rtc: offer to %d: %w", id, err), false)
	}
}

// onSignal runs on the loop.
func (t *Transport) onSignal(s Signal) {
	cur := t.peers[s.From]
	switch s.Kind {
	case SignalOffer:
		var prev <-chan struct{}
		if cur != nil {
			if cur.session == s.Session {
				return // a duplicate
			}
			glare := cur.offerer && !cur.remoteSet
			if glare && t.cfg.ID < s.From {
				return // both offered: ours wins, the peer answers it
			}
			// Either glare that the peer wins, or a new attempt from a
			// peer that considers the current connection dead (a reloaded
			// tab): the current one makes way. An attempt that lost the
			// race was never anything to the layer above: no PeerDown.
			t.drop(cur, ErrReplaced, glare)
			prev = cur.readerDone
		}
		p := t.newPeer(s.From, s.Session, false, prev)
		if p.dead {
			return
		}
		err := p.conn.setRemoteDescription(SessionDescription{Type: SDPOffer, SDP: s.SDP})
		var answer SessionDescription
		if err == nil {
			p.remoteSet = true
			answer, err = p.conn.createAnswer()
		}
		if err == nil {
			err = p.conn.setLocalDescription(answer)
		}
		if err == nil {
			err = t.signal(p, SignalAnswer, answer.SDP, nil)
		}
		if err != nil {
			t.drop(p, fmt.Errorf("rtc: answer to %d: %w", s.From, err), false)
		}
	case SignalAnswer:
		if cur == nil || cur.session != s.Session || !cur.offerer || cur.remoteSet {
			return
		}
		if err := cur.conn.setRemoteDescription(SessionDescription{Type: SDPAnswer, SDP: s.SDP}); err != nil {
			t.drop(cur, fmt.Errorf("rtc: answer from %d: %w", s.From, err), false)
			return
		}
		cur.remoteSet = true
		for _, c := range cur.candidates {
			t.addCandidate(cur, c)
		}
		cur.candidates = nil
	case SignalCandidate:
		if cur == nil || cur.session != s.Session || s.Candidate == nil {
			return
		}
		if !cur.remoteSet {
			// The answer is still on its way: keep a bounded few.
			if len(cur.candidates) < maxPendingCandidates {
				cur.candidates = append(cur.candidates, *s.Candidate)
			}
			return
		}
		t.addCandidate(cur, *s.Candidate)
	}
}

// maxPendingCandidates bounds the candidates kept before the answer.
const maxPendingCandidates = 64

func (t *Transport) addCandidate(p *peer, c Candidate) {
	if err := p.conn.addICECandidate(c); err != nil {
		// One bad candidate does not doom the connection: others may work.
		t.cfg.Logf("rtc: node %d: candidate from %d: %v", t.cfg.ID, p.id, err)
	}
}

// drop runs on the loop: it ends attempt p with err (unless it already has
// a reason), closes its connection in the background and lets its reader
// report PeerDown (not for a silent drop of an attempt that never came up).
func (t *Transport) drop(p *peer, err error, silent bool) {
	t.upMu.Lock()
	if p.dead {
		t.upMu.Unlock()
		return
	}
	p.dead = true
	if t.up[p.id] == p {
		delete(t.up, p.id)
	}
	t.upMu.Unlock()
	p.setErr(err)
	p.silent = silent
	if t.peers[p.id] == p {
		delete(t.peers, p.id)
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.in.close()
	close(p.done)
	if p.conn == nil {
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := p.conn.close(); err != nil {
			t.cfg.Logf("rtc: node %d: closing connection to %d: %v", t.cfg.ID, p.id, err)
		}
	}()
}

// checkHello says why a peer's hello is refused, nil if it is welcome.
func (t *Transport) checkHello(p *peer, h frame.Hello) error {
	switch {
	case h.Version != frame.Version:
		return fmt.Errorf("%w: node %d speaks v%d, node %d v%d", ErrVersion, h.ID, h.Version, t.cfg.ID, frame.Version)
	case h.Cluster != t.cfg.Cluster:
		return fmt.Errorf("%w: node %d is in cluster %q, node %d in %q", ErrWrongCluster, h.ID, h.Cluster, t.cfg.ID, t.cfg.Cluster)
	case h.ID != p.id:
		return fmt.Errorf("%w: node %d said hello as node %d", ErrWrongPeer, p.id, h.ID)
	case t.cfg.AllowPeer != nil && !t.cfg.AllowPeer(h.ID):
		return fmt.Errorf("%w: node %d is not a broker of cluster %q", ErrUnknownPeer, h.ID, t.cfg.Cluster)
	}
	return nil
}
