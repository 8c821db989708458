//go:build !wasm

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage/filestore"
	"github.com/streamlab/streamlab/p2p/host"
	"github.com/streamlab/streamlab/p2p/kafkatcp"
	"github.com/streamlab/streamlab/p2p/room"
)

const (
	defaultHTTP  = "127.0.0.1:8080"
	defaultKafka = kafkatcp.DefaultAddr
)

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
// It prints "Streamlab Kafka listener on HOST:PORT" and "Streamlab serving
// http://ADDR" with the addresses it really bound, so that "-kafka
// 127.0.0.1:0 -http 127.0.0.1:0" (free ports) can be read back by tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("streamlab", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", envOr("STREAMLAB_HTTP", defaultHTTP),
		"address to serve the web app on; port 0 picks a free port (env STREAMLAB_HTTP)")
	staticDir := fs.String("static", envOr("STREAMLAB_STATIC", "static"),
		"directory holding web/ (app.wasm, app.css, icons) (env STREAMLAB_STATIC)")
	kafkaAddr := fs.String("kafka", lookupEnvOr("STREAMLAB_KAFKA", defaultKafka),
		"address for Kafka clients (kcat -b ADDR); port 0 picks a free port; empty runs no broker (env STREAMLAB_KAFKA)")
	dataDir := fs.String("data", envOr("STREAMLAB_DATA", defaultDataDir()),
		"directory for the brokers' files, broker-1/ ... under it (env STREAMLAB_DATA)")
	brokers := fs.Int("brokers", 1,
		"brokers to run; 2 or more form a KRaft cluster in this process, on consecutive ports from -kafka's")
	classroomFlag := fs.Bool("classroom", false,
		"create a classroom room and make this node's broker its broker 1; devices join with the printed code, Kafka clients reach every broker of the room on consecutive ports from -kafka's")
	roomBrokers := fs.Int("room-brokers", 6, "with -classroom: broker ids in the room (devices beyond that are refused)")
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
	logger := log.New(stderr, "streamlab: ", log.LstdFlags)
	stopProfile, err := startCPUProfile(os.Getenv("STREAMLAB_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stopProfile()

	if *classroomFlag && (*kafkaAddr == "" || *brokers != 1) {
		return errors.New("-classroom runs one broker with a Kafka listener: it needs -kafka and -brokers 1")
	}
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return err
	}
	rooms := room.NewHandler(room.Config{Store: room.NewMemStore(), Logf: logger.Printf})
	mux := http.NewServeMux()
	mux.Handle("/api/", rooms)
	mux.Handle("/", newHandler(*staticDir))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	httpStopped := false
	stopHTTP := func() error {
		if httpStopped {
			return nil
		}
		httpStopped = true
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	}
	defer stopHTTP()

	var kafka *kafkaNode
	var class *classroom
	switch {
	case *classroomFlag:
		var err error
		if class, err = startClassroom(ctx, rooms, "http://"+loopback(ln.Addr())+"/api/", *kafkaAddr, *dataDir, *roomBrokers, logger); err != nil {
			return err
		}
		defer class.close()
		for i, a := range class.advertised {
			fmt.Fprintf(stdout, "Streamlab Kafka listener on %s (broker %d)\n", a, i+1)
		}
	case *kafkaAddr != "":
		var err error
		if kafka, err = startKafka(*kafkaAddr, *dataDir, *brokers, logger); err != nil {
			return err
		}
		defer kafka.close()
		for i, a := range kafka.advertised {
			if len(kafka.advertised) == 1 {
				fmt.Fprintf(stdout, "Streamlab Kafka listener on %s\n", a)
			} else {
				fmt.Fprintf(stdout, "Streamlab Kafka listener on %s (broker %d)\n", a, i+1)
			}
		}
	}
	fmt.Fprintf(stdout, "Streamlab serving %s\n", serveURL(ln.Addr()))
	if class != nil {
		fmt.Fprintf(stdout, "Streamlab classroom room %s: open %s/live?room=%s on each device\n", class.code, shareURL(ln.Addr()), class.code)
		fmt.Fprintf(stdout, "Teacher view (kill brokers, cut the network; keep this link to yourself): %s/live?room=%s#teacher=%s\n", shareURL(ln.Addr()), class.code, class.teacher)
	}

	var brokerDone <-chan struct{}
	switch {
	case kafka != nil:
		brokerDone = kafka.done()
	case class != nil:
		brokerDone = class.done()
	}
	var runErr error
	select {
	case err := <-served:
		return err
	case <-brokerDone:
		// The broker stopped on its own: its store failed. Acknowledging
		// nothing more is all it can do; stop the node so that whoever
		// runs it sees the failure.
		if kafka != nil {
			runErr = fmt.Errorf("broker stopped: %w", kafka.err())
		} else {
			runErr = fmt.Errorf("broker stopped: %w", class.member.Err())
		}
	case <-ctx.Done():
	}
	if kafka != nil {
		if err := kafka.close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if class != nil {
		if err := class.close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := stopHTTP(); err != nil && runErr == nil {
		runErr = fmt.Errorf("shutdown: %w", err)
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintln(stdout, "Streamlab stopped")
	return nil
}

// kafkaNode is the native brokers and their Kafka listeners.
type kafkaNode struct {
	unlock     func()
	hosts      []*host.Host
	listeners  []*kafkatcp.Listener
	stores     []*filestore.Store
	advertised []string
	closed     bool
}

// startKafka opens n brokers, broker-1/ ... broker-N/ under dir (recovering
// what an earlier run left there, torn tails included), and serves Kafka
// clients: broker 1 on addr, broker i on the port after broker i-1's (each
// on a free port if addr's port is 0). Each broker advertises the address
// really bound. One broker runs alone, as before; two or more are a KRaft
// cluster in one process (core/server): brokers 1-3 (or 1) are the
// controller quorum's voters and the brokers reach each other in memory.
func startKafka(addr, dir string, n int, logger *log.Logger) (_ *kafkaNode, err error) {
	if dir == "" {
		return nil, errors.New("no data directory: pass -data DIR (there is no user cache directory to default to)")
	}
	if n < 1 {
		return nil, fmt.Errorf("-brokers %d: need at least one broker", n)
	}
	unlock, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	k := &kafkaNode{unlock: unlock}
	defer func() {
		if err != nil {
			k.close()
		}
	}()
	lns, err := listenConsecutive(addr, n)
	if err != nil {
		return nil, err
	}
	defer func() {
		closeAll(lns[len(k.listeners):])
	}()
	var voters []core.NodeID
	for id := core.NodeID(1); id <= core.NodeID(min(n, 3)); id++ {
		voters = append(voters, id)
	}
	if n < 3 {
		voters = voters[:1]
	}
	for i, ln := range lns {
		id := core.NodeID(i + 1)
		cfg := broker.DefaultConfig(id)
		if cfg.Host, cfg.Port, err = advertise(ln); err != nil {
			return nil, err
		}
		// The node runs in real time, not in a replayable simulation: a
		// fresh seed each start keeps topic ids unique even across a
		// delete and a restart.
		cfg.Seed = rand.Uint64()
		storeDir := filepath.Join(dir, fmt.Sprintf("broker-%d", id))
		store, err := filestore.Open(storeDir)
		if err != nil {
			return nil, err
		}
		k.stores = append(k.stores, store)
		var m core.Machine
		if n == 1 {
			m, err = broker.Open(cfg, store)
		} else {
			scfg := server.Config{Broker: cfg}
			scfg.Controller.Voters = voters
			m, err = server.Open(scfg, store)
		}
		if err != nil {
			return nil, fmt.Errorf("opening broker %d in %s: %w", id, storeDir, err)
		}
		h := host.Start(m, store, host.Options{Logf: logger.Printf, Events: func(evs []core.Event) {
			for _, ev := range evs {
				if r, ok := ev.(core.LogRecovered); ok {
					logger.Printf("broker %d recovered %s-%d: %s (%d bytes cut, next offset %d)", id, r.Topic, r.Partition, r.Reason, r.TruncatedBytes, r.NextOffset)
				}
			}
		}})
		k.hosts = append(k.hosts, h)
		k.advertised = append(k.advertised, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	}
	for _, a := range k.hosts {
		for _, b := range k.hosts {
			if a != b {
				host.Link(a, b)
			}
		}
	}
	for i, h := range k.hosts {
		l, err := kafkatcp.Serve(lns[i], h, kafkatcp.Config{Logf: logger.Printf})
		if err != nil {
			return nil, err
		}
		k.listeners = append(k.listeners, l)
	}
	return k, nil
}

// done is closed when any broker stops on its own.
func (k *kafkaNode) done() <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	for _, h := range k.hosts {
		go func() {
			select {
			case <-h.Done():
				once.Do(func() { close(ch) })
			case <-ch:
			}
		}()
	}
	return ch
}

// err is why a broker stopped, if one did.
func (k *kafkaNode) err() error {
	for _, h := range k.hosts {
		select {
		case <-h.Done():
			return h.Err()
		default:
		}
	}
	return nil
}

// close stops the listeners (closing every client connection), then the
// brokers; it returns the error that had stopped a broker, if any.
func (k *kafkaNode) close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	for _, l := range k.listeners {
		l.Close()
	}
	var err error
	for _, h := range k.hosts {
		if herr := h.Close(); err == nil {
			err = herr
		}
	}
	for _, s := range k.stores {
		if cerr := s.Close(); err == nil {
			err = cerr
		}
	}
	k.unlock()
	return err
}

// startCPUProfile writes a CPU profile to path (if not empty) until the
// returned function is called: a hidden hook for measuring the node
// (STREAMLAB_CPUPROFILE=path), written on shutdown.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("STREAMLAB_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("STREAMLAB_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// defaultDataDir is a folder under the user's cache directory
// (~/.cache/streamlab on Linux), or "" if there is none.
func defaultDataDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "streamlab")
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
		Resources: &webDir{dir: staticDir},
		// The wasm goes gzipped (webDir): the loading bar counts the
		// uncompressed bytes the page reads against this header.
		WasmContentLengthHeader: wasmLengthHeader,
	}
}

