package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// ErrClosed is a Client's Err after Close.
var ErrClosed = errors.New("room: client closed")

const (
	pollWait     = 25 * time.Second // asked of the server, which may bound it lower
	pollSlack    = 15 * time.Second // beyond pollWait before a poll is given up
	minBackoff   = 500 * time.Millisecond
	maxBackoff   = 5 * time.Second
	sendTimeout  = 15 * time.Second
	sendAttempts = 3
	sendQueue    = 256             // signals waiting for the sender
	maxPending   = 256             // signals received before a receiver is registered
	leaveTimeout = 5 * time.Second // a loaded worker starts a Go instance per request
)

// ClientConfig configures Join. BaseURL and Code are required.
type ClientConfig struct {
	// BaseURL is where the handler's routes are, e.g.
	// "http://127.0.0.1:8080/api/".
	BaseURL string
	Code    string
	Join    JoinRequest
	// Token takes back the id it held (from an earlier Client's Token).
	Token string
	// Fetch makes the requests (natively default HTTPFetcher; required in
	// the browser, see Fetcher).
	Fetch Fetcher
	// OnMembers gets the members after each poll, on the poll goroutine: it
	// must not block.
	OnMembers func([]Member)
	// OnFaults gets the room's faults on the poll goroutine (it must not
	// block): the join's first, then each change, once per Faults.Seq.
	OnFaults func(Faults)
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Client is one member of a room: it keeps polling the room (which keeps
// its id), and is the rtc.Signaler of the member's Transport.
type Client struct {
	cfg    ClientConfig
	base   string // BaseURL + "rooms/" + code + "/"
	joined JoinResponse

	ctx    context.Context // ended by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the poll goroutine has returned
	wg     sync.WaitGroup
	out    chan rtc.Signal // for the sender goroutine

	mu       sync.Mutex
	token    string // joined.Token, or the one of a rejoin
	members  []Member
	faults   Faults // as of the latest poll: the poll goroutine's to change
	err      error
	receiver *func(rtc.Signal)
	closed   bool

	// deliverMu keeps the signals in order between the poll goroutine and
	// Receive, which hands over what came before it.
	deliverMu sync.Mutex
	pending   []rtc.Signal
}

// Join takes a broker id in the room and starts polling it. ctx bounds only
// the join; the Client lives until Close, or until the room or the
// membership is gone (Done).
func Join(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("room: ClientConfig.BaseURL is required")
	}
	code, ok := normalizeCode(strings.TrimSpace(cfg.Code))
	if !ok {
		return nil, fmt.Errorf("room: bad room code %q: a code is %d letters and digits", cfg.Code, codeLen)
	}
	if cfg.Fetch == nil {
		if cfg.Fetch = defaultFetcher(); cfg.Fetch == nil {
			return nil, errors.New("room: ClientConfig.Fetch is required in the browser")
		}
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	cfg.Code = code
	c := &Client{
		cfg:  cfg,
		base: strings.TrimSuffix(cfg.BaseURL, "/") + "/rooms/" + code + "/",
		done: make(chan struct{}),
		out:  make(chan rtc.Signal, sendQueue),
	}
	if err := c.do(ctx, cfg.Token, http.MethodPost, "join", cfg.Join, &c.joined); err != nil {
		return nil, fmt.Errorf("room %s: join: %w", code, err)
	}
	if c.joined.ID < 1 || !validToken(c.joined.Token) {
		return nil, fmt.Errorf("room %s: join: malformed answer (id %d)", code, c.joined.ID)
	}
	c.members, c.token, c.faults = c.joined.Room.Members, c.joined.Token, c.joined.Room.Faults
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(2)
	go c.pollLoop()
	go c.sendLoop()
	return c, nil
}

// ID is the member's broker id.
func (c *Client) ID() core.NodeID { return c.joined.ID }

// Token takes the id back in a later Join (ClientConfig.Token).
func (c *Client) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Room is the room as it was at the join.
func (c *Client) Room() Room { return c.joined.Room }

// Kafka is the address Kafka clients reach this broker at, "" if none.
func (c *Client) Kafka() string { return c.joined.Kafka }

// Members are the live members as of the latest poll.
func (c *Client) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Member(nil), c.members...)
}

