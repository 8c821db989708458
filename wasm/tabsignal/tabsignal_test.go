//go:build js && wasm

// These tests need a browser: `make test-browser` runs them in headless
// Chromium.
package tabsignal

import (
	"context"
	"fmt"
	"syscall/js"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// Two nodes on channels of one name hear each other's presence, and two rtc
// transports signal over them and connect through the browser's WebRTC.
func TestPresenceAndWebRTC(t *testing.T) {
	allowLocalCandidates(t)
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

// allowLocalCandidates asks for the microphone (tools/wasmbrowser.sh gives
// a fake one without asking): with that permission Chromium gathers host
// candidates on every interface, loopback included, as addresses.
func allowLocalCandidates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		tracks := args[0].Call("getTracks")
		for i := 0; i < tracks.Length(); i++ {
			tracks.Index(i).Call("stop")
		}
		done <- nil
		return nil
	})
	defer then.Release()
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- fmt.Errorf("getUserMedia: %s", args[0].Call("toString").String())
		return nil
	})
	defer catch.Release()
	opts := map[string]any{"audio": true}
	js.Global().Get("navigator").Get("mediaDevices").Call("getUserMedia", opts).Call("then", then).Call("catch", catch)
	select {
	case err := <-done:
		if err != nil {
			t.Skipf("no WebRTC host candidates in this browser: %v", err)
		}
	case <-ctx.Done():
		t.Skip("no WebRTC host candidates in this browser: getUserMedia did not answer")
	}
}
