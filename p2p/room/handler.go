package room

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Config configures a Handler. Only Store is required.
type Config struct {
	Store Store
	// Prefix is the path the routes hang under (default "/api/").
	Prefix string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lease: a member not polling for this long is gone and its id is free
	// (default 10 s).
	Lease time.Duration
	// RoomTTL: a room expires this long after its last change (default 2 h;
	// a polling member keeps it alive).
	RoomTTL time.Duration
	// MaxRooms bounds the rooms of the store (default 1000).
	MaxRooms int
	// MaxBody bounds a request body (default 64 KiB).
	MaxBody int64
	// MaxMailbox bounds the signals queued per member (default 256; the
	// oldest are dropped). Their size is bounded too, by MaxMailboxBytes.
	MaxMailbox int
	// MaxMailboxBytes bounds the size of the signals queued per member
	// (default 256 KiB; the oldest are dropped).
	MaxMailboxBytes int
	// MaxWait bounds a long poll (default 25 s).
	MaxWait time.Duration
	// Rate and Burst make the token bucket of each client IP (defaults
	// 20/s, 60). A negative Rate turns rate limiting off.
	Rate  float64
	Burst int
	// Logf logs (default log.Printf).
	Logf func(format string, args ...any)
}

// Handler serves the room protocol (see the package documentation) on a
// Store. It keeps no room state of its own, so several handlers may share a
// store.
type Handler struct {
	cfg     Config
	limiter *limiter
}

// NewHandler returns a handler; zero Config fields take their defaults.
func NewHandler(cfg Config) *Handler {
	if cfg.Store == nil {
		panic("room: Config.Store is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/api/"
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.Lease, 10*time.Second)
	setDefault(&cfg.RoomTTL, 2*time.Hour)
	setDefault(&cfg.MaxRooms, 1000)
	setDefault(&cfg.MaxBody, 64<<10)
	setDefault(&cfg.MaxMailbox, 256)
	setDefault(&cfg.MaxMailboxBytes, 256<<10)
	setDefault(&cfg.MaxWait, 25*time.Second)
	setDefault(&cfg.Rate, 20)
	setDefault(&cfg.Burst, 60)
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	h := &Handler{cfg: cfg}
	if cfg.Rate > 0 {
		h.limiter = newLimiter(cfg.Rate, cfg.Burst)
	}
	return h
}

func setDefault[T int | int64 | float64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func (h *Handler) now() time.Time { return h.cfg.Now() }

// ServeHTTP serves the routes under Prefix; anything else is a 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h.cors(w, r) {
		return
	}
	if h.limiter != nil {
		if wait, ok := h.limiter.allow(clientIP(r), h.now()); !ok {
			secs := int(wait.Seconds() + 0.999)
			w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
			writeError(w, errorf(http.StatusTooManyRequests, "too many requests: try again in %d s", max(1, secs)))
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.cfg.Prefix)
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "not found: %s", clip(r.URL.Path)))
		return
	}
	parts := strings.Split(rest, "/")
	if parts[0] != "rooms" || len(parts) > 3 {
		writeError(w, errorf(http.StatusNotFound, "not found: %s", clip(r.URL.Path)))
		return
	}
	if len(parts) == 1 {
		if method(w, r, http.MethodPost) {
			h.serveCreate(w, r)
		}
		return
	}
	code, ok := normalizeCode(parts[1])
	if !ok {
		writeError(w, errorf(http.StatusNotFound, "no such room: a room code is %d letters and digits", codeLen))
		return
	}
	if len(parts) == 2 {
		if method(w, r, http.MethodGet) {
			h.serveRoom(w, r, code)
		}
		return
	}
	switch parts[2] {
	case "join":
		if method(w, r, http.MethodPost) {
			h.serveJoin(w, r, code)
		}
	case "signal":
		if method(w, r, http.MethodPost) {
			h.serveSignal(w, r, code)
		}
	case "poll":
		if method(w, r, http.MethodGet) {
			h.servePoll(w, r, code)
		}
	case "leave":
		if method(w, r, http.MethodPost) {
			h.serveLeave(w, r, code)
		}
	case "faults":
		if method(w, r, http.MethodPost) {
			h.serveFaults(w, r, code)
		}
	default:
		writeError(w, errorf(http.StatusNotFound, "not found: %s", clip(r.URL.Path)))
	}
}

// CORS: a tab served by one origin (the node, a static host) calls the
// routes on another (the worker, another node). Any origin may: the room
// code and the bearer tokens are the secrets, and no cookies are involved.
const (
	corsMethods = "GET, POST"
	corsHeaders = "Authorization, Content-Type"
	corsMaxAge  = "86400" // browsers cap it (Chromium at 2 h)
)

// cors sets the CORS headers of every answer and answers a preflight
// (OPTIONS under Prefix) itself, which it then reports. Preflights are not
// rate limited: they touch no room, and a refused one is only a network
// error to the page.
func (h *Handler) cors(w http.ResponseWriter, r *http.Request) bool {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "Retry-After")
	if r.Method != http.MethodOptions || !strings.HasPrefix(r.URL.Path, h.cfg.Prefix) {
		return false
	}
	hd.Set("Access-Control-Allow-Methods", corsMethods)
	hd.Set("Access-Control-Allow-Headers", corsHeaders)
	hd.Set("Access-Control-Max-Age", corsMaxAge)
	if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		// Chromium's Private Network Access: a page on a public host
		// calling a node on the classroom's network.
		hd.Set("Access-Control-Allow-Private-Network", "true")
	}
	hd.Set("Allow", "GET, POST, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// method answers 405 unless r has the route's method.
func method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want {
		return true
	}
	w.Header().Set("Allow", want)
	writeError(w, errorf(http.StatusMethodNotAllowed, "method %s not allowed: use %s", clip(r.Method), want))
	return false
}

// clip shortens what a client sent before it is echoed in an error.
func clip(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "..."
	}
	return s
}

func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// bearer returns the request's token, "" if it carries none.
func bearer(r *http.Request) string {
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// authToken returns the request's token, or errBadToken if it has none that
// could be valid.
func authToken(r *http.Request) (string, error) {
	t := bearer(r)
	if !validToken(t) {
		return "", errBadToken
	}
	return t, nil
}

// readJSON decodes the body into v; an empty body leaves v as is when
// optional.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	if r.Body == nil { // only a request made by hand, not a server's
		r.Body = http.NoBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errorf(http.StatusRequestEntityTooLarge, "request body too large: the limit is %d bytes", h.cfg.MaxBody)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if optional && len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "malformed request body: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: encoding the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, err error) {
	status, msg := statusOf(err)
	writeJSON(w, status, ErrorResponse{Error: msg})
}