// webDir serves /web/... from dir/web/... and resolves /web/... to itself.
//
// app.LocalDir(dir) is not usable for that in go-app v10.1.11: it serves the
// files from dir, but it also resolves "/web/app.wasm" to "dir/web/app.wasm",
// and that relative path ends up in app.js as the URL of the wasm, which then
// 404s. Only LocalDir("") resolves right, and it serves from the working
// directory.
//
// The .wasm files go gzipped to browsers that accept it: app.wasm is 29 MB
// raw and 5.6 MB gzipped, which is what a classroom of devices on one Wi-Fi
// network feels. Each is compressed once per version of the file (size and
// modification time) and kept in memory.
type webDir struct {
	dir string

	mu sync.Mutex
	gz map[string]gzipped // by path
}

// gzipped is a file's gzip, for the version of the file it was made from.
type gzipped struct {
	mod  time.Time
	size int64
	data []byte
}

// wasmLengthHeader carries the uncompressed length of a gzipped wasm.
const wasmLengthHeader = "X-Wasm-Content-Length"

func (d *webDir) Resolve(location string) string {
	if location == "" {
		return "/"
	}
	return location
}

func (d *webDir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".wasm") && acceptsGzip(r) && d.serveGzip(w, r) {
		return
	}
	http.FileServer(http.Dir(d.dir)).ServeHTTP(w, r)
}

