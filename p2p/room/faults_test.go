package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
)

func ids(n ...core.NodeID) []core.NodeID { return n }

func sameFaults(a, b Faults) bool {
	return a.Seq == b.Seq && slices.Equal(a.Down, b.Down) && slices.Equal(a.Split, b.Split)
}

func TestFaultsBlockedAndDown(t *testing.T) {
	f := Faults{Seq: 3, Down: ids(2, 5), Split: ids(1, 4)}
	for _, c := range []struct {
		f       Faults
		id      core.NodeID
		max     int
		blocked []core.NodeID
	}{
		{Faults{}, 1, 6, nil},
		{Faults{Down: ids(1)}, 2, 6, nil},
		{f, 1, 6, ids(2, 3, 5, 6)},
		{f, 4, 6, ids(2, 3, 5, 6)},
		{f, 2, 6, ids(1, 4)},
		{f, 6, 6, ids(1, 4)},
		{f, 3, 4, ids(1, 4)},                  // bounded by maxBrokers
		{f, 7, 6, ids(1, 4)},                  // an id beyond the room is on the other side
		{Faults{Split: ids(1, 2)}, 1, 2, nil}, // everyone on one side: no one blocked
		{Faults{Split: ids(2)}, 1, 1, nil},    // a side beyond the room
		{Faults{Split: ids(2)}, 2, 1, ids(1)}, // a broker beyond the room is on its side
	} {
		if got := c.f.Blocked(c.id, c.max); !slices.Equal(got, c.blocked) || (c.blocked == nil) != (got == nil) {
			t.Errorf("%+v.Blocked(%d, %d) = %v, want %v", c.f, c.id, c.max, got, c.blocked)
		}
	}
	for id, want := range map[core.NodeID]bool{1: false, 2: true, 3: false, 5: true, 6: false, 0: false} {
		if f.IsDown(id) != want {
			t.Errorf("IsDown(%d) = %v", id, !want)
		}
	}
	if (Faults{}).IsDown(1) {
		t.Error("no faults, yet down")
	}
}

// activeOf reads the room's Active time from the store.
func (e *env) activeOf(code string) time.Time {
	e.t.Helper()
	blob, _, err := e.store.Get(context.Background(), code)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := decodeState(blob)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Active
}

