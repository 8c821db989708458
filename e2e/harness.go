//go:build !wasm

// Package e2e holds Streamlab's black-box tests: the real node binary serving
// the real wasm app to Debian's headless Chromium, driven with chromedp.
//
// The tests run only with STREAMLAB_E2E=1 (`make test-e2e` sets it, builds
// the wasm and the binary first, and runs them in a network namespace with
// loopback only); a plain `go test ./...` skips them. With STREAMLAB_E2E=1 a
// missing Chromium is a failure, not a skip.
//
// Environment:
//
//	STREAMLAB_E2E=1          run the tests
//	STREAMLAB_BIN=path       node binary to run (default: go build into a temp dir)
//	STREAMLAB_CHROMIUM=path  browser binary (default: Debian's chromium)
//
// Screenshots go to e2e/out/ (gitignored).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ReadyTimeout bounds the wait for the app to start in a tab: download,
// compile and start of the wasm.
const ReadyTimeout = 60 * time.Second

// Require skips the test unless STREAMLAB_E2E=1.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv("STREAMLAB_E2E") != "1" {
		t.Skip("browser test: set STREAMLAB_E2E=1 or run `make test-e2e`")
	}
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// RepoRoot returns the directory holding Streamlab's go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err == nil && bytes.Contains(mod, []byte("module github.com/streamlab/streamlab\n")) {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("no go.mod of github.com/streamlab/streamlab above the working directory")
				return
			}
			dir = parent
		}
	})
	if rootErr != nil {
		t.Fatal(rootErr)
	}
	return rootDir
}

// NodeBinary returns the node binary: $STREAMLAB_BIN, or a fresh
// `go build` of the repo root into a temporary directory of t.
func NodeBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("STREAMLAB_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("STREAMLAB_BIN: %v", err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "streamlab")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Node is a running node binary.
type Node struct {
	URL     string // the web app, http://127.0.0.1:PORT, no trailing slash
	Addr    string // host:port of the Kafka listener
	DataDir string

	cmd      *exec.Cmd
	out      *syncBuffer
	exited   chan struct{} // closed after waitErr is set
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// StartNode starts the node binary on free loopback ports, serving the repo's
// static/ directory, with a fresh data dir (never the user's 9092 or cache),
// and waits until it prints its addresses. args are appended to the command
// line. The node is stopped when the test ends.
func StartNode(t testing.TB, args ...string) *Node {
	t.Helper()
	root := RepoRoot(t)
	static := filepath.Join(root, "static")
	if _, err := os.Stat(filepath.Join(static, "web", "app.wasm")); err != nil {
		t.Fatalf("%v: build it first with `make wasm` (`make test-e2e` does)", err)
	}
	return launch(t, NodeBinary(t), root, static, t.TempDir(), args)
}

// launch starts bin with free loopback ports for HTTP and Kafka and waits
// until it prints both addresses. The node is stopped (SIGTERM, then
// SIGKILL, by pid) when the test ends; its output is logged if the test
// failed.
func launch(t testing.TB, bin, dir, static, dataDir string, args []string) *Node {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-http", "127.0.0.1:0", "-static", static,
		"-kafka", "127.0.0.1:0", "-data", dataDir}, args...)...)
	cmd.Dir = dir
	setDeathSignal(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{DataDir: dataDir, cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = n.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop node: %v", err)
		}
		if t.Failed() {
			t.Logf("node output:\n%s", n.out.String())
		}
	})

	type addrs struct{ kafka, url string }
	ready := make(chan addrs, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		var a addrs
		sent := false
		for lines.Scan() {
			line := lines.Text()
			n.out.Write([]byte(line + "\n"))
			if v, ok := strings.CutPrefix(line, "Streamlab Kafka listener on "); ok {
				a.kafka = strings.Fields(v)[0]
			}
			if v, ok := strings.CutPrefix(line, "Streamlab serving "); ok {
				a.url = strings.Fields(v)[0]
			}
			if a.kafka != "" && a.url != "" && !sent {
				ready <- a
				sent = true
			}
		}
		io.Copy(io.Discard, stdout)
		n.waitErr = cmd.Wait()
		close(n.exited)
	}()

	select {
	case a := <-ready:
		n.Addr, n.URL = a.kafka, a.url
		return n
	case <-n.exited:
		t.Fatalf("node exited before serving: %v\n%s", n.waitErr, n.out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("node printed no addresses within 30s:\n%s", n.out.String())
	}
	return nil
}

// Stop sends SIGTERM to the node (by its pid) and waits for a clean exit,
// killing it after 10s. It returns an error if the node did not exit cleanly.
// It does nothing after Kill, and is safe to call more than once.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		select {
		case <-n.exited:
			n.stopErr = fmt.Errorf("node exited before it was stopped: %v", n.waitErr)
			return
		default:
		}
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
			n.stopErr = n.waitErr
			if n.stopErr == nil && !strings.Contains(n.out.String(), "Streamlab stopped") {
				n.stopErr = errors.New("node exited without its stop message")
			}
		case <-time.After(10 * time.Second):
			n.cmd.Process.Kill()
			<-n.exited
			n.stopErr = errors.New("node ignored SIGTERM for 10s; killed")
		}
	})
	return n.stopErr
}

// Kill kills the node with SIGKILL (kill -9, by pid), as a crash would, and
// waits until it is gone.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.stopOnce.Do(func() {
		if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("kill -9 %d: %v", n.cmd.Process.Pid, err)
		}
		<-n.exited
	})
}

// Output returns what the node printed so far.
func (n *Node) Output() string { return n.out.String() }

