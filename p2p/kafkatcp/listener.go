//go:build !js

// Package kafkatcp is the Kafka TCP listener of the native node: real Kafka
// clients (kcat, franz-go, sarama, the Java client) connect to it, and it
// hands their requests to a broker (a host.Host running it, or a mesh.Proxy
// reaching it elsewhere). It is framing only:
// the requests are the kmsg messages the core handles already (wire).
//
// Like Kafka, each connection is served serially: the next request is not
// read until the response to the previous one was written (Kafka mutes the
// channel while a request is in flight, SocketServer/Processor), and a
// Produce with acks=0 gets no response, so the next request is read at once.
// A request the machine does not implement (an unknown API key, or a version
// outside the ranges the machine answers ApiVersions with) closes the
// connection, as Kafka does (RequestContext.parseRequest throws
// InvalidRequestException), except ApiVersions, which the machine always
// answers: a version it does not know gets a v0 UNSUPPORTED_VERSION response
// with its ranges (KIP-511).
//
// Limits, so that no input can exhaust the node:
//   - frame size: socket.request.max.bytes (104857600), checked on the size
//     prefix before anything is buffered. A frame gets a buffer of its
//     announced size only within a budget shared by all connections
//     (frameBudget, for frames still arriving, as Kafka's
//     queued.max.request.bytes bounds its request memory pool); past it, its
//     buffer grows as its bytes arrive. So clients that announce 100 MB and
//     send 10 bytes cost at most the budget plus 64 KiB each;
//   - connections: MaxConnections; the accept loop waits for a free slot, as
//     Kafka's acceptor does (ConnectionQuotas.waitForConnectionSlot);
//   - idle connections: connections.max.idle.ms (600000);
//   - slow senders: a frame that has started must arrive within FrameTimeout;
//   - slow decoding: kmsg v1.15.0 can spin on a tag count larger than the
//     frame (see package wire); a request that takes longer than
//     DecodeTimeout to decode closes its connection, and its slot stays taken
//     until the decoder returns, so at most MaxConnections decoders run;
//   - per connection one request is in flight, so memory per connection is
//     bounded by the frame size (plus kmsg's decoding overhead, see wire).
package kafkatcp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/wire"
)

// DefaultAddr is where the node listens for Kafka clients unless told
// otherwise: loopback only, Kafka's port.
const DefaultAddr = "127.0.0.1:9092"

// Config is the listener's limits; DefaultConfig gives Kafka's defaults where
// Kafka has one.
type Config struct {
	// MaxFrameBytes is socket.request.max.bytes: a request frame larger
	// than this closes the connection (Kafka: InvalidReceiveException).
	MaxFrameBytes int
	// MaxConnections bounds open connections. Kafka's max.connections
	// defaults to 2147483647, in effect no bound; one process serving a
	// class is better off with one.
	MaxConnections int
	// IdleTimeout is connections.max.idle.ms: a connection that sends
	// nothing for this long between requests is closed.
	IdleTimeout time.Duration
	// FrameTimeout bounds the time from the first byte of a request to its
	// last. Kafka has no such limit (only the idle timeout); a half-sent
	// frame would otherwise hold its buffer for IdleTimeout.
	FrameTimeout time.Duration
	// DecodeTimeout bounds the time to decode one request (see the
	// package doc).
	DecodeTimeout time.Duration
	// ResponseTimeout bounds the wait for the machine's response, beyond
	// a Fetch's own MaxWaitMillis. A machine answers every request it
	// implements at once or, for a long-polling Fetch, within MaxWaitMillis;
	// this is a safety net against a machine that never answers.
	ResponseTimeout time.Duration
	// WriteTimeout bounds writing one response to a client that does not
	// read.
	WriteTimeout time.Duration
	// Versions, if set, are the API version ranges to serve, instead of
	// asking the broker (a proxied broker may not be reachable yet).
	Versions map[int16][2]int16
	// Logf logs connection errors (default log.Printf).
	Logf func(format string, args ...any)
}

