package room

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

func TestCreateAndGet(t *testing.T) {
	e := newEnv(t)
	room := e.create(CreateRequest{})
	if len(room.Code) != codeLen || strings.ContainsAny(room.Code, "0O1IL") {
		t.Fatalf("code %q", room.Code)
	}
	if c, ok := normalizeCode(room.Code); !ok || c != room.Code {
		t.Fatalf("code %q is not one the handler accepts", room.Code)
	}
	if room.Cluster != "room-"+room.Code || room.MaxBrokers != 6 || !slices.Equal(room.Voters, []core.NodeID{1, 2, 3}) || len(room.Members) != 0 {
		t.Fatalf("defaults: %+v", room)
	}
	var got Room
	e.must(http.StatusOK, "GET", "rooms/"+strings.ToLower(room.Code), "", nil, &got) // codes are case-insensitive
	if got.Code != room.Code || !got.Created.Equal(room.Created) {
		t.Fatalf("GET: %+v, created %+v", got, room)
	}

	small := e.create(CreateRequest{MaxBrokers: 2, Kafka: map[core.NodeID]string{1: "127.0.0.1:9092"}})
	if !slices.Equal(small.Voters, []core.NodeID{1, 2}) {
		t.Fatalf("voters of a 2-broker room: %v", small.Voters)
	}
	e.fails(400, "maxBrokers 65 out of range", "POST", "rooms", "", CreateRequest{MaxBrokers: 65})
	e.fails(400, "bad or duplicate voter 7", "POST", "rooms", "", CreateRequest{MaxBrokers: 6, Voters: []core.NodeID{1, 7}})
	e.fails(400, "bad or duplicate voter 1", "POST", "rooms", "", CreateRequest{Voters: []core.NodeID{1, 1}})
	e.fails(400, "kafka address for broker 9", "POST", "rooms", "", CreateRequest{Kafka: map[core.NodeID]string{9: "x:1"}})
	e.fails(400, "malformed request body", "POST", "rooms", "", "{")
	e.fails(400, "malformed request body", "POST", "rooms", "", `{"maxBrokers":"six"}`)

	// In-process, as the node does.
	r, err := e.h.Create(context.Background(), CreateRequest{MaxBrokers: 3})
	if err != nil || r.MaxBrokers != 3 {
		t.Fatalf("Create: %+v, %v", r, err)
	}
	if _, err := e.h.Room(context.Background(), "ZZZZZZ"); !strings.Contains(err.Error(), "no room ZZZZZZ") {
		t.Fatalf("Room of no room: %v", err)
	}
}

