package sim

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// nemesisRun runs 3 chatting nodes and a client-like node 1000 with a
// nemesis for ms, stops it, lets the cluster calm down, and returns the
// hash of the event trace, the events and the sim.
func nemesisRun(t *testing.T, seed uint64, kinds []string, ms int64) (string, []Observed, *Sim, *Nemesis) {
	t.Helper()
	s := New(seed)
	s.TickMs = 100
	s.Net = Network{MinLatencyMs: 1, MaxLatencyMs: 20}
	peers := []core.NodeID{1, 2, 3, core.ClientIDBase}
	open := func(id core.NodeID, _ storage.Store) core.Machine {
		var ps []core.NodeID
		for _, p := range peers {
			if p != id {
				ps = append(ps, p)
			}
		}
		return newChatter(id, ps...)
	}
	for _, id := range peers {
		s.Add(open(id, nil), nil)
	}
	n := StartNemesis(s, NemesisConfig{Kinds: kinds, Open: open})
	var evs []Observed
	s.OnEvent = func(o Observed) { evs = append(evs, o) }
	s.RunFor(ms)
	n.Stop()
	s.RunFor(1000)
	h := sha256.New()
	for _, o := range evs {
		fmt.Fprintf(h, "%d %d %T %v\n", o.Time, o.Node, o.Event, o.Event)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), evs, s, n
}

func TestNemesisReplaysExactly(t *testing.T) {
	h1, evs, s, n := nemesisRun(t, 11, AllNemesisKinds, 300_000)
	h2, _, _, _ := nemesisRun(t, 11, AllNemesisKinds, 300_000)
	if h1 != h2 {
		t.Fatal("same seed, different runs with the nemesis on")
	}
	// Negative control: the comparison can fail.
	if h3, _, _, _ := nemesisRun(t, 12, AllNemesisKinds, 300_000); h3 == h1 {
		t.Fatal("different seeds gave identical runs")
	}
	if n.Faults() < 20 || s.Faults() != n.Faults() {
		t.Fatalf("%d faults by the nemesis, %d recorded in 300 s", n.Faults(), s.Faults())
	}
	injected, healed := 0, 0
	for _, o := range evs {
		switch o.Event.(type) {
		case core.FaultInjected:
			injected++
		case core.FaultHealed:
			healed++
		}
	}
	if injected != n.Faults() || healed != injected {
		t.Fatalf("%d faults injected, %d healed", injected, healed)
	}
}

// After Stop, everything is as it was: every node runs, talks to every
// other at normal speed, with its clock right.
func TestNemesisStopHealsAll(t *testing.T) {
	_, _, s, _ := nemesisRun(t, 5, AllNemesisKinds, 60_000)
	if len(s.IDs()) != 4 || len(s.paused) != 0 || len(s.cut) != 0 || len(s.slow) != 0 || len(s.skew) != 0 ||
		s.Net != (Network{MinLatencyMs: 1, MaxLatencyMs: 20}) {
		t.Fatalf("left behind: ids %v paused %v cut %v slow %v skew %v net %+v", s.IDs(), s.paused, s.cut, s.slow, s.skew, s.Net)
	}
	s.Events()
	s.RunFor(1000)
	talksAmong(t, s.Events(), []core.NodeID{1, 2, 3, core.ClientIDBase})
}

func talksAmong(t *testing.T, evs []Observed, ids []core.NodeID) {
	t.Helper()
	d := deliveries(evs)
	for _, a := range ids {
		for _, b := range ids {
			if a != b && d[[2]core.NodeID{a, b}] == 0 {
				t.Fatalf("%d -> %d: nothing delivered", a, b)
			}
		}
	}
}