// DefaultConfig returns Kafka's defaults and Streamlab's choices.
func DefaultConfig() Config {
	return Config{
		MaxFrameBytes:   104857600,
		MaxConnections:  1000,
		IdleTimeout:     600000 * time.Millisecond,
		FrameTimeout:    30 * time.Second,
		DecodeTimeout:   5 * time.Second,
		ResponseTimeout: 60 * time.Second,
		WriteTimeout:    60 * time.Second,
	}
}

// Target is the broker a listener's connections talk to: a *host.Host
// running it, or a mesh.Proxy reaching it elsewhere.
type Target interface {
	ID() core.NodeID          // the broker
	NewClientID() core.NodeID // an id for a new connection
	// Register makes deliver the destination of what the broker sends to
	// id; deliver must not block.
	Register(id core.NodeID, deliver func(core.Envelope))
	Unregister(id core.NodeID)
	Step(env core.Envelope) error // a request to the broker
	Done() <-chan struct{}        // closed when the broker stops
	Err() error                   // why it stopped
}

// Listener accepts Kafka connections for one broker.
type Listener struct {
	ln   net.Listener
	h    Target
	cfg  Config
	vers map[int16][2]int16 // what the machine answers ApiVersions with

	slots chan struct{} // one token per open connection
	quit  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	// arriving is the bytes of frame buffers allocated at their announced
	// size for frames not yet read in full (at most frameBudget).
	arriving int

	closeOnce sync.Once
}

// Serve starts accepting Kafka connections on ln for broker h, and returns
// once it has learned which API versions the broker implements (by asking
// it ApiVersions, as a client would; cfg.Versions saves asking). The
// listener owns ln from then on. Zero fields of cfg take DefaultConfig's
// values.
func Serve(ln net.Listener, h Target, cfg Config) (*Listener, error) {
	def := DefaultConfig()
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = def.MaxFrameBytes
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = def.MaxConnections
	}
	for _, d := range []struct {
		got *time.Duration
		def time.Duration
	}{
		{&cfg.IdleTimeout, def.IdleTimeout}, {&cfg.FrameTimeout, def.FrameTimeout},
		{&cfg.DecodeTimeout, def.DecodeTimeout}, {&cfg.ResponseTimeout, def.ResponseTimeout},
		{&cfg.WriteTimeout, def.WriteTimeout},
	} {
		if *d.got <= 0 {
			*d.got = d.def
		}
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	vers := cfg.Versions
	if vers == nil {
		var err error
		if vers, err = machineVersions(h, cfg.ResponseTimeout); err != nil {
			ln.Close()
			return nil, err
		}
	}
	l := &Listener{
		ln: ln, h: h, cfg: cfg, vers: vers,
		slots: make(chan struct{}, cfg.MaxConnections),
		quit:  make(chan struct{}),
		conns: map[*conn]struct{}{},
	}
	l.wg.Add(2)
	go l.accept()
	go func() {
		// A machine that stopped (a storage failure) answers nothing
		// more: end every connection so clients go elsewhere at once.
		defer l.wg.Done()
		select {
		case <-h.Done():
			cfg.Logf("kafkatcp: the machine stopped (%v): closing the listener", h.Err())
			l.shutdown()
		case <-l.quit:
		}
	}()
	return l, nil
}