// ChromiumPath finds the browser: $STREAMLAB_CHROMIUM, else Debian's chromium
// binary (the real one first, so that the /usr/bin/chromium wrapper script
// adds none of its own flags).
func ChromiumPath() (string, error) {
	candidates := []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"}
	if p := os.Getenv("STREAMLAB_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium at %s: install Debian's chromium (apt-get install chromium; .ci/run does)",
		strings.Join(candidates, " or "))
}

// BrowserFlags are the flags the browser starts with (DESIGN.md, "Environment
// notes"); chromedp adds only --remote-debugging-pipe and about:blank.
func BrowserFlags(userDataDir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDataDir),
	}
}

// Browser is a headless Chromium started for one test.
type Browser struct {
	Ctx   context.Context // chromedp context of the first tab
	log   *syncBuffer
	close func()
}

// Close quits the browser (all its tabs) and waits for its processes, as a
// person closing it would; the test's cleanup does it otherwise.
func (b *Browser) Close() { b.close() }

// NewBrowser starts headless Chromium with BrowserFlags, a fresh user data
// directory from t.TempDir(), and any extra options (for example
// chromedp.Flag("allow-loopback-in-peer-connection", true)). The first tab
// is open and its console and exceptions are recorded (see Log). The browser
// and every process it started are gone when the test ends.
func NewBrowser(t testing.TB, extra ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	exe, err := ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir() // removed after the cleanups below (LIFO)
	b := &Browser{log: &syncBuffer{}}

	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(exe)}, BrowserFlags(dataDir)...)
	opts = append(opts, chromedp.CombinedOutput(&dropLines{dst: b.log, noise: "ERROR:dbus/"}))
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b.close = sync.OnceFunc(func() {
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		chromedp.Cancel(closeCtx) // graceful close, bounded
		cancelCtx()
		cancelAlloc() // waits for the browser process
		if n := killByUserDataDir(dataDir); n > 0 {
			t.Logf("killed %d leftover browser processes", n)
		}
	})
	t.Cleanup(func() {
		b.close()
		if t.Failed() {
			t.Logf("browser log:\n%s", b.log.String())
		}
	})

	if err := chromedp.Do(ctx); err != nil { // start the browser and the tab
		t.Fatalf("start %s: %v", exe, err)
	}
	b.Ctx = ctx
	b.record(t, ctx, "tab1")
	return b
}

// NewTab opens another tab in the browser, recording its console too.
func (b *Browser) NewTab(t testing.TB, name string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	b.record(t, ctx, name)
	return ctx
}

// Log returns the browser's output and the console calls and exceptions of
// its tabs so far.
func (b *Browser) Log() string { return b.log.String() }

func (b *Browser) record(t testing.TB, ctx context.Context, tab string) {
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var args []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			fmt.Fprintf(b.log, "[%s] console.%s: %s\n", tab, ev.Type, strings.Join(args, " "))
		case *runtime.EventExceptionThrown:
			fmt.Fprintf(b.log, "[%s] EXCEPTION: %s\n", tab, exceptionText(ev.ExceptionDetails))
		}
	})
	if err != nil {
		t.Fatalf("listen to %s: %v", tab, err)
	}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	s := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s (%s:%d:%d)", s, d.URL, d.LineNumber+1, d.ColumnNumber+1)
}

// Exceptions returns the uncaught exceptions recorded so far.
func (b *Browser) Exceptions() []string {
	var out []string
	for _, line := range strings.Split(b.log.String(), "\n") {
		if strings.Contains(line, "] EXCEPTION: ") {
			out = append(out, line)
		}
	}
	return out
}

// appState is evaluated in the tab: "ready" once go-app removed its loader
// and the app shows #app-ready, "failed: MSG" once the loader gave up (go-app
// stops the spinner and shows the error), else "".
const appState = `(() => {
  const ready = document.getElementById("app-ready");
  if (!document.getElementById("app-wasm-loader") && ready && ready.getClientRects().length > 0) return "ready";
  const icon = document.getElementById("app-wasm-loader-icon");
  if (icon && !icon.classList.contains("goapp-spin")) {
    return "failed: " + (document.getElementById("app-wasm-loader-label") || {}).innerText;
  }
  return "";
})()`

// OpenApp navigates the tab to url and waits until the wasm app runs: go-app
// removed its loader and the app rendered a visible #app-ready. It fails at
// once if the wasm failed to load, and after ReadyTimeout otherwise; either
// way it saves a screenshot first.
func OpenApp(t testing.TB, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("navigate to %s: %v", url, err)
	}
	deadline := time.Now().Add(ReadyTimeout)
	state := ""
	for {
		var err error
		state, err = chromedp.Run(ctx, chromedp.Evaluate[string](appState))
		if err != nil {
			t.Fatalf("app state: %v", err)
		}
		if state == "ready" {
			return
		}
		if state != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	Screenshot(t, ctx, "not-ready")
	if state == "" {
		state = fmt.Sprintf("no #app-ready within %v", ReadyTimeout)
	}
	t.Fatalf("app at %s not ready: %s", url, state)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a PNG of the tab's viewport as e2e/out/<test>-<name>.png
// and returns its path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return ""
	}
	dir := filepath.Join(RepoRoot(t), "e2e", "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}

// dropLines writes the lines it gets to dst, less those containing noise
// (headless Chromium logs dozens of errors about the missing D-Bus).
type dropLines struct {
	dst     io.Writer
	noise   string
	partial []byte
}

func (d *dropLines) Write(p []byte) (int, error) {
	d.partial = append(d.partial, p...)
	for {
		i := bytes.IndexByte(d.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := d.partial[:i+1]
		if !bytes.Contains(line, []byte(d.noise)) {
			if _, err := d.dst.Write(line); err != nil {
				return len(p), err
			}
		}
		d.partial = d.partial[i+1:]
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
