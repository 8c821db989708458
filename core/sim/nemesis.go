package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// What a Nemesis can do (Jepsen's word for the process that breaks things).
const (
	NemesisCrash     = "crash"      // kill a node, restart it from its store
	NemesisPowerLoss = "power-loss" // crash losing every unsynced write (the oldest torn), restart
	NemesisPause     = "pause"      // pause a node, resume it
	NemesisPartition = "partition"  // isolate one node, split in two, or two halves with a bridge; heal
	NemesisOneWay    = "one-way"    // cut a link one way; heal
	NemesisSlow      = "slow"       // a slow node (a slow follower, if it follows): +SlowMs/10..SlowMs
	NemesisDrop      = "drop"       // lose 5%..MaxDropRate of all messages
	NemesisDuplicate = "duplicate"  // deliver 5%..30% of all messages twice (not TCP)
	NemesisDelay     = "delay"      // delay 10%..50% of all messages by up to 2 s (links stay FIFO)
	NemesisReorder   = "reorder"    // break per-link FIFO, with delays to make it show (not TCP)
	NemesisClock     = "clock"      // skew a node's clock by up to ±MaxClockSkewMs
)

// DefaultNemesisKinds are the faults a Kafka cluster on TCP must survive
// without losing an acknowledged record (acks=all, min.insync.replicas=2,
// RF=3): crash+restart, partition+heal, pause+resume, a slow node and lost
// messages. Power loss of unsynced writes is not in it, as Apache Kafka
// itself can lose acknowledged records then (KIP-966); nor are faults TCP
// rules out (duplicate, reorder), nor clock skew.
var DefaultNemesisKinds = []string{NemesisCrash, NemesisPartition, NemesisPause, NemesisSlow, NemesisDrop}

// AllNemesisKinds is every fault a Nemesis knows.
var AllNemesisKinds = []string{NemesisCrash, NemesisPowerLoss, NemesisPause, NemesisPartition, NemesisOneWay,
	NemesisSlow, NemesisDrop, NemesisDuplicate, NemesisDelay, NemesisReorder, NemesisClock}

// NemesisConfig configures a Nemesis. Zero values take the defaults.
type NemesisConfig struct {
	// Kinds are the faults it may pick, uniformly (DefaultNemesisKinds).
	Kinds []string
	// Targets are the nodes it may hit (the machines with ids below
	// core.ClientIDBase when it starts: the brokers).
	Targets []core.NodeID
	// A fault starts every MinIntervalMs..MaxIntervalMs (5000..15000) and
	// lasts MinFaultMs..MaxFaultMs (1000..10000); faults never overlap: the
	// next one starts at least CalmMs (1000) after the last one healed.
	MinIntervalMs, MaxIntervalMs int64
	MinFaultMs, MaxFaultMs       int64
	CalmMs                       int64
	// Open opens a machine from the store of a crashed one to restart it
	// (e.g. broker.Open). Without it, crash and power-loss are never picked.
	Open func(id core.NodeID, store storage.Store) core.Machine
	// Fault sizes: SlowMs (5000), MaxDropRate (0.3), MaxClockSkewMs (30000).
	SlowMs         int64
	MaxDropRate    float64
	MaxClockSkewMs int64
}

// Nemesis injects random faults into a Sim over a run, one at a time, each
// healed before the next. Its choices come from a source seeded by the sim's
// own, so a run with the nemesis on replays exactly. Its network faults
// change Sim.Net and put back the model they found when they heal.
type Nemesis struct {
	s      *Sim
	cfg    NemesisConfig
	rnd    *rand.Rand
	gen    int    // bumped by Stop, to cancel what is scheduled
	heal   func() // undoes the fault in force, nil if none
	faults int
}