func TestFaultsRoute(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{MaxBrokers: 4})
	if !validToken(c.TeacherToken) || !sameFaults(c.Faults, Faults{}) {
		t.Fatalf("created: %+v", c)
	}
	other := e.create(CreateRequest{})
	code, teacher := c.Code, c.TeacherToken
	a := e.join(code, "", JoinRequest{})
	path := "rooms/" + code + "/faults"
	set := FaultsRequest{Down: ids(3, 1), Split: ids(4, 2)}

	e.fails(401, "invalid teacher token", "POST", path, "", set)
	e.fails(401, "invalid teacher token", "POST", path, "nothex", set)
	e.fails(401, "invalid teacher token", "POST", path, strings.Repeat("ab", 16), set)
	e.fails(401, "invalid teacher token", "POST", path, other.TeacherToken, set)
	e.fails(403, "only the room's teacher (its creator) may inject faults", "POST", path, a.Token, set)
	e.fails(400, "down: broker id 5 out of range 1..4", "POST", path, teacher, FaultsRequest{Down: ids(5)})
	e.fails(400, "split: broker id 0 out of range 1..4", "POST", path, teacher, FaultsRequest{Split: ids(0)})
	e.fails(400, "split: broker id -1 out of range", "POST", path, teacher, FaultsRequest{Split: ids(-1)})
	e.fails(400, "down: broker id 2 given twice", "POST", path, teacher, FaultsRequest{Down: ids(2, 1, 2)})
	e.fails(400, "malformed request body", "POST", path, teacher, "{")
	e.fails(400, "malformed request body", "POST", path, teacher, "")
	e.fails(400, "malformed request body", "POST", path, teacher, `{"down":"1"}`)
	e.fails(405, "method GET not allowed: use POST", "GET", path, teacher, nil)
	e.fails(404, "no room ABCDEF", "POST", "rooms/ABCDEF/faults", teacher, set)
	if got := e.activeOf(code); !got.Equal(e.clock.Now()) {
		t.Fatalf("refused requests changed the room (active %v)", got)
	}

	// A change bumps Seq and Active; ids come sorted; an id no member
	// holds is fine.
	e.clock.Add(4 * time.Second) // within a's lease
	var r Room
	e.must(200, "POST", path, teacher, set, &r)
	want := Faults{Seq: 1, Down: ids(1, 3), Split: ids(2, 4)}
	if !sameFaults(r.Faults, want) || r.Code != code || len(r.Members) != 1 {
		t.Fatalf("set: %+v", r)
	}
	if got := e.activeOf(code); !got.Equal(e.clock.Now()) {
		t.Fatalf("active %v after a change at %v", got, e.clock.Now())
	}
	// The same faults again change nothing.
	e.clock.Add(4 * time.Second)
	e.must(200, "POST", path, teacher, FaultsRequest{Down: ids(1, 3), Split: ids(4, 2)}, &r)
	if !sameFaults(r.Faults, want) {
		t.Fatalf("same again: %+v", r.Faults)
	}
	if got := e.activeOf(code); !got.Equal(e.clock.Now().Add(-4 * time.Second)) {
		t.Fatalf("active %v after no change", got)
	}

	// Everyone sees them: the room, a join, a poll.
	e.must(200, "GET", "rooms/"+code, "", nil, &r)
	jr := e.join(code, "", JoinRequest{})
	pr := e.poll(code, a.Token, 0, 0)
	for what, f := range map[string]Faults{"GET room": r.Faults, "join": jr.Room.Faults, "poll": pr.Faults} {
		if !sameFaults(f, want) {
			t.Errorf("%s: faults %+v, want %+v", what, f, want)
		}
	}

	// What the request omits heals.
	var healed Room
	e.must(200, "POST", path, teacher, FaultsRequest{Split: ids(2)}, &healed)
	if !sameFaults(healed.Faults, Faults{Seq: 2, Split: ids(2)}) {
		t.Fatalf("partial heal: %+v", healed.Faults)
	}
	status, data, _ := e.call("POST", path, teacher, `{}`)
	if status != 200 || !strings.Contains(string(data), `"faults":{"seq":3}`) {
		t.Fatalf("heal all: %d %s", status, data)
	}
	// The teacher's token is not a member's.
	e.fails(401, "invalid or expired token", "GET", "rooms/"+code+"/poll", teacher, nil)
}

// pollQuery polls with a raw query, on any goroutine.
func pollQuery(e *env, code, token, query string) (PollResponse, error) {
	req, _ := http.NewRequest("GET", e.url()+"rooms/"+code+"/poll?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return PollResponse{}, err
	}
	defer resp.Body.Close()
	var pr PollResponse
	if resp.StatusCode != 200 {
		return pr, &StatusError{Status: resp.StatusCode}
	}
	return pr, json.NewDecoder(resp.Body).Decode(&pr)
}

func TestPollFaults(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{})
	code := c.Code
	b := e.join(code, "", JoinRequest{})
	setFaults := func(req FaultsRequest) {
		e.must(200, "POST", "rooms/"+code+"/faults", c.TeacherToken, req, nil)
	}

	// Faults as the caller knows them: the poll waits.
	start := time.Now()
	if pr, err := pollQuery(e, code, b.Token, "wait=300&faults=0"); err != nil || time.Since(start) < 300*time.Millisecond || pr.Faults.Seq != 0 {
		t.Fatalf("poll after %v: %+v, %v", time.Since(start), pr, err)
	}
	setFaults(FaultsRequest{Down: ids(1)})
	// Faults newer than the caller's: the poll answers at once.
	start = time.Now()
	if pr, err := pollQuery(e, code, b.Token, "wait=10000&faults=0"); err != nil || time.Since(start) > 5*time.Second || !sameFaults(pr.Faults, Faults{Seq: 1, Down: ids(1)}) {
		t.Fatalf("poll after %v: %+v, %v", time.Since(start), pr, err)
	}

	// A change wakes a waiting poll, whether it says faults= or not.
	type result struct {
		pr  PollResponse
		err error
		at  time.Duration
	}
	for i, query := range []string{"wait=10000&faults=1", "wait=10000"} {
		done := make(chan result, 1)
		start = time.Now()
		go func() {
			pr, err := pollQuery(e, code, b.Token, query)
			done <- result{pr, err, time.Since(start)}
		}()
		time.Sleep(100 * time.Millisecond)
		setFaults(FaultsRequest{Split: ids(core.NodeID(i + 1))})
		r := <-done
		if r.err != nil || r.at > 5*time.Second || !sameFaults(r.pr.Faults, Faults{Seq: uint64(i + 2), Split: ids(core.NodeID(i + 1))}) {
			t.Fatalf("%s: woken after %v: %+v, %v", query, r.at, r.pr, r.err)
		}
	}
	e.fails(400, "faults=x: want a sequence number", "GET", "rooms/"+code+"/poll?faults=x", b.Token, nil)
	e.fails(400, "faults=-1", "GET", "rooms/"+code+"/poll?faults=-1", b.Token, nil)
}

