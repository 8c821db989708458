package room

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// preflight sends what a browser sends before a cross-origin call with an
// Authorization header.
func (e *env) preflight(path, method string, extra map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Origin", "http://static.example")
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// allows says whether a comma-separated header value lists want.
func allows(list, want string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), want) {
			return true
		}
	}
	return false
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	for _, c := range []struct{ path, method string }{
		{"/api/rooms", "POST"},
		{"/api/rooms/" + code, "GET"},
		{"/api/rooms/" + code + "/join", "POST"},
		{"/api/rooms/" + code + "/signal", "POST"},
		{"/api/rooms/" + code + "/poll?after=0&wait=0", "GET"},
		{"/api/rooms/" + code + "/leave", "POST"},
		{"/api/rooms/NOSUCH/join", "POST"}, // the preflight does not look the room up
	} {
		resp := e.preflight(c.path, c.method, nil)
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("OPTIONS %s: %d, want 204", c.path, resp.StatusCode)
		}
		if got := h.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("OPTIONS %s: Allow-Origin %q", c.path, got)
		}
		if m := h.Get("Access-Control-Allow-Methods"); !allows(m, "GET") || !allows(m, "POST") {
			t.Errorf("OPTIONS %s: Allow-Methods %q", c.path, m)
		}
		if a := h.Get("Access-Control-Allow-Headers"); !allows(a, "Authorization") || !allows(a, "Content-Type") {
			t.Errorf("OPTIONS %s: Allow-Headers %q", c.path, a)
		}
		if h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("OPTIONS %s: no Max-Age", c.path)
		}
		if h.Get("Access-Control-Allow-Private-Network") != "" {
			t.Errorf("OPTIONS %s: Allow-Private-Network unasked", c.path)
		}
	}
	resp := e.preflight("/api/rooms", "POST", map[string]string{"Access-Control-Request-Private-Network": "true"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("private network preflight: %d, Allow-Private-Network %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Private-Network"))
	}
	// Outside the prefix there is nothing to preflight.
	if resp := e.preflight("/elsewhere", "GET", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("OPTIONS /elsewhere: %d, want 404", resp.StatusCode)
	}
}

// Every answer, errors included, may be read by a page of any origin, and
// the page may read Retry-After.
func TestCORSAnswers(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	jr := e.join(code, "", JoinRequest{Device: "a"})
	for _, c := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", "rooms", "", 201},
		{"GET", "rooms/" + code, "", 200},
		{"GET", "rooms/" + code + "/poll?after=0&wait=0", jr.Token, 200},
		{"GET", "rooms/ZZZZZZ", "", 404},
		{"GET", "rooms/" + code + "/poll", "", 401},
		{"DELETE", "rooms/" + code, "", 405},
		{"POST", "rooms/" + code + "/leave", jr.Token, 204},
	} {
		status, _, h := e.call(c.method, c.path, c.token, nil)
		if status != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, status, c.want)
		}
		if h.Get("Access-Control-Allow-Origin") != "*" || !allows(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
			t.Errorf("%s %s: Allow-Origin %q, Expose-Headers %q", c.method, c.path,
				h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Expose-Headers"))
		}
	}
}

// A 429 carries the CORS headers (so the page reads Retry-After), and
// preflights are not counted against the bucket.
func TestCORSRateLimited(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Rate, c.Burst = 1, 2 })
	for range 2 {
		e.call("GET", "rooms/ABCDEF", "", nil)
	}
	for range 5 {
		if resp := e.preflight("/api/rooms", "POST", nil); resp.StatusCode != 204 {
			t.Fatalf("preflight while rate limited: %d", resp.StatusCode)
		}
	}
	status, _, h := e.call("GET", "rooms/ABCDEF", "", nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third call: %d, want 429", status)
	}
	if h.Get("Retry-After") == "" || h.Get("Access-Control-Allow-Origin") != "*" || !allows(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Fatalf("429 headers: %v", h)
	}
}