// StartNemesis starts breaking s: the first fault comes one interval from
// now. It draws its seed from s.Rand().
func StartNemesis(s *Sim, cfg NemesisConfig) *Nemesis {
	if cfg.Kinds == nil {
		cfg.Kinds = DefaultNemesisKinds
	}
	if cfg.Targets == nil {
		for _, id := range s.ids {
			if id < core.ClientIDBase {
				cfg.Targets = append(cfg.Targets, id)
			}
		}
	}
	cfg.Targets = append([]core.NodeID(nil), cfg.Targets...)
	sortIDs(cfg.Targets)
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MinIntervalMs, 5000)
	def(&cfg.MaxIntervalMs, 15000)
	def(&cfg.MinFaultMs, 1000)
	def(&cfg.MaxFaultMs, 10000)
	def(&cfg.CalmMs, 1000)
	def(&cfg.SlowMs, 5000)
	def(&cfg.MaxClockSkewMs, 30000)
	if cfg.MaxDropRate <= 0 {
		cfg.MaxDropRate = 0.3
	}
	cfg.MaxIntervalMs = max(cfg.MaxIntervalMs, cfg.MinIntervalMs)
	cfg.MaxFaultMs = max(cfg.MaxFaultMs, cfg.MinFaultMs)
	var kinds []string
	for _, k := range cfg.Kinds {
		if (k == NemesisCrash || k == NemesisPowerLoss) && cfg.Open == nil {
			continue
		}
		kinds = append(kinds, k)
	}
	cfg.Kinds = kinds
	n := &Nemesis{s: s, cfg: cfg, rnd: rand.New(rand.NewPCG(s.rnd.Uint64(), s.rnd.Uint64()))}
	n.schedule(s.now+n.between(cfg.MinIntervalMs, cfg.MaxIntervalMs), n.next)
	return n
}

// Faults is the number of faults the nemesis injected.
func (n *Nemesis) Faults() int { return n.faults }

// Stop heals the fault in force, if any, and injects no more: the quiet end
// of a run, when the cluster must recover before the final checks.
func (n *Nemesis) Stop() {
	n.gen++
	n.healNow()
}

func (n *Nemesis) healNow() {
	if h := n.heal; h != nil {
		n.heal = nil
		h()
	}
}

// schedule runs fn at t unless Stop came first.
func (n *Nemesis) schedule(t int64, fn func()) {
	gen := n.gen
	n.s.At(t, func() {
		if n.gen == gen {
			fn()
		}
	})
}

func (n *Nemesis) between(lo, hi int64) int64 { return lo + n.rnd.Int64N(hi-lo+1) }

// next injects a fault, schedules its heal and the next fault.
func (n *Nemesis) next() {
	start := n.s.now
	interval := n.between(n.cfg.MinIntervalMs, n.cfg.MaxIntervalMs)
	dur := n.between(n.cfg.MinFaultMs, n.cfg.MaxFaultMs)
	if len(n.cfg.Kinds) > 0 {
		kind := n.cfg.Kinds[n.rnd.IntN(len(n.cfg.Kinds))]
		if heal := n.inject(kind); heal != nil {
			n.faults++
			n.heal = heal
			n.schedule(start+dur, n.healNow)
		}
	}
	n.schedule(max(start+interval, start+dur+n.cfg.CalmMs), n.next)
}

// pickLive returns a random target that is running and not paused, or false.
func (n *Nemesis) pickLive() (core.NodeID, bool) {
	var live []core.NodeID
	for _, id := range n.cfg.Targets {
		if n.s.machines[id] != nil && !n.s.paused[id] {
			live = append(live, id)
		}
	}
	if len(live) == 0 {
		return 0, false
	}
	return live[n.rnd.IntN(len(live))], true
}

func (n *Nemesis) pickAny() core.NodeID { return n.cfg.Targets[n.rnd.IntN(len(n.cfg.Targets))] }