func TestJoin(t *testing.T) {
	e := newEnv(t)
	room := e.create(CreateRequest{MaxBrokers: 3, Kafka: map[core.NodeID]string{2: "10.0.0.5:9093"}})
	code := room.Code
	var joins []JoinResponse
	for i := 1; i <= 3; i++ {
		jr := e.join(code, "", JoinRequest{Device: "laptop " + itoa(uint64(i))})
		if jr.ID != core.NodeID(i) || !validToken(jr.Token) || jr.LeaseMs != 10000 || len(jr.Room.Members) != i {
			t.Fatalf("join %d: %+v", i, jr)
		}
		joins = append(joins, jr)
	}
	if joins[1].Kafka != "10.0.0.5:9093" || joins[1].Room.Members[1].Kafka != "10.0.0.5:9093" || joins[0].Kafka != "" {
		t.Fatalf("kafka addresses: %+v", joins)
	}
	if m := joins[2].Room.Members[2]; m.Device != "laptop 3" || m.Kind != "tab" {
		t.Fatalf("member: %+v", m)
	}
	e.fails(409, "room full: all 3 broker ids are taken", "POST", "rooms/"+code+"/join", "", JoinRequest{})
	e.fails(409, "broker id 2 is taken", "POST", "rooms/"+code+"/join", "", JoinRequest{Want: 2})
	// Another member's token does not take an id it does not hold.
	e.fails(409, "broker id 2 is taken", "POST", "rooms/"+code+"/join", joins[0].Token, JoinRequest{Want: 2})

	// A reloaded tab: same id, same token.
	again := e.join(code, joins[1].Token, JoinRequest{Device: "laptop 2 again", Kind: "node"})
	if again.ID != 2 || again.Token != joins[1].Token || again.Room.Members[1].Device != "laptop 2 again" {
		t.Fatalf("rejoin: %+v", again)
	}
	again = e.join(code, joins[1].Token, JoinRequest{Want: 2})
	if again.ID != 2 || again.Token != joins[1].Token {
		t.Fatalf("rejoin with want: %+v", again)
	}

	// Leaving frees the id; a stale token then only fails to take it back.
	e.must(204, "POST", "rooms/"+code+"/leave", joins[1].Token, nil, nil)
	e.fails(401, "invalid or expired token", "POST", "rooms/"+code+"/leave", joins[1].Token, nil)
	jr := e.join(code, "0123456789abcdef0123456789abcdef", JoinRequest{Want: 2})
	if jr.ID != 2 || jr.Token == joins[1].Token {
		t.Fatalf("join of a freed id: %+v", jr)
	}

	e.fails(400, "broker id 4 out of range 1..3", "POST", "rooms/"+code+"/join", "", JoinRequest{Want: 4})
	e.fails(400, "broker id -1 out of range", "POST", "rooms/"+code+"/join", "", JoinRequest{Want: -1})
	e.fails(400, `kind "phone"`, "POST", "rooms/"+code+"/join", "", JoinRequest{Kind: "phone"})
	e.fails(400, "device name", "POST", "rooms/"+code+"/join", "", JoinRequest{Device: strings.Repeat("x", 65)})
	e.fails(400, "device name", "POST", "rooms/"+code+"/join", "", JoinRequest{Device: "bell\a"})
	e.fails(404, "no room ABCDEF", "POST", "rooms/ABCDEF/join", "", JoinRequest{})
	e.fails(404, "no such room", "POST", "rooms/ABC/join", "", JoinRequest{})
	e.fails(404, "no such room", "POST", "rooms/ABCDE0/join", "", JoinRequest{})
}

