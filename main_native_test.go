//go:build !wasm

package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/wire"
)

func TestMain(m *testing.M) {
	routes()
	os.Exit(m.Run())
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHandlerServesPWA(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"app.wasm": "WASM", "app.css": "CSS"} {
		if err := os.WriteFile(filepath.Join(dir, "web", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newHandler(dir)

	code, page := get(t, h, "/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	for _, want := range []string{"<title>Streamlab</title>", `href="/web/app.css"`, `href="/web/icon.svg"`, "<h1>Streamlab</h1>"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /: missing %q", want)
		}
	}
	if strings.Contains(page, "app-ready") {
		t.Errorf("GET /: the server prerender must not contain #app-ready (it marks a running wasm app)")
	}

	// The wasm URL in app.js must be /web/app.wasm, whatever the static dir
	// (app.LocalDir(dir) would put dir into it).
	if _, js := get(t, h, "/app.js"); !strings.Contains(js, `"/web/app.wasm"`) {
		t.Errorf("app.js does not load /web/app.wasm")
	}
	if code, body := get(t, h, "/web/app.wasm"); code != http.StatusOK || body != "WASM" {
		t.Errorf("GET /web/app.wasm: %d %q", code, body)
	}
	if code, body := get(t, h, "/web/app.css"); code != http.StatusOK || body != "CSS" {
		t.Errorf("GET /web/app.css: %d %q", code, body)
	}
	if code, _ := get(t, h, "/web/"); code != http.StatusNotFound {
		t.Errorf("GET /web/: %d, want 404 (no listings)", code)
	}
	if code, _ := get(t, h, "/no-such-page"); code != http.StatusNotFound {
		t.Errorf("GET /no-such-page: %d, want 404", code)
	}

	_, manifest := get(t, h, "/manifest.webmanifest")
	if !strings.Contains(manifest, "/web/icon-512.png") || strings.Contains(manifest, "githubusercontent") {
		t.Errorf("manifest must list our own icons only: %s", manifest)
	}
	_, worker := get(t, h, "/app-worker.js")
	if strings.Contains(worker, "https://") {
		t.Errorf("service worker caches a remote resource (the browser may have no network): %s", worker)
	}
}

// TestStaticAssetsExist checks that every file the handler links to is in
// static/web (the wasm is a build artifact and is not checked).
func TestStaticAssetsExist(t *testing.T) {
	h := newHandler("static").(*app.Handler)
	paths := append([]string{h.Icon.Default, h.Icon.Large, h.Icon.Maskable, h.Icon.SVG}, h.Styles...)
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join("static", filepath.FromSlash(p))); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http", "127.0.0.1:0", "-static", t.TempDir(), "-kafka", ""}, pw, io.Discard)
		pw.Close()
	}()

	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output: %v", lines.Err())
	}
	url, ok := strings.CutPrefix(lines.Text(), "Streamlab serving ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("first line %q, want the bound URL", lines.Text())
	}
	res, err := http.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/: %s", url, res.Status)
	}

	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(rest.String(), "Streamlab stopped") {
		t.Errorf("missing stop message; rest of output: %q", rest.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-nope"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); err == nil {
		t.Error("stray argument accepted")
	}
}

// node is run() in a goroutine, with its output lines.
type node struct {
	cancel context.CancelFunc
	done   chan error
	lines  chan string
	stderr *strings.Builder
}

func startRun(t *testing.T, args ...string) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	n := &node{cancel: cancel, done: make(chan error, 1), lines: make(chan string, 100)}
	go func() {
		n.done <- run(ctx, append([]string{"-http", "127.0.0.1:0", "-static", t.TempDir()}, args...), pw, io.Discard)
		pw.Close()
	}()
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			n.lines <- s.Text()
		}
		close(n.lines)
	}()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// line returns the next output line starting with prefix, less the prefix.
func (n *node) line(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-n.lines:
			if !ok {
				t.Fatalf("output ended before %q", prefix)
			}
			if v, ok := strings.CutPrefix(l, prefix); ok {
				return v
			}
		case <-timeout:
			t.Fatalf("no %q line", prefix)
		}
	}
}

