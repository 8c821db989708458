package room

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a handler on a memory store behind an httptest server.
type env struct {
	t     *testing.T
	h     *Handler
	store *MemStore
	clock *clock
	srv   *httptest.Server
}

// newEnv starts a handler without rate limiting unless options set it.
func newEnv(t *testing.T, options ...func(*Config)) *env {
	e := &env{t: t, store: NewMemStore(), clock: newClock()}
	cfg := Config{Store: e.store, Now: e.clock.Now, Rate: -1, Logf: t.Logf}
	for _, o := range options {
		o(&cfg)
	}
	e.h = NewHandler(cfg)
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) url() string { return e.srv.URL + "/api/" }

// call makes one request; body is sent as is if it is a string, as JSON
// otherwise. It checks that every answer but a 204 is JSON.
func (e *env) call(method, path, token string, body any) (int, []byte, http.Header) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/api/"+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusNoContent && !json.Valid(data) {
		e.t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode, data, resp.Header
}

// must makes a call that must answer want, decoding the answer into out.
func (e *env) must(want int, method, path, token string, body, out any) {
	e.t.Helper()
	status, data, _ := e.call(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, status, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// fails makes a call that must fail with status and an error containing msg.
func (e *env) fails(status int, msg, method, path, token string, body any) {
	e.t.Helper()
	got, data, _ := e.call(method, path, token, body)
	var er ErrorResponse
	if err := json.Unmarshal(data, &er); err != nil || got != status || !strings.Contains(er.Error, msg) {
		e.t.Fatalf("%s %s: %d %s, want %d with %q", method, path, got, data, status, msg)
	}
}

func (e *env) create(req CreateRequest) Created {
	e.t.Helper()
	var c Created
	e.must(http.StatusCreated, "POST", "rooms", "", req, &c)
	return c
}

func (e *env) join(code, token string, req JoinRequest) JoinResponse {
	e.t.Helper()
	var jr JoinResponse
	e.must(http.StatusOK, "POST", "rooms/"+code+"/join", token, req, &jr)
	return jr
}

func (e *env) poll(code, token string, after uint64, waitMs int) PollResponse {
	e.t.Helper()
	var pr PollResponse
	e.must(http.StatusOK, "GET", "rooms/"+code+"/poll?after="+itoa(after)+"&wait="+itoa(uint64(waitMs)), token, nil, &pr)
	return pr
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
