package room

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// documented are the statuses the handler may answer with.
var documented = map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true, 429: true, 500: true, 503: true}

func FuzzHandler(f *testing.F) {
	store := NewMemStore()
	h := NewHandler(Config{Store: store, Rate: 1000, Burst: 1000, MaxBody: 4096, MaxWait: 5 * time.Millisecond, MaxRooms: 50, Logf: func(string, ...any) {}})
	room, err := h.Create(context.Background(), CreateRequest{MaxBrokers: 3, Kafka: map[core.NodeID]string{1: "127.0.0.1:9092"}})
	if err != nil {
		f.Fatal(err)
	}
	member, err := h.join(context.Background(), room.Code, "", JoinRequest{Device: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	code := room.Code
	sig, _ := json.Marshal(rtc.Signal{From: 1, To: 1, Kind: rtc.SignalOffer, SDP: "v=0"})
	f.Add("POST", "rooms", uint8(0), []byte(`{"maxBrokers":3}`))
	f.Add("GET", "rooms/"+code, uint8(0), []byte(nil))
	f.Add("POST", "rooms/"+strings.ToLower(code)+"/join", uint8(1), []byte(`{"want":2,"device":"x","kind":"node"}`))
	f.Add("POST", "rooms/"+code+"/signal", uint8(1), sig)
	f.Add("GET", "rooms/"+code+"/poll?after=0&wait=10", uint8(1), []byte(nil))
	f.Add("POST", "rooms/"+code+"/leave", uint8(2), []byte(nil))
	f.Add("PUT", "rooms/"+code+"/join/x", uint8(3), []byte(`{`))
	f.Add("POST", "rooms/"+code+"/faults", uint8(4), []byte(`{"down":[3,1],"split":[2]}`))
	f.Add("POST", "rooms/"+code+"/faults", uint8(1), []byte(`{"down":[1]}`))
	f.Add("GET", "rooms/"+code+"/poll?after=0&wait=10&faults=7", uint8(1), []byte(nil))
	f.Fuzz(func(t *testing.T, method, suffix string, auth uint8, body []byte) {
		if strings.HasSuffix(suffix, "/leave") {
			return // keep the member for the other inputs
		}
		req, err := http.NewRequest(method, "http://room.test/api/"+suffix, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a server could get
		}
		req.RemoteAddr = "192.0.2.1:1234"
		switch auth % 5 {
		case 1:
			req.Header.Set("Authorization", "Bearer "+member.Token)
		case 2:
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("0", 32))
		case 3:
			req.Header.Set("Authorization", string(body))
		case 4:
			req.Header.Set("Authorization", "Bearer "+room.TeacherToken)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !documented[w.Code] {
			t.Fatalf("%s %s: undocumented status %d", method, suffix, w.Code)
		}
		if w.Code == 500 {
			t.Fatalf("%s %s: 500 %s", method, suffix, w.Body)
		}
		if w.Code == 204 {
			if w.Body.Len() != 0 {
				t.Fatalf("204 with a body")
			}
			return
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", method, suffix, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e ErrorResponse
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
				t.Fatalf("%s %s: %d without an error message: %s", method, suffix, w.Code, w.Body)
			}
		}
		// The shared room stays usable.
		if _, err := h.Room(context.Background(), code); err != nil {
			t.Fatalf("after %s %s: %v", method, suffix, err)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &state{V: stateVersion, Code: "ABCDEF", MaxBrokers: 3, Voters: []core.NodeID{1, 2, 3}, Kafka: map[core.NodeID]string{2: "h:1"}, Created: now, Active: now,
		TeacherHash: hashToken(newToken()), Faults: Faults{Seq: 4, Down: []core.NodeID{2}, Split: []core.NodeID{1, 3}}}
	s.Members = append(s.Members, &member{Member: Member{ID: 1, Kind: "tab", Joined: now, LastSeen: now}, TokenHash: hashToken(newToken())})
	s.Members = append(s.Members, &member{Member: Member{ID: 3, Device: "d", Kind: "node", Joined: now, LastSeen: now}, TokenHash: hashToken(newToken())})
	s.Members[1].deliver(rtc.Signal{From: 1, To: 3, Kind: rtc.SignalOffer, SDP: "v=0"}, 8, 1<<20)
	s.Members[1].deliver(rtc.Signal{From: 1, To: 3, Kind: rtc.SignalCandidate, Candidate: &rtc.Candidate{Candidate: "c"}}, 8, 1<<20)
	blob, _ := s.encode()
	f.Add(blob)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(strings.Replace(string(blob), `"v":2`, `"v":1`, 1)))
	f.Add([]byte(`null`))
	f.Add([]byte(strings.Replace(string(blob), `"seq":1`, `"seq":5`, 1)))
	f.Fuzz(func(t *testing.T, blob []byte) {
		s, err := decodeState(blob)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "corrupt room state: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		// A state that decodes survives everything the handler does to it.
		s.expire(now, time.Hour)
		s.room()
		for _, m := range s.Members {
			m.since(0)
			m.ack(1)
			m.deliver(rtc.Signal{Kind: rtc.SignalOffer}, 2, 100)
		}
		s.lowestFree()
		s.byToken(strings.Repeat("0", 32))
		for id := range core.NodeID(s.MaxBrokers + 1) {
			s.Faults.IsDown(id)
			if b := s.Faults.Blocked(id, s.MaxBrokers); slices.Contains(b, id) {
				t.Fatalf("broker %d blocked from itself", id)
			}
		}
		again, err := s.encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeState(again); err != nil {
			t.Fatalf("re-encoded state: %v", err)
		}
	})
}