// machineVersions asks the machine for its API versions.
func machineVersions(h Target, timeout time.Duration) (map[int16][2]int16, error) {
	id := h.NewClientID()
	got := make(chan *kmsg.ApiVersionsResponse, 1)
	h.Register(id, func(env core.Envelope) {
		if r, ok := env.Response.(*kmsg.ApiVersionsResponse); ok {
			select {
			case got <- r:
			default:
			}
		}
	})
	defer h.Unregister(id)
	req := kmsg.NewPtrApiVersionsRequest() // v0: every machine answers it
	if err := h.Step(core.Envelope{From: id, To: h.ID(), CorrelationID: 0, ClientID: "kafkatcp", Request: req}); err != nil {
		return nil, fmt.Errorf("kafkatcp: asking the machine for its API versions: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-got:
		if r.ErrorCode != 0 {
			return nil, fmt.Errorf("kafkatcp: the machine answers ApiVersions v0 with error %d", r.ErrorCode)
		}
		vers := map[int16][2]int16{}
		for _, k := range r.ApiKeys {
			vers[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
		}
		return vers, nil
	case <-h.Done():
		return nil, fmt.Errorf("kafkatcp: the machine stopped: %w", h.Err())
	case <-t.C:
		return nil, errors.New("kafkatcp: the machine does not answer ApiVersions")
	}
}

// Versions are the API version ranges the listener serves (what the
// broker answers ApiVersions with).
func (l *Listener) Versions() map[int16][2]int16 { return l.vers }

// Addr is the address the listener is bound to.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, closes every connection and waits until every
// goroutine of the listener has returned. It does not close the host.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.quit)
		err = l.shutdown()
	})
	l.wg.Wait()
	return err
}

// shutdown closes the socket and every connection.
func (l *Listener) shutdown() error {
	err := l.ln.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.nc.Close()
	}
	l.mu.Unlock()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (l *Listener) accept() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		// Wait for a free slot before accepting, as Kafka's acceptor
		// does: further clients wait in the kernel's backlog.
		select {
		case l.slots <- struct{}{}:
		case <-l.quit:
			return
		case <-l.h.Done():
			return
		}
		nc, err := l.ln.Accept()
		if err != nil {
			<-l.slots
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: back off as
				// net/http does rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.cfg.Logf("kafkatcp: accept: %v; retrying in %v", err, backoff)
				select {
				case <-time.After(backoff):
				case <-l.quit:
					return
				}
				continue
			}
			l.cfg.Logf("kafkatcp: accept: %v", err)
			return
		}
		backoff = 0
		if !l.startConn(nc, nil) {
			return
		}
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ServeConn serves one connection that did not come through the listener's
// socket (tests use net.Pipe), under the same limits, and returns when the
// connection is done. It closes nc.
func (l *Listener) ServeConn(nc net.Conn) {
	select {
	case l.slots <- struct{}{}:
	case <-l.quit:
		nc.Close()
		return
	}
	done := make(chan struct{})
	l.startConn(nc, done)
	<-done
}

// startConn registers and starts a connection that holds a slot; it reports
// false (and closes nc, freeing the slot) if the listener is closed. done, if
// not nil, is closed when the connection is over.
func (l *Listener) startConn(nc net.Conn, done chan struct{}) bool {
	c := &conn{l: l, nc: nc, resp: make(chan core.Envelope, 1)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		nc.Close()
		<-l.slots
		if done != nil {
			close(done)
		}
		return false
	}
	l.conns[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer func() {
			nc.Close()
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			<-l.slots
			l.wg.Done()
			if done != nil {
				close(done)
			}
		}()
		c.serve()
	}()
	return true
}

// supports reports whether the machine implements this version of the API.
func (l *Listener) supports(key, version int16) bool {
	r, ok := l.vers[key]
	return ok && version >= r[0] && version <= r[1]
}

// conn is one client connection: its own client node id and one goroutine
// that reads a request, hands it to the machine, waits for the response and
// writes it.
type conn struct {
	l    *Listener
	nc   net.Conn
	id   core.NodeID
	resp chan core.Envelope
}

func (c *conn) logf(format string, args ...any) {
	c.l.cfg.Logf("kafkatcp: %s (client %d): %s", c.nc.RemoteAddr(), c.id, fmt.Sprintf(format, args...))
}

func (c *conn) serve() {
	h := c.l.h
	c.id = h.NewClientID()
	h.Register(c.id, func(env core.Envelope) {
		select {
		case c.resp <- env:
		default:
			// A second response with one request in flight, or one
			// that came after its wait ended: the machine and the
			// client no longer agree, so end the connection.
			c.nc.Close()
		}
	})
	defer h.Unregister(c.id)
	br := bufio.NewReaderSize(c.nc, 16<<10)
	for {
		frame, err := c.readFrame(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				c.logf("%v", err)
			}
			return
		}
		if !c.handle(frame) {
			return
		}
	}
}

