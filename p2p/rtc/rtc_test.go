//go:build !js

package rtc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/frame"
	"github.com/streamlab/streamlab/p2p/frame/frametest"
)

type received struct {
	from core.NodeID
	env  core.Envelope
}

type peerEvent struct {
	id  core.NodeID
	up  bool
	err error
}

type node struct {
	*Transport
	recv   chan received
	events chan peerEvent
}

// startNode starts a transport whose callbacks feed channels; options, if
// any, adjust its Config.
func startNode(t testing.TB, hub *MemSignaling, id core.NodeID, cluster string, options ...func(*Config)) *node {
	n := &node{recv: make(chan received, 1<<16), events: make(chan peerEvent, 64)}
	cfg := Config{
		ID: id, Cluster: cluster, Signaler: hub.Node(id), Platform: PlatformConfig{API: LoopbackAPI()},
		Receive:  func(from core.NodeID, env core.Envelope) { n.recv <- received{from, env} },
		PeerUp:   func(p core.NodeID) { n.events <- peerEvent{id: p, up: true} },
		PeerDown: func(p core.NodeID, err error) { n.events <- peerEvent{id: p, err: err} },
		Logf:     t.Logf,
	}
	for _, o := range options {
		o(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Transport = tr
	t.Cleanup(func() { tr.Close() })
	return n
}

func (n *node) event(t testing.TB) peerEvent {
	t.Helper()
	select {
	case ev := <-n.events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatalf("node %d: no peer event in 30 s", n.ID())
		return peerEvent{}
	}
}

func (n *node) waitUp(t testing.TB, peers ...core.NodeID) {
	t.Helper()
	want := map[core.NodeID]bool{}
	for _, p := range peers {
		want[p] = true
	}
	for len(want) > 0 {
		ev := n.event(t)
		if !ev.up || !want[ev.id] {
			t.Fatalf("node %d: %+v while waiting for %v up", n.ID(), ev, want)
		}
		delete(want, ev.id)
	}
}

func (n *node) waitDown(t testing.TB, peer core.NodeID) error {
	t.Helper()
	ev := n.event(t)
	if ev.up || ev.id != peer {
		t.Fatalf("node %d: %+v while waiting for %d down", n.ID(), ev, peer)
	}
	return ev.err
}

// exchange makes every node send n mixed envelopes to every other, all at
// once, and checks each stream arrives whole and in order.
func exchange(t *testing.T, nodes []*node, n int) {
	var wg sync.WaitGroup
	for _, a := range nodes {
		for _, b := range nodes {
			if a == b {
				continue
			}
			wg.Go(func() {
				for i := range n {
					if err := a.Send(b.ID(), frametest.Mixed(a.ID(), b.ID(), i)); err != nil {
						t.Errorf("send %d -> %d #%d: %v", a.ID(), b.ID(), i, err)
						return
					}
				}
			})
		}
	}
	for _, b := range nodes {
		next := map[core.NodeID]int{}
		for range n * (len(nodes) - 1) {
			var r received
			select {
			case r = <-b.recv:
			case <-time.After(30 * time.Second):
				t.Fatalf("node %d: stalled after %v", b.ID(), next)
			}
			i := next[r.from]
			next[r.from]++
			if d := frametest.Diff(r.env, frametest.Mixed(r.from, b.ID(), i)); d != "" {
				t.Fatalf("node %d, envelope %d from %d: %s", b.ID(), i, r.from, d)
			}
		}
	}
	wg.Wait()
}

func TestTwoNodes(t *testing.T) {
	hub := NewMemSignaling()
	a := startNode(t, hub, 1, "classroom")
	b := startNode(t, hub, 2, "classroom")
	if err := a.Send(2, frametest.Raft(1, 2, 1, 1)); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send before connecting: %v", err)
	}
	if err := a.Connect(2); err != nil {
		t.Fatal(err)
	}
	a.waitUp(t, 2)
	b.waitUp(t, 1)
	if err := a.Send(2, core.Envelope{From: 1, To: 2}); !errors.Is(err, frame.ErrEncode) {
		t.Fatalf("empty envelope: %v", err)
	}
	exchange(t, []*node{a, b}, 10000)

	// Closing one node is a crashed broker to the other.
	start := time.Now()
	b.Close()
	if err := b.waitDown(t, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed node: %v", err)
	}
	err := a.waitDown(t, 2)
	if !errors.Is(err, ErrPeerClosed) && !errors.Is(err, ErrConnectionFailed) {
		t.Fatalf("peer of closed node: %v", err)
	}
	t.Logf("peer down after %v: %v", time.Since(start), err)
	if err := a.Send(2, frametest.Raft(1, 2, 1, 1)); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send after peer down: %v", err)
	}

	// The broker comes back (a reloaded tab) and connects again.
	b2 := startNode(t, hub, 2, "classroom")
	if err := b2.Connect(1); err != nil {
		t.Fatal(err)
	}
	a.waitUp(t, 2)
	b2.waitUp(t, 1)
	exchange(t, []*node{a, b2}, 100)
}