func TestSignalRelay(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	a := e.join(code, "", JoinRequest{Device: "a"})
	b := e.join(code, "", JoinRequest{Device: "b", Kind: "node"})
	path := "rooms/" + code + "/signal"
	mid, idx := "0", uint16(0)
	sigs := []rtc.Signal{
		{From: 1, To: 2, Session: 7, Kind: rtc.SignalOffer, SDP: "v=0 offer"},
		{From: 1, To: 2, Session: 7, Kind: rtc.SignalCandidate, Candidate: &rtc.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}},
		{From: 1, To: 2, Session: 7, Kind: rtc.SignalCandidate, Candidate: &rtc.Candidate{Candidate: "candidate:2"}},
	}
	for _, s := range sigs {
		e.must(204, "POST", path, a.Token, s, nil)
	}
	pr := e.poll(code, b.Token, 0, 0)
	if pr.Seq != 3 || len(pr.Signals) != 3 || len(pr.Members) != 2 {
		t.Fatalf("poll: %+v", pr)
	}
	for i, s := range pr.Signals {
		want, _ := json.Marshal(sigs[i])
		got, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("signal %d: %s, want %s", i, got, want)
		}
	}
	// Polling again from the start, before acknowledging, gets them again.
	if pr := e.poll(code, b.Token, 1, 0); len(pr.Signals) != 2 || pr.Signals[0].Kind != rtc.SignalCandidate {
		t.Fatalf("poll after 1: %+v", pr)
	}
	if pr := e.poll(code, b.Token, 3, 0); len(pr.Signals) != 0 || pr.Seq != 3 {
		t.Fatalf("poll after 3: %+v", pr)
	}
	e.must(204, "POST", path, b.Token, rtc.Signal{From: 2, To: 1, Session: 7, Kind: rtc.SignalAnswer, SDP: "v=0 answer"}, nil)
	if pr := e.poll(code, a.Token, 0, 0); len(pr.Signals) != 1 || pr.Signals[0].SDP != "v=0 answer" || pr.Seq != 1 {
		t.Fatalf("a's poll: %+v", pr)
	}
	// A poll ahead of the mailbox (a client of a former member) starts
	// over: it gets what a has not acknowledged yet.
	e.must(204, "POST", path, b.Token, rtc.Signal{From: 2, To: 1, Kind: rtc.SignalCandidate}, nil)
	if pr := e.poll(code, a.Token, 99, 0); len(pr.Signals) != 2 || pr.Seq != 2 {
		t.Fatalf("poll after 99: %+v", pr)
	}

	e.fails(403, "signal from broker 1, but the token is broker 2's", "POST", path, b.Token, rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer})
	e.fails(404, "no member 5 in room", "POST", path, a.Token, rtc.Signal{From: 1, To: 5, Kind: rtc.SignalOffer})
	e.fails(400, "cannot signal itself", "POST", path, a.Token, rtc.Signal{From: 1, To: 1, Kind: rtc.SignalOffer})
	e.fails(400, `signal kind "hello"`, "POST", path, a.Token, rtc.Signal{From: 1, To: 2, Kind: "hello"})
	e.fails(400, "malformed request body", "POST", path, a.Token, "")
	e.fails(401, "invalid or expired token", "POST", path, "", rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer})
	e.fails(401, "invalid or expired token", "POST", path, "nothex", rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer})
	e.fails(401, "invalid or expired token", "POST", path, strings.Repeat("ab", 16), rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer})
	e.fails(401, "invalid or expired token", "GET", "rooms/"+code+"/poll", strings.Repeat("ab", 16), nil)
	e.fails(400, "after=x", "GET", "rooms/"+code+"/poll?after=x", a.Token, nil)
	e.fails(400, "wait=-1", "GET", "rooms/"+code+"/poll?wait=-1", a.Token, nil)
	e.fails(404, "no room ABCDEF", "GET", "rooms/ABCDEF/poll", a.Token, nil)
}

func TestMailboxBounded(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxMailbox = 4 })
	code := e.create(CreateRequest{}).Code
	a := e.join(code, "", JoinRequest{})
	b := e.join(code, "", JoinRequest{})
	for i := range 10 {
		e.must(204, "POST", "rooms/"+code+"/signal", a.Token, rtc.Signal{From: 1, To: 2, Session: uint64(i), Kind: rtc.SignalCandidate}, nil)
	}
	pr := e.poll(code, b.Token, 0, 0)
	if pr.Seq != 10 || len(pr.Signals) != 4 || pr.Signals[0].Session != 6 {
		t.Fatalf("poll: %+v", pr)
	}
}

// rawPoll polls on another goroutine: it reports instead of failing.
func rawPoll(e *env, code, token string, after uint64, waitMs int) (PollResponse, error) {
	return pollQuery(e, code, token, "after="+itoa(after)+"&wait="+itoa(uint64(waitMs)))
}

