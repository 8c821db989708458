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

// MaxFaultPct bounds SetLoss and SetDuplication: past half the messages
// lost, nothing is left to watch but timeouts.
const MaxFaultPct = 50

// SetLoss makes the whole network lose pct % of messages (0: none), keeping
// the latency the lab was configured with. Every machine sees it: clients
// time out and retry (request.timeout.ms), followers fetch again, the
// quorum resends. Brokers run over TCP in Kafka, which would retransmit;
// the sim loses the message for good, as a broken connection would.
func (l *Lab) SetLoss(pct int64) {
	pct = min(max(pct, 0), MaxFaultPct)
	l.record(Action{Kind: ActSetLoss, N: pct})
	n := l.Sim.Net
	n.DropRate = float64(pct) / 100
	l.Sim.SetNetwork(n)
}

// SetDuplication makes the network deliver pct % of messages twice. A
// duplicated Produce is what idempotence is for: the leader answers the
// copy with the first one's offsets and appends nothing.
func (l *Lab) SetDuplication(pct int64) {
	pct = min(max(pct, 0), MaxFaultPct)
	l.record(Action{Kind: ActSetDuplication, N: pct})
	n := l.Sim.Net
	n.DuplicateRate = float64(pct) / 100
	l.Sim.SetNetwork(n)
}

// Loss and Duplication are the percentages SetLoss and SetDuplication set.
func (l *Lab) Loss() int64        { return int64(l.Sim.Net.DropRate*100 + 0.5) }
func (l *Lab) Duplication() int64 { return int64(l.Sim.Net.DuplicateRate*100 + 0.5) }

// PartitionBrokers splits the brokers in two sides, sideA and the rest,
// that cannot talk to each other until HealAll; clients still reach every
// broker. It replaces the cuts made before, so the split is what the
// learner chose. The side without a quorum of controller voters cannot
// elect a controller, and its brokers are fenced once they miss
// broker.session.timeout.ms of heartbeats.
func (l *Lab) PartitionBrokers(sideA []core.NodeID) {
	var mask int64
	for _, id := range sideA {
		if l.isBroker(id) && id < 63 {
			mask |= 1 << id
		}
	}
	var a, b []core.NodeID
	for _, id := range l.ids {
		if mask&(1<<id) != 0 {
			a = append(a, id)
		} else {
			b = append(b, id)
		}
	}
	if len(a) == 0 || len(b) == 0 {
		return // one side holds every broker: nothing to cut
	}
	l.record(Action{Kind: ActPartitionBrokers, N: mask})
	l.Sim.HealAll()
	l.Sim.Partition(a, b)
}

// brokerMask reads PartitionBrokers' action argument back as broker ids.
func brokerMask(mask int64) []core.NodeID {
	var ids []core.NodeID
	for id := core.NodeID(1); id < 63; id++ {
		if mask&(1<<id) != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}