// Frame and response buffers. Every request frame is read into a buffer of
// its own, which the machine may keep: the broker keeps a Produce's record
// batches in its log without a copy (core.Envelope.Owned). A frame up to
// smallFrame bytes, or one that fits in frameBudget, gets a buffer of its
// announced size at once; a larger one grows as its bytes arrive.
//
// Responses are encoded into buffers from bufs, which go back once written.
// Without that, each of a consumer's multi-megabyte fetch responses would
// allocate, zero and (growing as it is encoded) copy its size several times.
// Pooled buffers are shared by all connections and dropped by the garbage
// collector when unused, so idle connections hold none.
const (
	smallFrame  = 64 << 10
	maxPooled   = 16 << 20 // larger buffers (a 50 MB fetch) are not kept
	frameBudget = 64 << 20 // announced bytes not yet arrived, all connections
)

var bufs sync.Pool // of *[]byte, each with cap in [smallFrame, maxPooled]

func getBuf() []byte {
	if b, ok := bufs.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return nil
}

func putBuf(b []byte) {
	if cap(b) >= smallFrame && cap(b) <= maxPooled {
		b = b[:0]
		bufs.Put(&b)
	}
}

// responseSize is about the size of resp encoded, so that a large fetch
// response is encoded without growing its buffer as it goes.
func responseSize(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64
	for _, t := range f.Topics {
		n += 64 + len(t.Topic)
		for _, p := range t.Partitions {
			n += 128 + len(p.RecordBatches) + 32*len(p.AbortedTransactions)
		}
	}
	return n
}

// readFrame reads one size-prefixed request frame into a buffer of its own:
// the idle timeout applies until its first byte, FrameTimeout to the rest.
func (c *conn) readFrame(br *bufio.Reader) (frame []byte, err error) {
	cfg := &c.l.cfg
	var prefix [4]byte
	c.nc.SetReadDeadline(time.Now().Add(cfg.IdleTimeout))
	if _, err := io.ReadFull(br, prefix[:1]); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("idle for connections.max.idle.ms=%d: closing", cfg.IdleTimeout.Milliseconds())
		}
		return nil, err
	}
	c.nc.SetReadDeadline(time.Now().Add(cfg.FrameTimeout))
	if _, err := io.ReadFull(br, prefix[1:]); err != nil {
		return nil, fmt.Errorf("reading a frame's size: %w", err)
	}
	// The prefix alone: ErrIncomplete means the size is acceptable.
	if _, _, err := wire.ReadFrame(prefix[:], cfg.MaxFrameBytes); !errors.Is(err, wire.ErrIncomplete) && err != nil {
		return nil, fmt.Errorf("%w (socket.request.max.bytes=%d)", err, cfg.MaxFrameBytes)
	}
	size := int(binary.BigEndian.Uint32(prefix[:]))
	var buf []byte
	if size <= smallFrame || c.l.reserve(size) {
		buf = make([]byte, 4, 4+size)
		if size > smallFrame {
			defer c.l.release(size)
		}
	} else {
		// Past the budget, the buffer grows as bytes arrive rather
		// than trusting the prefix.
		buf = make([]byte, 4, 4+smallFrame)
	}
	copy(buf, prefix[:])
	for len(buf) < 4+size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), 4+min(size, 2*(cap(buf)-4)))
			copy(grown, buf)
			buf = grown
		}
		n, err := br.Read(buf[len(buf):min(cap(buf), 4+size)])
		buf = buf[:len(buf)+n]
		if err != nil && len(buf) < 4+size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading a %d-byte frame: %w", size, err)
		}
	}
	frame, _, err = wire.ReadFrame(buf, cfg.MaxFrameBytes)
	return frame, err
}

