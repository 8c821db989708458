package lab

import (
	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// Breaking the cluster: each action is a fault of the sim (core/sim), which
// records it as a FaultInjected event and its end as a FaultHealed event;
// what follows (fencing, elections, ISR changes, truncation) is the real
// machines' doing.

// isBroker reports whether id is one of the lab's servers.
func (l *Lab) isBroker(id core.NodeID) bool { return l.servers[id] != nil }

// KillBroker kills a broker's process (kill -9): messages to and from it are
// lost; its store is kept for RestartBroker. The controller fences it once
// broker.session.timeout.ms (9 s) passes without a heartbeat, and elects
// other leaders for the partitions it led.
func (l *Lab) KillBroker(id core.NodeID) {
	if l.isBroker(id) {
		l.record(Action{Kind: ActKillBroker, Node: id})
		l.Sim.Crash(id)
	}
}

// RestartBroker starts a killed broker again from its store: it recovers
// its logs, registers with the controller (fenced), catches up with the
// metadata log, is unfenced, and its replicas fetch from the leaders until
// they are back in the ISR.
func (l *Lab) RestartBroker(id core.NodeID) {
	if l.isBroker(id) && l.Sim.Machine(id) == nil {
		l.record(Action{Kind: ActRestartBroker, Node: id})
		l.Sim.Restart(id, func(st storage.Store) core.Machine { return l.open(id, st) })
	}
}

// PauseBroker stops a broker's process (SIGSTOP, a long GC pause): it
// handles nothing and messages to it wait; ResumeBroker hands them over.
func (l *Lab) PauseBroker(id core.NodeID) {
	if l.isBroker(id) {
		l.record(Action{Kind: ActPauseBroker, Node: id})
		l.Sim.Pause(id)
	}
}

// ResumeBroker undoes PauseBroker.
func (l *Lab) ResumeBroker(id core.NodeID) {
	if l.isBroker(id) {
		l.record(Action{Kind: ActResumeBroker, Node: id})
		l.Sim.Resume(id)
	}
}

// Isolate cuts the network between a broker and every other broker, both
// ways, until Heal: it can neither replicate nor reach the controller
// quorum, while clients can still reach it.
func (l *Lab) Isolate(id core.NodeID) {
	if !l.isBroker(id) || l.isolated(id) {
		return
	}
	l.record(Action{Kind: ActIsolate, Node: id})
	var others []core.NodeID
	for _, o := range l.ids {
		if o != id {
			others = append(others, o)
		}
	}
	l.Sim.Partition([]core.NodeID{id}, others)
}

// Heal reconnects a broker with the other brokers.
func (l *Lab) Heal(id core.NodeID) {
	if !l.isBroker(id) {
		return
	}
	l.record(Action{Kind: ActHeal, Node: id})
	for _, o := range l.ids {
		if o != id {
			l.Sim.Heal(id, o)
		}
	}
}

// HealAll undoes every cut.
func (l *Lab) HealAll() {
	l.record(Action{Kind: ActHealAll})
	l.Sim.HealAll()
}

// SlowBroker adds ms of latency to every message to and from a broker (0:
// normal again): a slow disk or network. A follower that falls more than
// replica.lag.time.max.ms (30 s) behind leaves the ISR.
func (l *Lab) SlowBroker(id core.NodeID, ms int64) {
	if !l.isBroker(id) {
		return
	}
	l.record(Action{Kind: ActSlowBroker, Node: id, N: ms})
	l.Sim.Slow(id, ms)
	if ms > 0 {
		l.slow[id] = ms
	} else {
		delete(l.slow, id)
	}
}
