package ui

import (
	"testing"

	"github.com/streamlab/streamlab/core"
)

// Every fresh member's counts add up per route, as rates over each one's
// window; a stale or killed member's are left out.
func TestLiveWireRoutes(t *testing.T) {
	v := &LiveView{
		ID: 1,
		Self: LiveShared{Broker: 1, WindowMs: 1000, Sent: []LiveLink{
			{From: 1, To: 2, API: "Fetch", Kind: "response", N: 4},
			{From: 2001, To: 2, API: "Produce", Kind: "request", N: 3},
		}},
		Shared: []LiveShared{
			{Broker: 2, WindowMs: 2000, Sent: []LiveLink{{From: 2, To: 1, API: "Fetch", Kind: "request", N: 8}, {From: 2, To: 1, API: "raft", N: 2}}},
			{Broker: 3, WindowMs: 1000, AgeMs: sharedStaleMs + 1, Sent: []LiveLink{{From: 3, To: 1, API: "Fetch", Kind: "request", N: 9}}},
			{Broker: 4, WindowMs: 1000, Killed: true, Sent: []LiveLink{{From: 4, To: 1, API: "Fetch", Kind: "request", N: 9}}},
		},
	}
	routes, beside := (&LiveWire{View: v}).routes()
	type want struct {
		from, to core.NodeID
		total    float64
		rates    map[string]float64
	}
	wants := []want{
		{1, 2, 4, map[string]float64{"Fetch response": 4}},
		{2, 1, 5, map[string]float64{"Fetch request": 4, "raft": 1}},
		{2001, 2, 3, map[string]float64{"Produce request": 3}},
	}
	if len(routes) != len(wants) {
		t.Fatalf("%d routes, want %d: %+v", len(routes), len(wants), routes)
	}
	for i, w := range wants {
		r := routes[i]
		if r.from != w.from || r.to != w.to || r.total != w.total || len(r.rates) != len(w.rates) {
			t.Errorf("route %d: %+v, want %+v", i, r, w)
			continue
		}
		for api, rate := range w.rates {
			if r.rates[api] != rate {
				t.Errorf("route %d→%d %s: %v/s, want %v", r.from, r.to, api, r.rates[api], rate)
			}
		}
	}
	if beside[2001] != 1 {
		t.Errorf("client 2001 beside broker %d, want 1", beside[2001])
	}
}