// Faults are the room's faults as of the latest poll.
func (c *Client) Faults() Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.faults.clone()
}

// Peers are the ids of the live members other than this one.
func (c *Client) Peers() []core.NodeID {
	var ids []core.NodeID
	for _, m := range c.Members() {
		if m.ID != c.ID() {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// Done is closed when the client stops polling: after Close, or when the
// server said the room or the membership is gone (Err says which).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the client stopped polling, nil while it polls.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close leaves the room (best effort, briefly) and stops the client's
// goroutines. It returns the leave's error, if any.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	if gone(c.Err()) {
		return nil // nothing to leave
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	defer cancel()
	if err := c.do(ctx, c.Token(), http.MethodPost, "leave", nil, nil); err != nil {
		return fmt.Errorf("room %s: leave: %w", c.cfg.Code, err)
	}
	return nil
}

// Send queues s for the server; it does not wait for it. Signals reach the
// server in order; one that fails there is logged and dropped.
func (c *Client) Send(s rtc.Signal) error {
	select {
	case <-c.done:
		return c.Err()
	default:
	}
	select {
	case c.out <- s:
		return nil
	default:
		return fmt.Errorf("room %s: signal queue full, signal to %d dropped", c.cfg.Code, s.To)
	}
}

// Receive makes handle the receiver of the member's signals, replacing any
// other, until stop; it first gets the signals that came while there was no
// receiver. handle must not block or call Receive.
func (c *Client) Receive(handle func(rtc.Signal)) (stop func()) {
	h := &handle
	c.deliverMu.Lock()
	c.mu.Lock()
	c.receiver = h
	c.mu.Unlock()
	pending := c.pending
	c.pending = nil
	for _, s := range pending {
		handle(s)
	}
	c.deliverMu.Unlock()
	return func() {
		c.mu.Lock()
		if c.receiver == h {
			c.receiver = nil
		}
		c.mu.Unlock()
	}
}

func (c *Client) deliver(sigs []rtc.Signal) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.mu.Lock()
	h := c.receiver
	c.mu.Unlock()
	if h == nil {
		c.pending = append(c.pending, sigs...)
		if n := len(c.pending) - maxPending; n > 0 {
			c.pending = c.pending[n:]
		}
		return
	}
	for _, s := range sigs {
		(*h)(s)
	}
}

// finish records why polling ended (the first reason only).
func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// gone says whether err is the server saying the room or the member is
// gone, which no retry mends.
func gone(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusNotFound)
}

func unauthorized(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == http.StatusUnauthorized
}

// rejoin takes the member's id back after the room let it go because it
// polled too late (a laptop asleep, a throttled background tab), if no
// one else has taken it since.
func (c *Client) rejoin() error {
	ctx, cancel := context.WithTimeout(c.ctx, sendTimeout)
	defer cancel()
	req := c.cfg.Join
	req.Want = c.joined.ID
	var resp JoinResponse
	if err := c.do(ctx, c.Token(), http.MethodPost, "join", req, &resp); err != nil {
		return err
	}
	if resp.ID != c.joined.ID || !validToken(resp.Token) {
		return fmt.Errorf("room %s: rejoin: malformed answer (id %d)", c.cfg.Code, resp.ID)
	}
	c.mu.Lock()
	c.token = resp.Token
	c.mu.Unlock()
	c.cfg.Logf("room %s: the room had let broker %d go (no poll within its lease): joined again", c.cfg.Code, resp.ID)
	return nil
}

