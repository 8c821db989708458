//go:build !wasm

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
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
		done <- run(ctx, []string{"-http", "127.0.0.1:0", "-static", t.TempDir()}, pw, io.Discard)
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
