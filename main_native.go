//go:build !wasm

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

const defaultHTTP = "127.0.0.1:8080"

func main() {
	routes()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // from now on a second signal kills the process at once
	}()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "streamlab:", err)
		os.Exit(1)
	}
}

// run parses the flags, serves until ctx ends (SIGINT or SIGTERM), then shuts
// down.
// It prints "Streamlab serving http://ADDR" with the address it really bound,
// so that "-http 127.0.0.1:0" (a free port) can be read back by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("streamlab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", envOr("STREAMLAB_HTTP", defaultHTTP),
		"address to serve the web app on; port 0 picks a free port (env STREAMLAB_HTTP)")
	staticDir := fs.String("static", envOr("STREAMLAB_STATIC", "static"),
		"directory holding web/ (app.wasm, app.css, icons) (env STREAMLAB_STATIC)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if _, err := os.Stat(filepath.Join(*staticDir, "web", "app.wasm")); err != nil {
		fmt.Fprintf(stderr, "streamlab: warning: %v (build it with `make wasm`)\n", err)
	}

	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(*staticDir),
		ReadHeaderTimeout: 10 * time.Second,
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Streamlab serving %s\n", serveURL(ln.Addr()))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Fprintln(stdout, "Streamlab stopped")
	return nil
}

// newHandler builds the go-app handler that serves the PWA: the prerendered
// page, app.js, wasm_exec.js, the service worker, the manifest, and every
// /web/... file from staticDir/web/.
func newHandler(staticDir string) http.Handler {
	return &app.Handler{
		Name:            "Streamlab",
		ShortName:       "Streamlab",
		Title:           "Streamlab",
		Description:     "A Kafka-style event streaming broker that runs in your browser: watch it, break it, understand it.",
		Lang:            "en",
		BackgroundColor: "#f6f7f9",
		ThemeColor:      "#1f4e79",
		LoadingLabel:    "Loading Streamlab {progress}%",
		Icon: app.Icon{
			Default:  "/web/icon-192.png",
			Large:    "/web/icon-512.png",
			Maskable: "/web/icon-512.png",
			SVG:      "/web/icon.svg",
		},
		Styles:    []string{"/web/app.css"},
		Resources: webDir(staticDir),
	}
}

// webDir serves /web/... from dir/web/... and resolves /web/... to itself.
//
// app.LocalDir(dir) is not usable for that in go-app v10.1.11: it serves the
// files from dir, but it also resolves "/web/app.wasm" to "dir/web/app.wasm",
// and that relative path ends up in app.js as the URL of the wasm, which then
// 404s. Only LocalDir("") resolves right, and it serves from the working
// directory.
type webDir string

func (d webDir) Resolve(location string) string {
	if location == "" {
		return "/"
	}
	return location
}

func (d webDir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
		http.NotFound(w, r)
		return
	}
	http.FileServer(http.Dir(string(d))).ServeHTTP(w, r)
}

// serveURL is the URL to print for a bound address.
func serveURL(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d (all interfaces)", tcp.Port)
	}
	return "http://" + addr.String()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
