//go:build js && wasm

// These tests need a browser: `make test-browser` runs them in headless
// Chromium.
package tabsignal

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
	"github.com/streamlab/streamlab/wasm/webrtctest"
)

// Two nodes on channels of one name hear each other's presence, and two rtc
// transports signal over them and connect through the browser's WebRTC.
func TestPresenceAndWebRTC(t *testing.T) {
	webrtctest.AllowLocalCandidates(t)
	cluster := fmt.Sprintf("tabsignal-test-%d", time.Now().UnixNano())
	heard := make(chan Presence, 16)
	a, err := Open(Config{Cluster: cluster, ID: 1, Interval: 200 * time.Millisecond, Presence: func(p Presence) {
		select {
		case heard <- p:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Config{Cluster: cluster, ID: 2, Interval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case p := <-heard:
		if p.ID != 2 {
			t.Fatalf("heard %+v, want node 2", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node 1 did not hear node 2")
	}

	got := make(chan core.Envelope, 1)
	up := make(chan core.NodeID, 2)
	down := func(id core.NodeID, err error) { t.Logf("peer %d down: %v", id, err) }
	ta, err := rtc.New(rtc.Config{ID: 1, Cluster: cluster, Signaler: a, PeerUp: func(id core.NodeID) { up <- id }, PeerDown: down})
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	tb, err := rtc.New(rtc.Config{ID: 2, Cluster: cluster, Signaler: b, PeerUp: func(id core.NodeID) { up <- id }, PeerDown: down,
		Receive: func(_ core.NodeID, env core.Envelope) { got <- env }})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	start := time.Now()
	if err := ta.Connect(2); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-up:
		case <-time.After(20 * time.Second):
			t.Fatal("no WebRTC connection within 20 s")
		}
	}
	t.Logf("connected in %v", time.Since(start))
	req := kmsg.NewPtrApiVersionsRequest()
	if err := ta.Send(2, core.Envelope{From: 1, To: 2, CorrelationID: 7, Request: req}); err != nil {
		t.Fatal(err)
	}
	select {
	case env := <-got:
		if env.From != 1 || env.CorrelationID != 7 {
			t.Fatalf("got %v", env)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the envelope did not arrive")
	}
}
