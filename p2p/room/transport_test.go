//go:build !js

package room

import (
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/frame/frametest"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// TestTransportsOverRoom: two native transports whose signaling goes
// through a room connect and exchange envelopes.
func TestTransportsOverRoom(t *testing.T) {
	e := newEnv(t)
	code := e.create(CreateRequest{}).Code
	type node struct {
		c    *Client
		tr   *rtc.Transport
		up   chan core.NodeID
		recv chan core.Envelope
	}
	start := func(device string) *node {
		n := &node{c: e.client(code, func(c *ClientConfig) { c.Join.Device = device }), up: make(chan core.NodeID, 4), recv: make(chan core.Envelope, 16)}
		tr, err := rtc.New(rtc.Config{
			ID: n.c.ID(), Cluster: n.c.Room().Cluster, Signaler: n.c,
			Platform: rtc.PlatformConfig{API: rtc.LoopbackAPI()},
			PeerUp:   func(id core.NodeID) { n.up <- id },
			Receive:  func(_ core.NodeID, env core.Envelope) { n.recv <- env },
			Logf:     t.Logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		n.tr = tr
		t.Cleanup(func() { tr.Close() })
		return n
	}
	a, b := start("a"), start("b")
	if err := b.tr.Connect(a.c.ID()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{a, b} {
		select {
		case <-n.up:
		case <-time.After(30 * time.Second):
			t.Fatalf("node %d: no peer up in 30 s", n.c.ID())
		}
	}
	want := frametest.Raft(1, 2, 3, 1)
	if err := a.tr.Send(2, want); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-b.recv:
		if d := frametest.Diff(got, want); d != "" {
			t.Fatal(d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no envelope in 10 s")
	}
}