// inject starts a fault of kind and returns what heals it, or nil if it
// could not be injected.
func (n *Nemesis) inject(kind string) func() {
	s := n.s
	if len(n.cfg.Targets) == 0 {
		return nil
	}
	switch kind {
	case NemesisCrash, NemesisPowerLoss:
		id, ok := n.pickLive()
		if !ok {
			return nil
		}
		if kind == NemesisCrash {
			s.Crash(id)
		} else {
			s.CrashLosing(id, Loss{Writes: AllUnsynced, Torn: true})
		}
		return func() {
			if s.machines[id] == nil {
				s.Restart(id, func(st storage.Store) core.Machine { return n.cfg.Open(id, st) })
			}
		}
	case NemesisPause:
		id, ok := n.pickLive()
		if !ok {
			return nil
		}
		s.Pause(id)
		return func() { s.Resume(id) }
	case NemesisPartition:
		groups := n.grouping()
		if groups == nil {
			return nil
		}
		links := s.partition(groups)
		return func() {
			s.uncutLinks(links)
			gs := make([][]core.NodeID, len(groups))
			var nodes []core.NodeID
			seen := map[core.NodeID]bool{}
			for i, g := range groups {
				gs[i] = append([]core.NodeID(nil), g...)
				sortIDs(gs[i])
				for _, id := range g {
					if !seen[id] {
						seen[id] = true
						nodes = append(nodes, id)
					}
				}
			}
			sortIDs(nodes)
			s.record(HostNode, core.FaultHealed{Kind: core.FaultPartition, Nodes: nodes, Detail: "healed " + groupString(gs)})
		}
	case NemesisOneWay:
		if len(n.cfg.Targets) < 2 {
			return nil
		}
		from := n.pickAny()
		to := from
		for to == from {
			to = n.pickAny()
		}
		s.record(HostNode, core.FaultInjected{Kind: core.FaultCut, Nodes: []core.NodeID{from, to}, Detail: fmt.Sprintf("%d -> %d", from, to)})
		links := [][2]core.NodeID{{from, to}}
		s.cutLinks(links, "network cut")
		return func() {
			s.uncutLinks(links)
			s.record(HostNode, core.FaultHealed{Kind: core.FaultCut, Nodes: []core.NodeID{from, to}, Detail: fmt.Sprintf("%d -> %d", from, to)})
		}
	case NemesisSlow:
		id := n.pickAny()
		old := s.slow[id]
		s.Slow(id, old+n.between(max(n.cfg.SlowMs/10, 1), n.cfg.SlowMs))
		return func() { s.Slow(id, old) }
	case NemesisClock:
		id := n.pickAny()
		old := s.skew[id]
		off := n.between(1, n.cfg.MaxClockSkewMs)
		if n.rnd.IntN(2) == 0 {
			off = -off
		}
		s.SkewClock(id, old+off)
		return func() { s.SkewClock(id, old) }
	case NemesisDrop, NemesisDuplicate, NemesisDelay, NemesisReorder:
		old := s.Net
		net := old
		switch kind {
		case NemesisDrop:
			net.DropRate = 0.05 + n.rnd.Float64()*max(n.cfg.MaxDropRate-0.05, 0)
		case NemesisDuplicate:
			net.DuplicateRate = 0.05 + n.rnd.Float64()*0.25
		case NemesisDelay:
			net.DelayRate, net.DelayMs = 0.1+n.rnd.Float64()*0.4, n.between(100, 2000)
		case NemesisReorder:
			net.Reorder = true
			net.DelayRate, net.DelayMs = 0.2, n.between(10, 200)
		}
		s.Net = net
		s.record(HostNode, core.FaultInjected{Kind: core.FaultNetwork, Detail: kind + ": " + net.String()})
		return func() {
			s.Net = old
			s.record(HostNode, core.FaultHealed{Kind: core.FaultNetwork, Detail: kind + " over: " + old.String()})
		}
	}
	return nil
}

// grouping draws a partition of the targets, as Jepsen's nemeses do: one
// node isolated, a random split into two sides, or (with 3 or more) two
// sides joined by a bridge node that talks to both.
func (n *Nemesis) grouping() [][]core.NodeID {
	t := append([]core.NodeID(nil), n.cfg.Targets...)
	if len(t) < 2 {
		return nil
	}
	n.rnd.Shuffle(len(t), func(i, j int) { t[i], t[j] = t[j], t[i] })
	variants := 2
	if len(t) >= 3 {
		variants = 3
	}
	switch n.rnd.IntN(variants) {
	case 0: // isolate one
		return [][]core.NodeID{t[:1], t[1:]}
	case 1: // two sides
		k := 1 + n.rnd.IntN(len(t)-1)
		return [][]core.NodeID{t[:k], t[k:]}
	default: // bridge: t[0] in both sides
		k := 2 + n.rnd.IntN(len(t)-2)
		a := append([]core.NodeID(nil), t[:k]...)
		b := append([]core.NodeID{t[0]}, t[k:]...)
		return [][]core.NodeID{a, b}
	}
}
