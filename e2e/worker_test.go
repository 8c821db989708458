//go:build !wasm && unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/room"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// The classroom signaling worker (wasm/worker: room.Handler on D1, built
// for Cloudflare Workers with syumai/workers) under `wrangler dev --local`
// on loopback, offline. tools/worker.sh install must have run (npm ci: it
// needs the registry, so outside the network namespace); the test builds
// the worker itself (tools/worker.sh build: Go only, offline once the
// modules are downloaded).

// Worker is a running `tools/worker.sh dev`: wrangler and the workerd it
// started, in one process group.
type Worker struct {
	URL string // http://127.0.0.1:PORT, no trailing slash

	cmd      *exec.Cmd
	stdin    io.WriteCloser // closing it stops the group (WORKER_STDIN_WATCH)
	out      *syncBuffer
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
}

// API is the signaling routes' base URL.
func (w *Worker) API() string { return w.URL + "/api/" }

var (
	workerBuildOnce sync.Once
	workerBuildErr  error
)

// StartWorker builds the worker (once per test binary) and runs it under
// wrangler dev with a fresh local D1 in a temporary directory; env adds
// variables of tools/worker.sh dev (WORKER_RATE_LIMIT=N). It is stopped,
// with every process it started, when the test ends.
func StartWorker(t testing.TB, env ...string) *Worker {
	t.Helper()
	root := RepoRoot(t)
	script := filepath.Join(root, "tools", "worker.sh")
	if _, err := os.Stat(filepath.Join(root, "tools", "worker", "node_modules", ".bin", "wrangler")); err != nil {
		t.Fatalf("no wrangler: run `tools/worker.sh install` first (outside netns-run: npm needs the registry): %v", err)
	}
	workerBuildOnce.Do(func() {
		cmd := exec.Command(script, "build")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			workerBuildErr = fmt.Errorf("tools/worker.sh build: %v\n%s", err, out)
		}
	})
	if workerBuildErr != nil {
		t.Fatal(workerBuildErr)
	}
	port := workerFreePort(t)
	cmd := exec.Command(script, "dev", strconv.Itoa(port))
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "WORKER_STATE="+t.TempDir(), "WORKER_STDIN_WATCH=1"), env...)
	setDeathSignal(cmd)
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true // the group is stopped as a whole
	// Pipes held open by a process that left the group do not hold Wait.
	cmd.WaitDelay = 5 * time.Second
	w := &Worker{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w.out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tools/worker.sh dev: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(stdout)
		lines.Buffer(nil, 1<<20)
		sent := false
		for lines.Scan() {
			line := lines.Text()
			w.out.Write([]byte(line + "\n"))
			if !sent && strings.Contains(line, "Ready on http://127.0.0.1:"+strconv.Itoa(port)) {
				close(ready)
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
		w.waitErr = cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		w.Stop(t)
		if t.Failed() {
			t.Logf("wrangler output:\n%s", w.out.String())
		}
	})
	select {
	case <-ready:
	case <-w.exited:
		t.Fatalf("wrangler dev exited before serving: %v\n%s", w.waitErr, w.out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("wrangler dev not ready within 90s:\n%s", w.out.String())
	}
	// Ready is printed when workerd listens; the first request also
	// compiles the wasm.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(w.API() + "rooms/AAAAAA")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker does not answer: %v %v\n%s", resp, err, w.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("figure: wrangler dev serving the worker at %s after %v", w.URL, time.Since(start).Round(time.Millisecond))
	return w
}

// Stop stops wrangler's whole process group: SIGTERM, then SIGKILL after
// 10s. Nothing of it is left when it returns.
func (w *Worker) Stop(t testing.TB) {
	w.stopOnce.Do(func() {
		pgid := w.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(10 * time.Second):
			t.Logf("wrangler ignored SIGTERM for 10s: killing its group")
		}
		// The leader may be gone while others of its group are not.
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(-pgid, 0) == nil {
			if time.Now().After(deadline) {
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
			if time.Now().After(deadline.Add(5 * time.Second)) {
				t.Errorf("wrangler's process group %d outlived SIGKILL", pgid)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		w.stdin.Close()
		<-w.exited
	})
}

func workerFreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// workerCall makes one request to the worker and decodes a 2xx answer into
// out; it returns the status and the body.
func workerCall(t *testing.T, method, url, token, contentType string, body []byte, out any) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, data)
		}
	}
	return resp.StatusCode, data, resp.Header
}