// reserve takes n bytes of frameBudget for a frame's buffer, if there are.
func (l *Listener) reserve(n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.arriving+n > frameBudget {
		return false
	}
	l.arriving += n
	return true
}

// release gives back what reserve took once the frame has arrived (or not).
func (l *Listener) release(n int) {
	l.mu.Lock()
	l.arriving -= n
	l.mu.Unlock()
}

// handle decodes and serves one request; false closes the connection. The
// request aliases frame, which is its own: the machine may keep its bytes.
func (c *conn) handle(frame []byte) bool {
	cfg := &c.l.cfg
	h := c.l.h
	// kmsg may spin on hostile tagged fields (package wire): past the
	// deadline the connection is closed under the decoder's feet, and its
	// slot stays taken until the decoder returns.
	slow := time.AfterFunc(cfg.DecodeTimeout, func() {
		c.logf("decoding a %d-byte request takes longer than %v: closing", len(frame), cfg.DecodeTimeout)
		c.nc.Close()
	})
	hdr, req, err := wire.ReadRequest(frame)
	if !slow.Stop() {
		return false
	}
	var re *wire.RequestError
	if errors.As(err, &re) {
		hdr = re.Header
	}
	if hdr.Key == kmsg.ApiVersions.Int16() && re != nil && !c.l.supports(hdr.Key, hdr.Version) {
		// An ApiVersions newer than the machine's: Kafka does not parse
		// its body (RequestContext.parseRequest treats it as v0), and the
		// machine answers v0 with UNSUPPORTED_VERSION and its ranges
		// (KIP-511), whether or not kmsg knows the version.
		v := kmsg.NewPtrApiVersionsRequest()
		v.Version = hdr.Version
		req, err = v, nil
	}
	if err != nil {
		c.logf("closing: %v", err)
		return false
	}
	if hdr.Key != kmsg.ApiVersions.Int16() && !c.l.supports(hdr.Key, hdr.Version) {
		c.logf("closing: %s v%d is not supported", core.APIName(hdr.Key), hdr.Version)
		return false
	}
	env := core.Envelope{From: c.id, To: h.ID(), CorrelationID: hdr.CorrelationID, Request: req, Owned: true}
	if hdr.ClientID != nil {
		env.ClientID = *hdr.ClientID
	}
	if err := h.Step(env); err != nil {
		c.logf("closing: %v", err)
		return false
	}
	if p, ok := req.(*kmsg.ProduceRequest); ok && p.Acks == 0 {
		// Kafka sends no response to acks=0.
		return true
	}

	// Requests the machine may hold on purpose get their own wait on top:
	// a long-polling Fetch up to MaxWaitMillis, a JoinGroup until the
	// rebalance ends (up to its rebalance timeout, v1+, else the session
	// timeout).
	wait := cfg.ResponseTimeout
	switch r := req.(type) {
	case *kmsg.FetchRequest:
		wait += time.Duration(max(r.MaxWaitMillis, 0)) * time.Millisecond
	case *kmsg.JoinGroupRequest:
		wait += time.Duration(max(r.RebalanceTimeoutMillis, r.SessionTimeoutMillis, 0)) * time.Millisecond
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	var out core.Envelope
	select {
	case out = <-c.resp:
	case <-c.l.quit:
		return false
	case <-h.Done():
		c.logf("closing: %v", h.Err())
		return false
	case <-t.C:
		c.logf("closing: no response to %s v%d within %v", core.APIName(hdr.Key), hdr.Version, wait)
		return false
	}
	if out.CorrelationID != hdr.CorrelationID || out.Response == nil {
		c.logf("closing: the machine answered correlation id %d with %v", hdr.CorrelationID, out)
		return false
	}
	buf := wire.AppendResponse(slices.Grow(getBuf(), responseSize(out.Response)), out.CorrelationID, out.Response)
	c.nc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			c.logf("writing a response: %v", err)
		}
		return false
	}
	putBuf(buf)
	return true
}