func TestLongPoll(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	a := e.join(code, "", JoinRequest{})
	b := e.join(code, "", JoinRequest{})

	// Nothing comes: the poll answers after the wait, empty.
	start := time.Now()
	if pr := e.poll(code, b.Token, 0, 300); len(pr.Signals) != 0 || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("empty poll after %v: %+v", time.Since(start), pr)
	}

	// A signal wakes a waiting poll.
	type result struct {
		pr  PollResponse
		err error
		at  time.Duration
	}
	done := make(chan result, 1)
	start = time.Now()
	go func() {
		pr, err := rawPoll(e, code, b.Token, 0, 10000)
		done <- result{pr, err, time.Since(start)}
	}()
	time.Sleep(100 * time.Millisecond)
	e.must(204, "POST", "rooms/"+code+"/signal", a.Token, rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer, SDP: "x"}, nil)
	r := <-done
	if r.err != nil || len(r.pr.Signals) != 1 || r.at > 5*time.Second {
		t.Fatalf("woken poll after %v: %+v, %v", r.at, r.pr, r.err)
	}

	// So does a member joining.
	start = time.Now()
	go func() {
		pr, err := rawPoll(e, code, b.Token, 1, 10000)
		done <- result{pr, err, time.Since(start)}
	}()
	time.Sleep(100 * time.Millisecond)
	e.join(code, "", JoinRequest{})
	r = <-done
	if r.err != nil || len(r.pr.Members) != 3 || r.at > 5*time.Second {
		t.Fatalf("poll woken by a join after %v: %+v, %v", r.at, r.pr, r.err)
	}

	// A poll waits at most MaxWait.
	e2 := newEnv(t, func(c *Config) { c.MaxWait = 200 * time.Millisecond })
	code = e2.create(CreateRequest{}).Code
	b = e2.join(code, "", JoinRequest{})
	start = time.Now()
	e2.poll(code, b.Token, 0, 60000)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("poll of 60 s bounded by MaxWait 200 ms took %v", d)
	}
}

func TestLeaseExpiry(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{MaxBrokers: 2}).Code
	a := e.join(code, "", JoinRequest{})
	b := e.join(code, "", JoinRequest{})
	e.fails(409, "room full", "POST", "rooms/"+code+"/join", "", JoinRequest{})

	e.clock.Add(6 * time.Second)
	e.poll(code, a.Token, 0, 0) // renews a's lease, not b's
	e.clock.Add(6 * time.Second)
	var room Room
	e.must(200, "GET", "rooms/"+code, "", nil, &room)
	if len(room.Members) != 1 || room.Members[0].ID != 1 {
		t.Fatalf("members after b's lease: %+v", room.Members)
	}
	c := e.join(code, "", JoinRequest{})
	if c.ID != 2 {
		t.Fatalf("join after b's lease: id %d", c.ID)
	}
	e.fails(401, "invalid or expired token", "GET", "rooms/"+code+"/poll", b.Token, nil)

	// An expired member takes its id back if it is free (with a new token).
	e.must(204, "POST", "rooms/"+code+"/leave", c.Token, nil, nil)
	back := e.join(code, b.Token, JoinRequest{Want: 2})
	if back.ID != 2 || back.Token == b.Token {
		t.Fatalf("taking the id back: %+v", back)
	}
}

func TestRoomExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RoomTTL = time.Hour; c.MaxRooms = 2 })
	old := e.create(CreateRequest{}).Code
	e.clock.Add(30 * time.Minute)
	e.create(CreateRequest{})
	e.fails(503, "too many rooms: the limit is 2", "POST", "rooms", "", CreateRequest{})

	e.clock.Add(31 * time.Minute)
	e.fails(404, "no room "+old, "GET", "rooms/"+old, "", nil) // expired, not swept yet
	if n, err := e.store.Sweep(context.Background(), e.clock.Now()); n != 1 || err != nil {
		t.Fatalf("sweep: %d rooms, %v", n, err)
	}
	if _, _, err := e.store.Get(context.Background(), old); err != ErrNoRoom {
		t.Fatalf("swept room: %v", err)
	}
	e.create(CreateRequest{}) // there is room again
	e.fails(503, "too many rooms", "POST", "rooms", "", CreateRequest{})
}