// workerRoom creates a room on the worker.
func workerRoom(t *testing.T, w *Worker, req room.CreateRequest) room.Room {
	t.Helper()
	b, _ := json.Marshal(req)
	var r room.Room
	status, data, _ := workerCall(t, "POST", w.API()+"rooms", "", "application/json", b, &r)
	if status != http.StatusCreated {
		t.Fatalf("POST rooms: %d %s", status, data)
	}
	return r
}

// workerWait polls cond every 50 ms until it holds or timeout passes.
func workerWait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func workerMemberIDs(ms []room.Member) []core.NodeID {
	ids := make([]core.NodeID, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

// TestWorkerSignaling runs the signaling flow against the worker: a room is
// created, two room.Clients join it and trade an offer, an answer and a
// candidate through D1, a third is refused (the room has 2 broker ids), one
// leaves and the other sees it, then the errors: no such room (404), a body
// over the limit (413), a bad token (401), a preflight and CORS headers.
func TestWorkerSignaling(t *testing.T) {
	Require(t)
	w := StartWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	r := workerRoom(t, w, room.CreateRequest{MaxBrokers: 2})
	if r.MaxBrokers != 2 || len(r.Code) != 6 || len(r.Members) != 0 {
		t.Fatalf("created %+v", r)
	}
	join := func(device string) *room.Client {
		t.Helper()
		start := time.Now()
		c, err := room.Join(ctx, room.ClientConfig{BaseURL: w.API(), Code: strings.ToLower(r.Code), Join: room.JoinRequest{Device: device}, Logf: t.Logf})
		if err != nil {
			t.Fatalf("%s: %v", device, err)
		}
		t.Logf("figure: %s joined room %s on the worker as broker %d in %v", device, r.Code, c.ID(), time.Since(start).Round(time.Millisecond))
		t.Cleanup(func() { c.Close() })
		return c
	}
	a := join("device a")
	b := join("device b")
	if a.ID() == b.ID() || a.ID() < 1 || a.ID() > 2 || b.ID() < 1 || b.ID() > 2 {
		t.Fatalf("broker ids %d and %d in a 2-broker room", a.ID(), b.ID())
	}
	workerWait(t, 30*time.Second, "device a sees 2 members", func() bool { return len(a.Members()) == 2 })

	got := make(chan rtc.Signal, 16)
	stopA := a.Receive(func(s rtc.Signal) { got <- s })
	defer stopA()
	gotB := make(chan rtc.Signal, 16)
	stopB := b.Receive(func(s rtc.Signal) { gotB <- s })
	defer stopB()
	receive := func(ch chan rtc.Signal, want rtc.Signal) time.Duration {
		t.Helper()
		start := time.Now()
		select {
		case s := <-ch:
			if s.From != want.From || s.To != want.To || s.Kind != want.Kind || s.Session != want.Session || s.SDP != want.SDP {
				t.Fatalf("got signal %+v, want %+v", s, want)
			}
			if want.Candidate != nil && (s.Candidate == nil || s.Candidate.Candidate != want.Candidate.Candidate) {
				t.Fatalf("got candidate %+v, want %+v", s.Candidate, want.Candidate)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s from %d to %d within 30s", want.Kind, want.From, want.To)
		}
		return time.Since(start)
	}
	mid := "0"
	offer := rtc.Signal{From: a.ID(), To: b.ID(), Session: 7, Kind: rtc.SignalOffer, SDP: "v=0 offer " + strings.Repeat("x", 2000)}
	if err := a.Send(offer); err != nil {
		t.Fatal(err)
	}
	d1 := receive(gotB, offer)
	answer := rtc.Signal{From: b.ID(), To: a.ID(), Session: 7, Kind: rtc.SignalAnswer, SDP: "v=0 answer"}
	if err := b.Send(answer); err != nil {
		t.Fatal(err)
	}
	d2 := receive(got, answer)
	cand := rtc.Signal{From: b.ID(), To: a.ID(), Session: 7, Kind: rtc.SignalCandidate,
		Candidate: &rtc.Candidate{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host", SDPMid: &mid}}
	if err := b.Send(cand); err != nil {
		t.Fatal(err)
	}
	d3 := receive(got, cand)
	t.Logf("figure: signals relayed through the worker's D1 in %v (offer), %v (answer), %v (candidate)",
		d1.Round(time.Millisecond), d2.Round(time.Millisecond), d3.Round(time.Millisecond))

	// The teacher's view, and a third device in a full room.
	var view room.Room
	if status, data, _ := workerCall(t, "GET", w.API()+"rooms/"+r.Code, "", "", nil, &view); status != 200 || len(view.Members) != 2 {
		t.Fatalf("GET room: %d %s", status, data)
	}
	_, err := room.Join(ctx, room.ClientConfig{BaseURL: w.API(), Code: r.Code, Logf: t.Logf})
	var se *room.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusConflict || !strings.Contains(se.Message, "room full") {
		t.Fatalf("third join: %v, want 409 room full", err)
	}

	// b leaves; a sees it.
	start := time.Now()
	if err := b.Close(); err != nil {
		t.Fatalf("b leaves: %v", err)
	}
	workerWait(t, 30*time.Second, "device a sees b leave", func() bool {
		ids := workerMemberIDs(a.Members())
		return len(ids) == 1 && ids[0] == a.ID()
	})
	t.Logf("figure: device a saw device b leave after %v", time.Since(start).Round(time.Millisecond))
	if err := a.Close(); err != nil {
		t.Fatalf("a leaves: %v", err)
	}
	if status, data, _ := workerCall(t, "GET", w.API()+"rooms/"+r.Code, "", "", nil, &view); status != 200 || len(view.Members) != 0 {
		t.Fatalf("GET room after both left: %d %s", status, data)
	}

	// Errors.
	if _, err := room.Join(ctx, room.ClientConfig{BaseURL: w.API(), Code: "ZZZZZZ", Logf: t.Logf}); !errors.As(err, &se) || se.Status != http.StatusNotFound {
		t.Fatalf("join ZZZZZZ: %v, want 404", err)
	}
	for _, c := range []struct {
		method, path, token, ctype string
		body                       []byte
		want                       int
		msg                        string
	}{
		{"GET", "rooms/ZZZZZZ", "", "", nil, 404, "no room"},
		{"GET", "rooms/not-a-code", "", "", nil, 404, "no such room"},
		{"POST", "rooms", "", "application/json", bytes.Repeat([]byte(" "), 70<<10), 413, "request body too large"},
		{"POST", "rooms/" + r.Code + "/signal", "", "application/json", bytes.Repeat([]byte("x"), 70<<10), 401, "invalid or expired token"},
		{"POST", "rooms/" + r.Code + "/join", "", "application/json", []byte(`{"device":"` + strings.Repeat("d", 70<<10) + `"}`), 413, "request body too large"},
		{"GET", "rooms/" + r.Code + "/poll?after=0", strings.Repeat("0", 32), "", nil, 401, "invalid or expired token"},
		{"POST", "rooms", "", "application/json", []byte(`{"maxBrokers":`), 400, "malformed request body"},
		{"DELETE", "rooms/" + r.Code, "", "", nil, 405, "not allowed"},
	} {
		status, data, h := workerCall(t, c.method, w.API()+c.path, c.token, c.ctype, c.body, nil)
		var er room.ErrorResponse
		if status != c.want || json.Unmarshal(data, &er) != nil || !strings.Contains(er.Error, c.msg) {
			t.Errorf("%s %s: %d %.200s, want %d with %q", c.method, c.path, status, data, c.want, c.msg)
		}
		if h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: no Access-Control-Allow-Origin: %v", c.method, c.path, h)
		}
	}

	// A browser's preflight before a call with a bearer token.
	req, _ := http.NewRequest("OPTIONS", w.API()+"rooms/"+r.Code+"/join", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight: %d %v", resp.StatusCode, h)
	}
}

// TestWorkerRateLimit: past its limit of requests per client address,
// the worker answers 429 with Retry-After (readable cross-origin) before
// any Go runs; preflights pass regardless.
func TestWorkerRateLimit(t *testing.T) {
	Require(t)
	const limit = 10
	w := StartWorker(t, fmt.Sprintf("WORKER_RATE_LIMIT=%d", limit))
	// Requests until the first 429: within 2×limit+1 even if a window
	// ends on the way (the readiness probe counted too).
	passed, refused := 0, false
	for !refused && passed <= 2*limit+1 {
		status, data, h := workerCall(t, "GET", w.API()+"rooms/AAAAAA", "", "", nil, nil)
		switch status {
		case http.StatusNotFound:
			passed++
		case http.StatusTooManyRequests:
			refused = true
			var er room.ErrorResponse
			if json.Unmarshal(data, &er) != nil || !strings.Contains(er.Error, "too many requests") ||
				h.Get("Retry-After") != "10" || h.Get("Access-Control-Allow-Origin") != "*" ||
				!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Fatalf("429 %s %v", data, h)
			}
		default:
			t.Fatalf("request %d: %d %s", passed+1, status, data)
		}
	}
	if !refused {
		t.Fatalf("%d requests passed, with a limit of %d per 10 s", passed, limit)
	}
	t.Logf("figure: with a limit of %d requests per 10 s, the worker refused request %d", limit, passed+1)
	req, _ := http.NewRequest("OPTIONS", w.API()+"rooms", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight while limited: %d", resp.StatusCode)
	}
}

// TestWorkerConcurrentJoins has six devices join one room at once: the
// joins collide on the room's row, and D1's compare-and-set must give each
// its own broker id (a lost update would give two the same).
func TestWorkerConcurrentJoins(t *testing.T) {
	Require(t)
	w := StartWorker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := workerRoom(t, w, room.CreateRequest{MaxBrokers: 6})
	const n = 6
	clients := make([]*room.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			clients[i], errs[i] = room.Join(ctx, room.ClientConfig{BaseURL: w.API(), Code: r.Code,
				Join: room.JoinRequest{Device: fmt.Sprintf("device %d", i)}, Logf: t.Logf})
		})
	}
	wg.Wait()
	seen := map[core.NodeID]int{}
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatalf("device %d: %v", i, errs[i])
		}
		defer c.Close()
		if j, dup := seen[c.ID()]; dup {
			t.Fatalf("devices %d and %d both got broker id %d", j, i, c.ID())
		}
		seen[c.ID()] = i
	}
	t.Logf("figure: %d concurrent joins on the worker took %v", n, time.Since(start).Round(time.Millisecond))
	workerWait(t, 30*time.Second, "every device sees 6 members", func() bool {
		for _, c := range clients {
			if len(c.Members()) != n {
				return false
			}
		}
		return true
	})
	var view room.Room
	if status, data, _ := workerCall(t, "GET", w.API()+"rooms/"+r.Code, "", "", nil, &view); status != 200 || len(view.Members) != n {
		t.Fatalf("GET room: %d %s", status, data)
	}
}