// recvFaults waits for faults on ch.
func recvFaults(t *testing.T, ch <-chan Faults) Faults {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no faults in 5 s")
		return Faults{}
	}
}

func TestClientFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fetch := HTTPFetcher{e.srv.Client()}
	cr, err := CreateRoom(ctx, fetch, e.url(), CreateRequest{MaxBrokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Faults, 16)
	a := e.client(cr.Code, func(c *ClientConfig) { c.OnFaults = func(f Faults) { got <- f } })
	if f := recvFaults(t, got); !sameFaults(f, Faults{}) {
		t.Fatalf("the join's faults: %+v", f)
	}

	want := Faults{Seq: 1, Down: ids(2), Split: ids(1, 3)}
	room, err := SetFaults(ctx, fetch, strings.TrimSuffix(e.url(), "/"), strings.ToLower(cr.Code), cr.TeacherToken, FaultsRequest{Down: ids(2), Split: ids(3, 1)})
	if err != nil || !sameFaults(room.Faults, want) {
		t.Fatalf("SetFaults: %+v, %v", room, err)
	}
	if f := recvFaults(t, got); !sameFaults(f, want) || !sameFaults(a.Faults(), want) {
		t.Fatalf("a's faults: %+v, Faults() %+v", f, a.Faults())
	}
	// No news, no call; the next change comes once, in order.
	if _, err := SetFaults(ctx, fetch, e.url(), cr.Code, cr.TeacherToken, FaultsRequest{Down: ids(2), Split: ids(1, 3)}); err != nil {
		t.Fatal(err)
	}
	SetFaults(ctx, fetch, e.url(), cr.Code, cr.TeacherToken, FaultsRequest{})
	SetFaults(ctx, fetch, e.url(), cr.Code, cr.TeacherToken, FaultsRequest{Down: ids(3)})
	want = Faults{Seq: 3, Down: ids(3)}
	for f := recvFaults(t, got); f.Seq != want.Seq; f = recvFaults(t, got) {
		if f.Seq != 2 || len(f.Down)+len(f.Split) != 0 {
			t.Fatalf("a's faults on the way to %+v: %+v", want, f)
		}
	}

	// A member joining later gets the room's faults first; a's poll wakes
	// for the join but has no faults to report.
	bgot := make(chan Faults, 16)
	e.client(cr.Code, func(c *ClientConfig) { c.OnFaults = func(f Faults) { bgot <- f } })
	if f := recvFaults(t, bgot); !sameFaults(f, want) {
		t.Fatalf("b's first faults: %+v", f)
	}
	waitFor(t, "a seeing b", func() bool { return len(a.Members()) == 2 })
	time.Sleep(100 * time.Millisecond)
	select {
	case f := <-got:
		t.Fatalf("a got faults again: %+v", f)
	case f := <-bgot:
		t.Fatalf("b got faults again: %+v", f)
	default:
	}

	// Errors come back as StatusErrors.
	var se *StatusError
	if _, err := SetFaults(ctx, fetch, e.url(), cr.Code, a.Token(), FaultsRequest{}); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("SetFaults as a member: %v", err)
	}
	if _, err := SetFaults(ctx, fetch, e.url(), cr.Code, cr.TeacherToken, FaultsRequest{Down: ids(4)}); !errors.As(err, &se) || se.Status != 400 || !strings.Contains(err.Error(), "out of range 1..3") {
		t.Fatalf("SetFaults out of range: %v", err)
	}
	if _, err := SetFaults(ctx, fetch, e.url(), "ABCDEF", cr.TeacherToken, FaultsRequest{}); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("SetFaults of no room: %v", err)
	}
	if _, err := SetFaults(ctx, fetch, e.url(), "AB0", cr.TeacherToken, FaultsRequest{}); err == nil {
		t.Fatal("SetFaults with a bad code")
	}
}