// Three nodes connect to each other all at once: every pair meets with two
// crossing offers, of which one must win.
func TestThreeNodes(t *testing.T) {
	hub := NewMemSignaling()
	nodes := []*node{
		startNode(t, hub, 1, "classroom"),
		startNode(t, hub, 2, "classroom"),
		startNode(t, hub, 3, "classroom"),
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				if err := a.Connect(b.ID()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	nodes[0].waitUp(t, 2, 3)
	nodes[1].waitUp(t, 1, 3)
	nodes[2].waitUp(t, 1, 2)
	exchange(t, nodes, 1700) // 10,200 envelopes on six streams
}

func TestWrongClusterRefused(t *testing.T) {
	hub := NewMemSignaling()
	a := startNode(t, hub, 1, "classroom")
	b := startNode(t, hub, 2, "other")
	a.Connect(2)
	for _, n := range []*node{a, b} {
		peer := 3 - n.ID()
		err := n.waitDown(t, peer)
		if !errors.Is(err, ErrWrongCluster) || !strings.Contains(err.Error(), `"classroom"`) || !strings.Contains(err.Error(), `"other"`) {
			t.Fatalf("node %d: %v", n.ID(), err)
		}
		t.Logf("node %d: %v", n.ID(), err)
	}
}

func TestUnknownBrokerRefused(t *testing.T) {
	hub := NewMemSignaling()
	a := startNode(t, hub, 1, "classroom", func(c *Config) {
		c.AllowPeer = func(id core.NodeID) bool { return id == 1 || id == 2 }
	})
	x := startNode(t, hub, 7, "classroom")
	x.Connect(1)
	err := x.waitDown(t, 1)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Peer != 1 || !strings.Contains(refused.Reason, "node 7 is not a broker") {
		t.Fatalf("refused node: %v", err)
	}
	t.Logf("refused node: %v", err)
	if err := a.waitDown(t, 7); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("refusing node: %v", err)
	}
}

// A node that restarts while its peer still holds the old connection (a
// crashed tab whose connection has not timed out yet) replaces it: the peer
// reports the old one down, then the new one up.
func TestRestartReplacesConnection(t *testing.T) {
	hub := NewMemSignaling()
	a := startNode(t, hub, 1, "classroom")
	b := startNode(t, hub, 2, "classroom")
	b.Connect(1)
	a.waitUp(t, 2)
	b.waitUp(t, 1)

	b2 := startNode(t, hub, 2, "classroom") // takes over id 2 on the hub
	b2.Connect(1)
	if err := a.waitDown(t, 2); !errors.Is(err, ErrReplaced) {
		t.Fatalf("old connection: %v", err)
	}
	a.waitUp(t, 2)
	b2.waitUp(t, 1)
	exchange(t, []*node{a, b2}, 50)
	if err := b.waitDown(t, 1); !errors.Is(err, ErrPeerClosed) && !errors.Is(err, ErrConnectionFailed) {
		t.Fatalf("replaced node: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	hub := NewMemSignaling()
	a := startNode(t, hub, 1, "classroom", func(c *Config) { c.ConnectTimeout = 200 * time.Millisecond })
	hub.Node(9).Receive(func(Signal) {}) // a node that never answers
	a.Connect(9)
	if err := a.waitDown(t, 9); !errors.Is(err, ErrConnectTimeout) {
		t.Fatal(err)
	}
}

func (e peerEvent) String() string {
	return fmt.Sprintf("{%d up=%v %v}", e.id, e.up, e.err)
}