// Every kind of fault shows up over a few seeds, each only with its own
// kind of event, and the default kinds leave out the faults TCP rules out.
func TestNemesisKinds(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 3; seed++ {
		_, evs, _, _ := nemesisRun(t, seed, AllNemesisKinds, 300_000)
		for _, o := range evs {
			if e, ok := o.Event.(core.FaultInjected); ok {
				seen[e.Kind] = true
				if e.Kind == core.FaultNetwork {
					seen[e.Detail[:strings.IndexByte(e.Detail, ':')]] = true
				}
			}
		}
	}
	for _, k := range []string{core.FaultCrash, core.FaultPowerLoss, core.FaultPause, core.FaultPartition, core.FaultCut,
		core.FaultSlow, core.FaultNetwork, core.FaultClock, NemesisDrop, NemesisDuplicate, NemesisDelay, NemesisReorder} {
		if !seen[k] {
			t.Errorf("no %s fault in 3 runs", k)
		}
	}

	_, evs, _, _ := nemesisRun(t, 1, nil, 300_000)
	for _, o := range evs {
		switch e := o.Event.(type) {
		case core.FaultInjected:
			if e.Kind == core.FaultPowerLoss || e.Kind == core.FaultClock ||
				strings.HasPrefix(e.Detail, NemesisDuplicate) || strings.HasPrefix(e.Detail, NemesisReorder) {
				t.Fatalf("default nemesis injected %+v", e)
			}
		case core.MessageDuplicated:
			t.Fatal("default nemesis duplicated a message")
		}
	}

	// Without Open it never crashes anything.
	s := New(1)
	chatters(s, 3)
	n := StartNemesis(s, NemesisConfig{Kinds: []string{NemesisCrash, NemesisPause}})
	s.RunFor(100_000)
	n.Stop()
	if n.Faults() == 0 {
		t.Fatal("no faults")
	}
	for _, o := range s.Events() {
		if e, ok := o.Event.(core.FaultInjected); ok && e.Kind != core.FaultPause {
			t.Fatalf("injected %+v without Open", e)
		}
	}
}

// The trace of a nemesis run obeys its own fault events: nothing is
// delivered to a crashed or paused node, nothing crosses a cut link, and a
// crashed or paused node says nothing.
func TestNemesisTraceObeysFaults(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		_, evs, _, _ := nemesisRun(t, seed, AllNemesisKinds, 300_000)
		down := map[core.NodeID]string{}
		cut := map[[2]core.NodeID]int{}
		cutsOf := func(e core.FaultInjected) [][2]core.NodeID {
			switch e.Kind {
			case core.FaultCut:
				return [][2]core.NodeID{{e.Nodes[0], e.Nodes[1]}}
			case core.FaultPartition:
				var out [][2]core.NodeID
				for _, a := range e.Nodes {
					for _, b := range e.Nodes {
						together := false
						for _, g := range e.Groups {
							ina, inb := false, false
							for _, x := range g {
								ina, inb = ina || x == a, inb || x == b
							}
							together = together || ina && inb
						}
						if a != b && !together {
							out = append(out, [2]core.NodeID{a, b})
						}
					}
				}
				return out
			}
			return nil
		}
		var active []core.FaultInjected
		checked := 0
		for _, o := range evs {
			switch e := o.Event.(type) {
			case core.FaultInjected:
				active = append(active, e)
				switch e.Kind {
				case core.FaultCrash, core.FaultPowerLoss, core.FaultPause:
					down[e.Nodes[0]] = e.Kind
				}
				for _, l := range cutsOf(e) {
					cut[l]++
				}
			case core.FaultHealed:
				// The nemesis heals the fault it injected last.
				f := active[len(active)-1]
				active = active[:len(active)-1]
				if f.Kind != e.Kind {
					t.Fatalf("seed %d: %s healed while %s was in force", seed, e.Kind, f.Kind)
				}
				if len(e.Nodes) > 0 && (f.Kind == core.FaultCrash || f.Kind == core.FaultPowerLoss || f.Kind == core.FaultPause) {
					delete(down, e.Nodes[0])
				}
				for _, l := range cutsOf(f) {
					cut[l]--
				}
			case core.MessageDelivered:
				checked++
				from, to := e.Envelope.From, e.Envelope.To
				if down[to] != "" {
					t.Fatalf("seed %d t=%d: %v delivered to a node in %s", seed, o.Time, e.Envelope, down[to])
				}
				if cut[[2]core.NodeID{from, to}] > 0 {
					t.Fatalf("seed %d t=%d: %v delivered across a cut", seed, o.Time, e.Envelope)
				}
			case core.MessageSent:
				if down[e.Envelope.From] != "" {
					t.Fatalf("seed %d t=%d: %v sent by a node in %s", seed, o.Time, e.Envelope, down[e.Envelope.From])
				}
			}
		}
		if checked == 0 {
			t.Fatal("no deliveries")
		}
	}
}