func TestCreateRoom(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cr, err := CreateRoom(ctx, nil, e.url(), CreateRequest{MaxBrokers: 2}) // nil: HTTPFetcher natively
	if err != nil || cr.MaxBrokers != 2 || !validToken(cr.TeacherToken) || cr.Cluster != "room-"+cr.Code {
		t.Fatalf("CreateRoom: %+v, %v", cr, err)
	}
	if r, err := e.h.Room(ctx, cr.Code); err != nil || r.Code != cr.Code {
		t.Fatalf("the created room: %+v, %v", r, err)
	}
	// An older reader that decodes a Room gets the room.
	_, data, _ := e.call("POST", "rooms", "", CreateRequest{})
	var r Room
	if err := json.Unmarshal(data, &r); err != nil || len(r.Code) != codeLen || !strings.Contains(string(data), `"teacherToken":"`) {
		t.Fatalf("POST rooms: %s", data)
	}

	var se *StatusError
	if _, err := CreateRoom(ctx, nil, e.url(), CreateRequest{MaxBrokers: 65}); !errors.As(err, &se) || se.Status != 400 || !strings.Contains(err.Error(), "maxBrokers 65 out of range") {
		t.Fatalf("CreateRoom of 65: %v", err)
	}
	for _, answer := range []string{`{}`, `{"code":"ABCDEF"}`, `{"code":"ABCDEF","teacherToken":"x"}`, `[`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			fmt.Fprint(w, answer)
		}))
		_, err := CreateRoom(ctx, HTTPFetcher{srv.Client()}, srv.URL, CreateRequest{})
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), "malformed answer") {
			t.Fatalf("CreateRoom answered %s: %v", answer, err)
		}
	}
}

// TestVersion1State: a room stored before teachers (format 1) still works,
// without a teacher, and is written in the current format.
func TestVersion1State(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.create(CreateRequest{})
	a := e.join(c.Code, "", JoinRequest{})
	blob, ver, _ := e.store.Get(ctx, c.Code)
	var m map[string]any
	json.Unmarshal(blob, &m)
	m["v"] = 1
	delete(m, "teacherHash")
	delete(m, "faults")
	old, _ := json.Marshal(m)
	if _, err := e.store.Put(ctx, c.Code, old, ver, e.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var r Room
	e.must(200, "GET", "rooms/"+c.Code, "", nil, &r)
	if len(r.Members) != 1 || !sameFaults(r.Faults, Faults{}) {
		t.Fatalf("version 1 room: %+v", r)
	}
	e.fails(401, "invalid teacher token", "POST", "rooms/"+c.Code+"/faults", c.TeacherToken, FaultsRequest{})
	e.fails(403, "only the room's teacher", "POST", "rooms/"+c.Code+"/faults", a.Token, FaultsRequest{})
	e.join(c.Code, "", JoinRequest{})
	blob, _, _ = e.store.Get(ctx, c.Code)
	if !strings.HasPrefix(string(blob), `{"v":2,`) {
		t.Fatalf("rewritten as %.20s", blob)
	}

	// Format 1 knew no teacher nor faults.
	s, _ := decodeState(blob)
	s.TeacherHash = hashToken(newToken())
	blob, _ = s.encode()
	if _, err := decodeState([]byte(strings.Replace(string(blob), `"v":2`, `"v":1`, 1))); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Fatalf("version 1 with a teacher: %v", err)
	}
}