// TestWorkerClassroomTabs: two Chromium instances with separate profiles
// (two devices) open the node's /live page with ?room= a room created on
// the worker and ?signal= the worker's API: the page is served by one
// origin and signals through another (CORS, preflights included). Both
// join the 2-broker room through the worker, connect over WebRTC, and show
// 2 brokers live.
func TestWorkerClassroomTabs(t *testing.T) {
	Require(t)
	w := StartWorker(t)
	node := StartNode(t)
	r := workerRoom(t, w, room.CreateRequest{MaxBrokers: 2})
	url := fmt.Sprintf("%s/live?room=%s&signal=%s&session_timeout_ms=3000&request_timeout_ms=5000", node.URL, r.Code, w.API())

	start := time.Now()
	d := joinRoomDevices(t, node.URL, url, r.Code, 2)
	if ids := d.IDs; ids[0] == ids[1] || ids[0] < 1 || ids[0] > 2 || ids[1] < 1 || ids[1] > 2 {
		t.Fatalf("broker ids %v in a 2-broker room", ids)
	}
	d.waitLive(t, 2, 2)
	t.Logf("figure: 2 devices joined room %s on the worker → 2 brokers live in %v", r.Code, time.Since(start).Round(time.Millisecond))
	var view room.Room
	if status, data, _ := workerCall(t, "GET", w.API()+"rooms/"+r.Code, "", "", nil, &view); status != 200 || len(view.Members) != 2 {
		t.Fatalf("GET room on the worker: %d %s", status, data)
	}
	for i, ctx := range d.Tabs {
		Screenshot(t, ctx, fmt.Sprintf("worker-device%d", i+1))
	}
	for _, b := range d.Browsers {
		pageNoExceptions(t, b)
	}
}