func TestRoomKeptAliveByPolls(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RoomTTL = time.Minute })
	code := e.create(CreateRequest{}).Code
	a := e.join(code, "", JoinRequest{})
	for range 10 {
		e.clock.Add(5 * time.Second)
		e.poll(code, a.Token, 0, 0)
	}
	if n, _ := e.store.Sweep(context.Background(), e.clock.Now()); n != 1 {
		t.Fatalf("a room with a polling member expired")
	}
	e.clock.Add(61 * time.Second)
	e.fails(404, "no room", "GET", "rooms/"+code, "", nil)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBody = 1024 })
	created := e.create(CreateRequest{})
	code := created.Code
	a := e.join(code, "", JoinRequest{})
	e.join(code, "", JoinRequest{})
	big := rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer, SDP: strings.Repeat("a", 2000)}
	e.fails(413, "request body too large: the limit is 1024 bytes", "POST", "rooms/"+code+"/signal", a.Token, big)
	e.fails(413, "request body too large", "POST", "rooms", "", strings.Repeat(" ", 2000))
	e.fails(413, "request body too large", "POST", "rooms/"+code+"/join", "", strings.Repeat(" ", 2000))
	e.fails(413, "request body too large", "POST", "rooms/"+code+"/faults", created.TeacherToken, strings.Repeat(" ", 2000))
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Rate = 1; c.Burst = 5 })
	for range 5 {
		e.fails(404, "not found", "GET", "nothing", "", nil)
	}
	status, data, header := e.call("GET", "rooms", "", nil)
	if status != 429 || header.Get("Retry-After") != "1" || !strings.Contains(string(data), "too many requests") {
		t.Fatalf("flood: %d %s, Retry-After %q", status, data, header.Get("Retry-After"))
	}
	// Another client is not held back.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/nothing", nil)
	r.RemoteAddr = "192.0.2.7:4000"
	e.h.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Fatalf("another client: %d", w.Code)
	}
	e.clock.Add(time.Second)
	e.fails(404, "not found", "GET", "nothing", "", nil)
	e.fails(429, "too many requests", "GET", "nothing", "", nil)
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, 1)
	now := time.Now()
	for i := range 3 * maxClients {
		l.allow(itoa(uint64(i)), now)
		if len(l.buckets) > maxClients {
			t.Fatalf("%d clients remembered", len(l.buckets))
		}
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	e.fails(404, "not found", "GET", "nothing", "", nil)
	e.fails(404, "not found", "GET", "rooms/"+code+"/nothing", "", nil)
	e.fails(404, "not found", "GET", "rooms/"+code+"/join/more", "", nil)
	e.fails(404, "not found", "GET", "", "", nil)
	e.fails(404, "no such room", "GET", "rooms/", "", nil)
	e.fails(404, "no such room", "GET", "rooms/toolongcode", "", nil)
	status, _, header := e.call("GET", "rooms", "", nil)
	if status != 405 || header.Get("Allow") != "POST" {
		t.Fatalf("GET rooms: %d, Allow %q", status, header.Get("Allow"))
	}
	e.fails(405, "method DELETE not allowed: use GET", "DELETE", "rooms/"+code, "", nil)
	e.fails(405, "use POST", "GET", "rooms/"+code+"/join", "", nil)
	e.fails(405, "use POST", "GET", "rooms/"+code+"/signal", "", nil)
	e.fails(405, "use GET", "POST", "rooms/"+code+"/poll", "", nil)
	e.fails(405, "use POST", "GET", "rooms/"+code+"/leave", "", nil)
	e.fails(405, "use POST", "PUT", "rooms/"+code+"/faults", "", nil)

	// Outside the prefix.
	resp, err := e.srv.Client().Get(e.srv.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("outside the prefix: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestRoomHidesTokens(t *testing.T) {
	e := newEnv(t)
	created := e.create(CreateRequest{})
	code := created.Code
	a := e.join(code, "", JoinRequest{})
	b := e.join(code, "", JoinRequest{})
	e.must(204, "POST", "rooms/"+code+"/signal", a.Token, rtc.Signal{From: 1, To: 2, Kind: rtc.SignalOffer, SDP: "secret sdp"}, nil)
	_, data, _ := e.call("GET", "rooms/"+code, "", nil)
	for _, s := range []string{a.Token, b.Token, hashToken(a.Token), created.TeacherToken, hashToken(created.TeacherToken), "oken", "teacher", "mailbox", "secret sdp"} {
		if strings.Contains(string(data), s) {
			t.Fatalf("GET room shows %q: %s", s, data)
		}
	}
	var room Room
	if err := json.Unmarshal(data, &room); err != nil || len(room.Members) != 2 {
		t.Fatalf("room: %s", data)
	}
}

func TestCorruptState(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := e.create(CreateRequest{}).Code
	e.join(good, "", JoinRequest{})
	blob, _, _ := e.store.Get(ctx, good)
	var other string
	for other = newCode(); other == good; other = newCode() {
	}
	future := e.clock.Now().Add(time.Hour)
	for _, bad := range []string{
		"", "null", "{", "[]", `{"v":1}`, `{"v":2}`,
		strings.Replace(string(blob), `"maxBrokers":6`, `"maxBrokers":-1`, 1),
		strings.Replace(string(blob), `"id":1`, `"id":99`, 1),
		strings.Replace(string(blob), `"kind":"tab"`, `"kind":"toaster"`, 1),
		strings.Replace(string(blob), `"members":[`, `"members":[null,`, 1),
		strings.Replace(string(blob), good, other, 1), // another room's state
		strings.Replace(string(blob), `"v":2`, `"v":3`, 1),
		strings.Replace(string(blob), `"teacherHash":"`, `"teacherHash":"zz`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":1,"down":[2,1]}`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":1,"split":[3,3]}`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":1,"down":[7]}`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":1,"split":[0]}`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":0,"down":[1]}`, 1),
		strings.Replace(string(blob), `"faults":{"seq":0}`, `"faults":{"seq":4611686018427387905}`, 1),
	} {
		e.store.Delete(ctx, good)
		if _, err := e.store.Put(ctx, good, []byte(bad), 0, future); err != nil {
			t.Fatal(err)
		}
		for _, call := range [][2]string{{"GET", "rooms/" + good}, {"POST", "rooms/" + good + "/join"}} {
			status, data, _ := e.call(call[0], call[1], "", nil)
			if status != 500 || !strings.Contains(string(data), "corrupt room state") {
				t.Fatalf("%s %s on %q: %d %s", call[0], call[1], bad, status, data)
			}
		}
	}
}

// TestConcurrentChanges: writers who collide retry, and nothing is lost.
func TestConcurrentChanges(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Logf = func(string, ...any) {} })
	code := e.create(CreateRequest{MaxBrokers: 8}).Code
	joined := make(chan JoinResponse, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			jr, err := e.h.join(context.Background(), code, "", JoinRequest{})
			if err != nil {
				t.Error(err)
			}
			joined <- jr
		})
	}
	wg.Wait()
	close(joined)
	var ids []core.NodeID
	var members []JoinResponse
	for jr := range joined {
		ids = append(ids, jr.ID)
		members = append(members, jr)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []core.NodeID{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("ids: %v", ids)
	}
	// Everyone signals member 1 at once.
	var to JoinResponse
	for _, m := range members {
		if m.ID == 1 {
			to = m
		}
	}
	for _, m := range members {
		if m.ID == 1 {
			continue
		}
		for i := range 4 {
			wg.Go(func() {
				if err := e.h.signal(context.Background(), code, m.Token, rtc.Signal{From: m.ID, To: 1, Session: uint64(i), Kind: rtc.SignalCandidate}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	pr, err := e.h.poll(context.Background(), code, to.Token, 0, 0, nil, nil)
	if err != nil || len(pr.Signals) != 28 || pr.Seq != 28 {
		t.Fatalf("poll: %d signals, seq %d, %v", len(pr.Signals), pr.Seq, err)
	}
}
