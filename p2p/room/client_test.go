package room

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

func (e *env) client(code string, options ...func(*ClientConfig)) *Client {
	e.t.Helper()
	cfg := ClientConfig{BaseURL: e.url(), Code: code, Fetch: HTTPFetcher{e.srv.Client()}, Logf: e.t.Logf}
	for _, o := range options {
		o(&cfg)
	}
	c, err := Join(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// recv waits for a signal on ch.
func recv(t *testing.T, ch <-chan rtc.Signal) rtc.Signal {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no signal in 5 s")
		return rtc.Signal{}
	}
}

func TestClient(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	e := newEnv(t)
	code := e.create(CreateRequest{MaxBrokers: 3, Kafka: map[core.NodeID]string{1: "127.0.0.1:9092"}}).Code

	members := make(chan []Member, 16)
	a := e.client(strings.ToLower(code), func(c *ClientConfig) {
		c.Join = JoinRequest{Device: "a", Kind: "node"}
		c.OnMembers = func(ms []Member) { members <- ms }
	})
	if a.ID() != 1 || a.Kafka() != "127.0.0.1:9092" || a.Room().Cluster != "room-"+code || len(a.Peers()) != 0 {
		t.Fatalf("a: id %d kafka %q room %+v peers %v", a.ID(), a.Kafka(), a.Room(), a.Peers())
	}
	if ms := <-members; len(ms) != 1 { // the first poll answers at once
		t.Fatalf("first members: %+v", ms)
	}
	b := e.client(code, func(c *ClientConfig) { c.Join.Device = "b" })
	if b.ID() != 2 || !slices.Equal(b.Peers(), []core.NodeID{1}) {
		t.Fatalf("b: id %d peers %v", b.ID(), b.Peers())
	}
	for ms := range members { // a's poll wakes when b joins
		if len(ms) == 2 {
			break
		}
	}
	if !slices.Equal(a.Peers(), []core.NodeID{2}) {
		t.Fatalf("a's peers: %v", a.Peers())
	}

	// Signals sent before b has a receiver wait for it, in order.
	for i := range 3 {
		if err := a.Send(rtc.Signal{From: 1, To: 2, Session: uint64(i), Kind: rtc.SignalCandidate}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	bch := make(chan rtc.Signal, 16)
	stopB := b.Receive(func(s rtc.Signal) { bch <- s })
	for i := range 3 {
		if s := recv(t, bch); s.Session != uint64(i) || s.From != 1 {
			t.Fatalf("signal %d: %+v", i, s)
		}
	}
	// A new receiver replaces the old; the old one's stop does not remove it.
	bch2 := make(chan rtc.Signal, 16)
	stopB2 := b.Receive(func(s rtc.Signal) { bch2 <- s })
	stopB()
	a.Send(rtc.Signal{From: 1, To: 2, Session: 9, Kind: rtc.SignalOffer, SDP: "v=0"})
	if s := recv(t, bch2); s.Session != 9 || s.SDP != "v=0" {
		t.Fatalf("to the new receiver: %+v", s)
	}
	stopB2()
	select {
	case s := <-bch:
		t.Fatalf("old receiver got %+v", s)
	default:
	}

	// A reloaded tab takes its id back with the token; the old client's
	// polls go on too (same token) until it closes.
	b2 := e.client(code, func(c *ClientConfig) { c.Token = b.Token() })
	if b2.ID() != 2 || b2.Token() != b.Token() {
		t.Fatalf("b2: id %d", b2.ID())
	}

	// Close leaves: the id is free again and a sees it.
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(b2.Err(), ErrClosed) || b2.Send(rtc.Signal{}) == nil {
		t.Fatalf("closed client: err %v", b2.Err())
	}
	// b's token is gone with b2's leave: b's poll gets a 401 and b, still
	// running, takes id 2 back with a new token.
	waitFor(t, "b joined again", func() bool { return b.Token() != b2.Token() && b.Err() == nil })
	if b.ID() != 2 {
		t.Fatalf("b rejoined as %d", b.ID())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var room Room
	e.must(200, "GET", "rooms/"+code, "", nil, &room)
	if len(room.Members) != 1 {
		t.Fatalf("members after leaving: %+v", room.Members)
	}

	// The room going away ends a's polling with a 404.
	var se *StatusError
	e.store.Delete(context.Background(), code)
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a still polls a deleted room")
	}
	if !errors.As(a.Err(), &se) || se.Status != 404 || !strings.Contains(a.Err().Error(), "no room "+code) {
		t.Fatalf("a's end: %v", a.Err())
	}
	a.Close()

	// Errors of Join.
	_, err := Join(context.Background(), ClientConfig{BaseURL: e.url(), Code: "ABCDEF", Fetch: HTTPFetcher{e.srv.Client()}})
	if !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("join of no room: %v", err)
	}
	if _, err := Join(context.Background(), ClientConfig{BaseURL: e.url(), Code: "AB0"}); err == nil {
		t.Fatal("join with a bad code")
	}
	full := e.create(CreateRequest{MaxBrokers: 1}).Code
	fullClient := e.client(full)
	_, err = Join(context.Background(), ClientConfig{BaseURL: e.url(), Code: full, Fetch: HTTPFetcher{e.srv.Client()}})
	if !errors.As(err, &se) || se.Status != 409 || !strings.Contains(err.Error(), "room full: all 1 broker ids are taken") {
		t.Fatalf("join of a full room: %v", err)
	}

	// No goroutine outlives Close (the server's and the idle connections'
	// aside).
	for _, c := range []*Client{a, b, b2, fullClient} {
		c.Close()
	}
	e.srv.CloseClientConnections()
	e.srv.Client().CloseIdleConnections()
	waitGoroutines(t, goroutines+2)
}

// waitGoroutines waits for the goroutine count to drop to at most n.
func waitGoroutines(t *testing.T, n int) {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientRetries: a poll that fails (a server down for a moment) is
// retried; the client keeps its id.
func TestClientRetries(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	var down atomic.Bool
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			writeError(w, errorf(503, "down for a moment"))
			return
		}
		e.h.ServeHTTP(w, r)
	}))
	t.Cleanup(flaky.Close)
	polls := make(chan []Member, 64)
	a := e.client(code, func(c *ClientConfig) {
		c.BaseURL, c.Fetch = flaky.URL+"/api", HTTPFetcher{flaky.Client()} // no trailing slash: Join adds it
		c.OnMembers = func(ms []Member) { polls <- ms }
	})
	<-polls
	down.Store(true)
	e.join(code, "", JoinRequest{}) // wakes a's poll; the next one fails
	time.Sleep(300 * time.Millisecond)
	down.Store(false)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ms := <-polls:
			if len(ms) == 2 {
				if a.Err() != nil {
					t.Fatal(a.Err())
				}
				return
			}
		case <-deadline:
			t.Fatal("the client did not recover")
		}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 5 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientRejoinsAfterLease: a member that polled too late (its lease
// ran out: a laptop asleep) takes its id back when it polls again, unless
// another member has taken it; then it ends with the 401.
func TestClientRejoinsAfterLease(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{MaxBrokers: 1}).Code
	a := e.client(code)
	old := a.Token()
	e.clock.Add(time.Hour) // a's lease runs out; its next poll gets a 401
	waitFor(t, "a joined again", func() bool { return a.Token() != old })
	if a.ID() != 1 || a.Err() != nil {
		t.Fatalf("a: id %d, err %v", a.ID(), a.Err())
	}

	// Now someone else takes the id while a is away: a ends. (a's long
	// poll may see its lease gone and take the id back first: then there
	// is nothing more to check.)
	e.clock.Add(time.Hour)
	status, data, _ := e.call("POST", "rooms/"+code+"/join", "", JoinRequest{})
	if status != 200 {
		t.Logf("a took its id back first (%d %s)", status, data)
		return
	}
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a still polls after its id was taken")
	}
	var se *StatusError
	if !errors.As(a.Err(), &se) || se.Status != 401 {
		t.Fatalf("a's end: %v", a.Err())
	}
}