func (n *node) stop(t *testing.T) {
	t.Helper()
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
		n.done <- nil // a second stop returns at once
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// kafkaDo sends one request over a fresh connection and returns the response.
func kafkaDo(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(wire.AppendRequest(nil, wire.RequestHeader{CorrelationID: 1}, req)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, frame); err != nil {
		t.Fatal(err)
	}
	_, resp, err := wire.ReadResponse(frame, req.Key(), req.GetVersion())
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestRunServesKafka: the node serves Kafka on the port it bound and
// advertises it, keeps what was produced in -data across a restart, and
// stops cleanly.
func TestRunServesKafka(t *testing.T) {
	data := t.TempDir()
	n := startRun(t, "-kafka", "127.0.0.1:0", "-data", data)
	addr := n.line(t, "Streamlab Kafka listener on ")
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("Kafka address %q", addr)
	}
	n.line(t, "Streamlab serving ")

	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mresp := kafkaDo(t, addr, md).(*kmsg.MetadataResponse)
	if len(mresp.Brokers) != 1 || net.JoinHostPort(mresp.Brokers[0].Host, strconv.Itoa(int(mresp.Brokers[0].Port))) != addr {
		t.Fatalf("advertised %+v, listening on %s", mresp.Brokers, addr)
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 7
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
	if code := kafkaDo(t, addr, ct).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create: %d", code)
	}
	pr := kmsg.NewPtrProduceRequest()
	pr.Version, pr.Acks, pr.TimeoutMillis = 9, -1, 10000
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "t", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0,
		Records: record.Build(record.Batch{Records: []record.Record{{Timestamp: time.Now().UnixMilli(), Key: []byte("k"), Value: []byte("kept")}}})}}}}
	if sp := kafkaDo(t, addr, pr).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("produce: %d at %d", sp.ErrorCode, sp.BaseOffset)
	}
	n.stop(t)
	if _, err := os.Stat(filepath.Join(data, "broker-1", "meta", "topics", "t")); err != nil {
		t.Fatalf("no topic in -data: %v", err)
	}

	n = startRun(t, "-kafka", "127.0.0.1:0", "-data", data)
	addr = n.line(t, "Streamlab Kafka listener on ")
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version, lo.ReplicaID = 7, -1
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1, CurrentLeaderEpoch: -1}}}}
	if sp := kafkaDo(t, addr, lo).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.Offset != 1 {
		t.Fatalf("after a restart: log end %d (error %d), want 1", sp.Offset, sp.ErrorCode)
	}
}

// TestRunKafkaDisabled: -kafka "" runs no broker and no listener.
func TestRunKafkaDisabled(t *testing.T) {
	t.Setenv("STREAMLAB_DATA", filepath.Join(t.TempDir(), "unused"))
	n := startRun(t, "-kafka", "")
	if first := <-n.lines; !strings.HasPrefix(first, "Streamlab serving ") {
		t.Fatalf("first line %q", first)
	}
	n.stop(t)
	if _, err := os.Stat(os.Getenv("STREAMLAB_DATA")); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created: %v", err)
	}
}

// TestRunKafkaAddressInUse: a busy Kafka port is an error, not a node
// without a broker.
func TestRunKafkaAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"-http", "127.0.0.1:0", "-static", t.TempDir(), "-kafka", ln.Addr().String(), "-data", t.TempDir()}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "kafka listener") {
		t.Fatalf("run with a busy Kafka port: %v", err)
	}
}

// TestRunDataDirLocked: a second node on the same -data directory is
// refused while the first runs, as Kafka refuses a locked log directory.
func TestRunDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	n := startRun(t, "-kafka", "127.0.0.1:0", "-data", dir)
	<-n.lines
	err := run(context.Background(), []string{"-http", "127.0.0.1:0", "-static", t.TempDir(), "-kafka", "127.0.0.1:0", "-data", dir}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second node on a locked data dir: %v", err)
	}
	n.stop(t)
}

// TestWasmServedGzipped: a browser that accepts gzip gets the wasm gzipped
// (with its raw length for the loading bar), made again when the file
// changes; one that does not gets it raw.
func TestWasmServedGzipped(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "web", "app.wasm")
	d := &webDir{dir: dir}
	fetch := func(accept string) (*http.Response, []byte) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/web/app.wasm", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		d.ServeHTTP(rec, req)
		return rec.Result(), rec.Body.Bytes()
	}
	for i, want := range []string{strings.Repeat("\x00asm version one ", 4096), strings.Repeat("\x00asm version two, longer ", 4096)} {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(file, time.Now(), time.Now().Add(time.Duration(i)*time.Hour)) // a new version, whatever the clock's resolution
		resp, body := fetch("br, gzip;q=0.9, deflate")
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "application/wasm" {
			t.Fatalf("version %d: headers %v", i+1, resp.Header)
		}
		if got := resp.Header.Get(wasmLengthHeader); got != strconv.Itoa(len(want)) {
			t.Errorf("version %d: %s %s, want %d", i+1, wasmLengthHeader, got, len(want))
		}
		if len(body) >= len(want)/10 {
			t.Errorf("version %d: %d gzipped bytes of %d", i+1, len(body), len(want))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil || string(raw) != want {
			t.Fatalf("version %d: gunzipped %d bytes (%v), want the file's %d", i+1, len(raw), err, len(want))
		}
		for _, accept := range []string{"", "identity", "gzip;q=0"} {
			resp, body = fetch(accept)
			if resp.Header.Get("Content-Encoding") != "" || string(body) != want {
				t.Errorf("version %d, Accept-Encoding %q: got %q encoding, %d bytes", i+1, accept, resp.Header.Get("Content-Encoding"), len(body))
			}
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/web/missing.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("a missing wasm: status %d", rec.Code)
	}
}