// serveGzip serves the gzip of r's file, false if there is no such file
// (the file server then answers).
func (d *webDir) serveGzip(w http.ResponseWriter, r *http.Request) bool {
	f, err := http.Dir(d.dir).Open(r.URL.Path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock() // the first request compresses; the others wait for it
	g, ok := d.gz[r.URL.Path]
	if !ok || !g.mod.Equal(st.ModTime()) || g.size != st.Size() {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := io.Copy(zw, f); err != nil || zw.Close() != nil {
			return false
		}
		g = gzipped{mod: st.ModTime(), size: st.Size(), data: buf.Bytes()}
		if d.gz == nil {
			d.gz = map[string]gzipped{}
		}
		d.gz[r.URL.Path] = g
	}
	h := w.Header()
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Type", "application/wasm")
	h.Set(wasmLengthHeader, strconv.FormatInt(g.size, 10))
	h.Add("Vary", "Accept-Encoding")
	http.ServeContent(w, r, path.Base(r.URL.Path), g.mod, bytes.NewReader(g.data))
	return true
}

// acceptsGzip says whether r's Accept-Encoding allows gzip ("gzip",
// "gzip;q=0.8"; not "gzip;q=0").
func acceptsGzip(r *http.Request) bool {
	for _, e := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(e, ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, err := strconv.ParseFloat(v, 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
}

// serveURL is the URL to print for a bound address.
func serveURL(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("http://localhost:%d (all interfaces)", tcp.Port)
	}
	return "http://" + addr.String()
}

// loopback is a bound address as this process reaches it: 127.0.0.1 for
// an all-interfaces bind.
func loopback(addr net.Addr) string {
	tcp := addr.(*net.TCPAddr)
	if tcp.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}

// shareURL is the URL other devices open: for an all-interfaces bind, this
// machine's first non-loopback IPv4 address (else its name).
func shareURL(addr net.Addr) string {
	tcp := addr.(*net.TCPAddr)
	if !tcp.IP.IsUnspecified() {
		return "http://" + tcp.String()
	}
	host, _ := os.Hostname()
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok && !ip.IP.IsLoopback() && ip.IP.To4() != nil {
				host = ip.IP.String()
				break
			}
		}
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// lookupEnvOr is envOr where a variable set to "" counts: STREAMLAB_KAFKA=""
// turns the listener off.
func lookupEnvOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