func (c *Client) pollLoop() {
	defer c.wg.Done()
	defer close(c.done)
	var after uint64
	var backoff time.Duration
	wait := time.Duration(0) // the first poll answers at once: OnMembers soon after the join
	if c.cfg.OnFaults != nil {
		c.cfg.OnFaults(c.Faults()) // the join's, here so that it never runs on Join's caller
	}
	for {
		var resp PollResponse
		ctx, cancel := context.WithTimeout(c.ctx, wait+pollSlack)
		path := fmt.Sprintf("poll?after=%d&wait=%d&members=%s&faults=%d", after, wait.Milliseconds(), c.knownIDs(), c.Faults().Seq)
		err := c.do(ctx, c.Token(), http.MethodGet, path, nil, &resp)
		cancel()
		if c.ctx.Err() != nil {
			c.finish(ErrClosed)
			return
		}
		if unauthorized(err) && c.rejoin() == nil {
			after, wait = 0, 0
			continue
		}
		if gone(err) {
			c.finish(fmt.Errorf("room %s: poll: %w", c.cfg.Code, err))
			return
		}
		if err != nil {
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			delay := backoff
			var se *StatusError
			if errors.As(err, &se) && se.retryAfter > delay {
				delay = min(se.retryAfter, 6*maxBackoff)
			}
			c.cfg.Logf("room %s: poll: %v (retrying in %v)", c.cfg.Code, err, delay)
			select {
			case <-time.After(delay):
			case <-c.ctx.Done():
				c.finish(ErrClosed)
				return
			}
			continue
		}
		backoff, wait, after = 0, pollWait, resp.Seq
		c.mu.Lock()
		c.members = resp.Members
		newFaults := resp.Faults.Seq != c.faults.Seq
		if newFaults {
			c.faults = resp.Faults
		}
		c.mu.Unlock()
		// Faults first: a peer the teacher cut off is not to be reached
		// because of the members or signals that came with them.
		if newFaults && c.cfg.OnFaults != nil {
			c.cfg.OnFaults(c.Faults())
		}
		c.deliver(resp.Signals)
		if c.cfg.OnMembers != nil {
			c.cfg.OnMembers(c.Members())
		}
	}
}

// knownIDs are the ids of the members as the client last saw them: the
// server answers a poll at once if they changed since.
func (c *Client) knownIDs() string {
	var b strings.Builder
	for i, m := range c.Members() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(m.ID)))
	}
	return b.String()
}

func (c *Client) sendLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case s := <-c.out:
			c.post(s)
		}
	}
}

// post sends one signal, retrying briefly what may pass later.
func (c *Client) post(s rtc.Signal) {
	delay := minBackoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(c.ctx, sendTimeout)
		err := c.do(ctx, c.Token(), http.MethodPost, "signal", s, nil)
		cancel()
		if err == nil || c.ctx.Err() != nil {
			return
		}
		var se *StatusError
		transient := !errors.As(err, &se) || se.Status == http.StatusTooManyRequests || se.Status >= 500
		if !transient || attempt == sendAttempts {
			c.cfg.Logf("room %s: %s to %d dropped: %v", c.cfg.Code, s.Kind, s.To, err)
			return
		}
		if se != nil && se.retryAfter > delay {
			delay = min(se.retryAfter, maxBackoff)
		}
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			return
		}
		delay = min(2*delay, maxBackoff)
	}
}

// do makes one request of the member's room (path under it).
func (c *Client) do(ctx context.Context, token, method, path string, in, out any) error {
	return fetchJSON(ctx, c.cfg.Fetch, method, c.base+path, token, in, out)
}

// fetchJSON makes one request: in (if not nil) as the JSON body, the answer
// into out (if not nil); an error answer as a *StatusError.
func fetchJSON(ctx context.Context, f Fetcher, method, url, token string, in, out any) error {
	req := FetchRequest{Method: method, URL: url, Header: map[string]string{}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.Body = b
		req.Header["Content-Type"] = "application/json"
	}
	if token != "" {
		req.Header["Authorization"] = "Bearer " + token
	}
	resp, err := f.Fetch(ctx, req)
	if err != nil {
		return err
	}
	data := resp.Body
	if resp.Status < 200 || resp.Status > 299 {
		se := &StatusError{Status: resp.Status, Message: http.StatusText(resp.Status)}
		var e ErrorResponse
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			se.Message = e.Error
		}
		if secs, err := strconv.Atoi(resp.RetryAfter); err == nil && secs > 0 {
			se.retryAfter = time.Duration(secs) * time.Second
		}
		return se
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("malformed answer: %v", err)
		}
	}
	return nil
}
