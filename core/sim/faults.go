package sim

import (
	"container/heap"
	"fmt"
	"sort"
	"strings"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// Fault injection from outside the machines. Each fault is recorded as a
// core.FaultInjected event when it begins and a core.FaultHealed event when
// it ends; node faults are recorded under the node, network faults under
// HostNode.

// Crash stops a machine at once, as kill -9 does: messages in flight to or
// from it, and those waiting for it while it was paused, are lost. Its store
// is kept whole (the OS still has the page cache) so that a new machine can
// be opened from it: see Restart.
func (s *Sim) Crash(id core.NodeID) {
	if s.machines[id] == nil {
		return
	}
	s.record(id, core.FaultInjected{Kind: core.FaultCrash, Nodes: []core.NodeID{id}, Detail: "process killed, store kept"})
	s.crash(id, fmt.Sprintf("node %d crashed", id))
	s.crashed[id] = core.FaultCrash
}

// AllUnsynced, as Loss.Writes, loses every write since the last sync.
const AllUnsynced = -1

// Loss is what a power loss takes from a machine's store.
type Loss struct {
	// Writes is how many of the newest unsynced write operations are lost
	// (AllUnsynced: all of them). Writes made durable by Sync or by
	// SyncEveryMs are never lost.
	Writes int
	// Torn makes the oldest lost write, if it is an append of at least 2
	// bytes, leave a random part of its data behind instead: a torn write
	// that recovery must find (Kafka checks each batch's CRC).
	Torn bool
}

// CrashLosing crashes a machine as a power loss does: besides what Crash
// does, the writes its store had not synced yet are lost, newest first, as
// loss says. What is left is the store as it was after some prefix of the
// machine's writes. Restart it with Restart.
func (s *Sim) CrashLosing(id core.NodeID, loss Loss) {
	if s.machines[id] == nil {
		return
	}
	detail := s.disks[id].lose(loss.Writes, loss.Torn, s.rnd)
	s.record(id, core.FaultInjected{Kind: core.FaultPowerLoss, Nodes: []core.NodeID{id}, Detail: detail})
	s.crash(id, fmt.Sprintf("node %d lost power", id))
	s.crashed[id] = core.FaultPowerLoss
}

// Sync makes every write of a machine so far durable, as an fsync does.
func (s *Sim) Sync(id core.NodeID) {
	if d := s.disks[id]; d != nil {
		d.sync()
	}
}

// Unsynced is the number of write operations of a machine that a power loss
// would lose now.
func (s *Sim) Unsynced(id core.NodeID) int {
	if d := s.disks[id]; d != nil {
		return d.unsynced()
	}
	return 0
}

// crash removes a machine, dropping its messages.
func (s *Sim) crash(id core.NodeID, reason string) {
	delete(s.machines, id)
	for i, x := range s.ids {
		if x == id {
			s.ids = append(s.ids[:i], s.ids[i+1:]...)
			break
		}
	}
	for _, f := range s.inbox[id] {
		s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: reason})
	}
	delete(s.inbox, id)
	delete(s.paused, id)
	if d := s.disks[id]; d != nil {
		d.sync() // a killed process's writes are in the OS: durable
	}
	s.dropFlights(func(e core.Envelope) bool { return e.To == id || e.From == id }, reason)
}

// Restart opens a new machine from the store of a crashed one, with open,
// and Adds it, recording the end of the fault if Crash or CrashLosing
// stopped it (a machine stopped by a StorageFailed has no fault to end). It
// panics if the machine is running or never was. If open returns nil (the store cannot be opened),
// the machine stays down and a StorageFailed event says so.
func (s *Sim) Restart(id core.NodeID, open func(storage.Store) core.Machine) {
	if s.machines[id] != nil {
		panic(fmt.Sprintf("sim: restart of running machine %d", id))
	}
	store := s.Store(id)
	if store == nil {
		panic(fmt.Sprintf("sim: restart of unknown machine %d", id))
	}
	m := open(store)
	if m == nil {
		s.record(id, core.StorageFailed{Err: fmt.Sprintf("restart of node %d: its store could not be opened", id)})
		return
	}
	if m.ID() != id {
		panic(fmt.Sprintf("sim: restart of machine %d opened machine %d", id, m.ID()))
	}
	if kind := s.crashed[id]; kind != "" {
		s.record(id, core.FaultHealed{Kind: kind, Nodes: []core.NodeID{id}, Detail: "restarted from its store"})
	}
	s.Add(m, store)
}

// Pause stops a machine as SIGSTOP or a long GC pause does: it is not
// ticked and handles no message; messages sent to it wait, like bytes in the
// socket buffers of a stopped process, until Resume hands them over in the
// order they arrived. Messages it sent before the pause still arrive.
func (s *Sim) Pause(id core.NodeID) {
	if s.machines[id] == nil || s.paused[id] {
		return
	}
	s.paused[id] = true
	s.record(id, core.FaultInjected{Kind: core.FaultPause, Nodes: []core.NodeID{id}, Detail: "process stopped"})
}

// Resume undoes Pause: the machine gets the messages that waited for it,
// now, and is ticked again from the next tick on.
func (s *Sim) Resume(id core.NodeID) {
	if !s.paused[id] {
		return
	}
	delete(s.paused, id)
	queued := s.inbox[id]
	delete(s.inbox, id)
	s.record(id, core.FaultHealed{Kind: core.FaultPause, Nodes: []core.NodeID{id},
		Detail: fmt.Sprintf("process resumed, %d messages waiting", len(queued))})
	for _, f := range queued {
		m := s.machines[id]
		if m == nil || s.paused[id] {
			// Crashed or paused again by whoever watches the events.
			s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: fmt.Sprintf("node %d gone", id)})
			continue
		}
		s.record(id, core.MessageDelivered{Envelope: f.env})
		m.Step(f.env)
		s.drain(id)
	}
}

// Paused reports whether a machine is paused.
func (s *Sim) Paused(id core.NodeID) bool { return s.paused[id] }

// Queued lists the messages waiting for a paused machine, oldest first.
func (s *Sim) Queued(id core.NodeID) []Flight {
	var out []Flight
	for _, f := range s.inbox[id] {
		out = append(out, Flight{SentAt: f.sentAt, At: f.at, Envelope: f.env})
	}
	return out
}

// Cut drops every message between a and b, in both directions, until Heal;
// messages already in flight between them are lost too.
func (s *Sim) Cut(a, b core.NodeID) {
	s.record(HostNode, core.FaultInjected{Kind: core.FaultCut, Nodes: []core.NodeID{a, b}, Detail: fmt.Sprintf("%d <-> %d", a, b)})
	s.cutLinks([][2]core.NodeID{{a, b}, {b, a}}, "network cut")
}

// CutOneWay drops every message from from to to until Heal, those in flight
// included; messages from to to from still pass. Over TCP a one-way cut
// stalls the whole connection; here requests arrive and their responses are
// lost (or the other way round).
func (s *Sim) CutOneWay(from, to core.NodeID) {
	s.record(HostNode, core.FaultInjected{Kind: core.FaultCut, Nodes: []core.NodeID{from, to}, Detail: fmt.Sprintf("%d -> %d", from, to)})
	s.cutLinks([][2]core.NodeID{{from, to}}, "network cut")
}

// Partition splits the named nodes into groups: two nodes that share no
// group cannot talk, in either direction, until HealAll (or Heal of each
// link); messages in flight between them are lost. A node in two groups is
// a bridge that talks to both; nodes not named keep talking to all. Cuts add
// up: a second Partition does not heal the first.
func (s *Sim) Partition(groups ...[]core.NodeID) {
	s.partition(groups)
}

func (s *Sim) partition(groups [][]core.NodeID) [][2]core.NodeID {
	in := map[core.NodeID][]int{}
	for g, group := range groups {
		for _, id := range group {
			in[id] = append(in[id], g)
		}
	}
	var nodes []core.NodeID
	for id := range in {
		nodes = append(nodes, id)
	}
	sortIDs(nodes)
	var links [][2]core.NodeID
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b && !shareGroup(in[a], in[b]) {
				links = append(links, [2]core.NodeID{a, b})
			}
		}
	}
	gs := make([][]core.NodeID, len(groups))
	for i, g := range groups {
		gs[i] = append([]core.NodeID(nil), g...)
		sortIDs(gs[i])
	}
	s.record(HostNode, core.FaultInjected{Kind: core.FaultPartition, Nodes: nodes, Groups: gs, Detail: groupString(gs)})
	s.cutLinks(links, "network partition")
	return links
}

func shareGroup(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func groupString(groups [][]core.NodeID) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		ids := make([]string, len(g))
		for j, id := range g {
			ids[j] = fmt.Sprint(id)
		}
		parts[i] = "{" + strings.Join(ids, " ") + "}"
	}
	return strings.Join(parts, " | ")
}

func sortIDs(ids []core.NodeID) { sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) }

// cutLinks cuts directed links and drops the messages in flight on them.
func (s *Sim) cutLinks(links [][2]core.NodeID, reason string) {
	set := map[[2]core.NodeID]bool{}
	for _, l := range links {
		s.cut[l]++
		set[l] = true
	}
	s.dropFlights(func(e core.Envelope) bool { return set[[2]core.NodeID{e.From, e.To}] }, reason)
}

// uncutLinks undoes one cutLinks of the same links.
func (s *Sim) uncutLinks(links [][2]core.NodeID) {
	for _, l := range links {
		if s.cut[l]--; s.cut[l] <= 0 {
			delete(s.cut, l)
		}
	}
}

func (s *Sim) dropFlights(match func(core.Envelope) bool, reason string) {
	// In delivery order, so that the events read naturally.
	sort.Slice(s.flight, s.flight.Less)
	kept := s.flight[:0]
	for _, f := range s.flight {
		if match(f.env) {
			s.record(f.env.From, core.MessageDropped{Envelope: f.env, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	s.flight = kept
	heap.Init(&s.flight)
}

// Heal undoes every cut between a and b, in both directions, whether made
// by Cut, CutOneWay or Partition.
func (s *Sim) Heal(a, b core.NodeID) {
	ab, ba := [2]core.NodeID{a, b}, [2]core.NodeID{b, a}
	if s.cut[ab] == 0 && s.cut[ba] == 0 {
		return
	}
	delete(s.cut, ab)
	delete(s.cut, ba)
	s.record(HostNode, core.FaultHealed{Kind: core.FaultCut, Nodes: []core.NodeID{a, b}, Detail: fmt.Sprintf("%d <-> %d", a, b)})
}

// HealAll undoes every cut and partition: all nodes can talk again.
func (s *Sim) HealAll() {
	if len(s.cut) == 0 {
		return
	}
	clear(s.cut)
	s.record(HostNode, core.FaultHealed{Kind: core.FaultPartition, Detail: "every link healed"})
}

// Connected reports whether messages from from to to can pass now.
func (s *Sim) Connected(from, to core.NodeID) bool { return s.cut[[2]core.NodeID{from, to}] == 0 }

// Slow adds ms of latency to every message to or from a node (a slow
// follower, an overloaded broker, a bad NIC); 0 makes it normal again. It
// applies to messages sent from now on; links stay FIFO unless Net.Reorder.
func (s *Sim) Slow(id core.NodeID, ms int64) {
	old := s.slow[id]
	if ms == old {
		return
	}
	if ms <= 0 {
		delete(s.slow, id)
		s.record(id, core.FaultHealed{Kind: core.FaultSlow, Nodes: []core.NodeID{id}, Detail: "normal latency"})
		return
	}
	s.slow[id] = ms
	s.record(id, core.FaultInjected{Kind: core.FaultSlow, Nodes: []core.NodeID{id}, Detail: fmt.Sprintf("+%d ms to and from node %d", ms, id)})
}

// SlowLink adds ms of latency to every message from from to to; 0 makes the
// link normal again.
func (s *Sim) SlowLink(from, to core.NodeID, ms int64) {
	l := [2]core.NodeID{from, to}
	old := s.slowLink[l]
	if ms == old {
		return
	}
	if ms <= 0 {
		delete(s.slowLink, l)
		s.record(HostNode, core.FaultHealed{Kind: core.FaultSlow, Nodes: []core.NodeID{from, to}, Detail: fmt.Sprintf("%d -> %d normal latency", from, to)})
		return
	}
	s.slowLink[l] = ms
	s.record(HostNode, core.FaultInjected{Kind: core.FaultSlow, Nodes: []core.NodeID{from, to}, Detail: fmt.Sprintf("+%d ms from %d to %d", ms, from, to)})
}

// SetNetwork changes the network model, recording a fault if the new model
// drops, duplicates, delays or reorders messages, and its end if it stops
// doing so. (Assigning Net directly, as setup, records nothing.)
func (s *Sim) SetNetwork(n Network) {
	old := s.Net
	s.Net = n
	switch {
	case n.faulty() && n != old:
		s.record(HostNode, core.FaultInjected{Kind: core.FaultNetwork, Detail: n.String()})
	case !n.faulty() && old.faulty():
		s.record(HostNode, core.FaultHealed{Kind: core.FaultNetwork, Detail: n.String()})
	}
}

// SkewClock sets how far a node's clock is ahead of the sim's (negative:
// behind); 0 sets it right. Machines never see their clock go back: a node
// whose clock is set back sees the time stand still until the sim's clock
// catches up.
func (s *Sim) SkewClock(id core.NodeID, offsetMs int64) {
	old := s.skew[id]
	if offsetMs == old {
		return
	}
	if offsetMs == 0 {
		delete(s.skew, id)
		s.record(id, core.FaultHealed{Kind: core.FaultClock, Nodes: []core.NodeID{id}, Detail: fmt.Sprintf("clock of node %d set right", id)})
		return
	}
	s.skew[id] = offsetMs
	s.record(id, core.FaultInjected{Kind: core.FaultClock, Nodes: []core.NodeID{id},
		Detail: fmt.Sprintf("clock of node %d jumps %+d ms, now %+d ms off", id, offsetMs-old, offsetMs)})
}

// JumpClock moves a node's clock by ms (see SkewClock); the node sees the
// jump at its next tick.
func (s *Sim) JumpClock(id core.NodeID, ms int64) { s.SkewClock(id, s.skew[id]+ms) }

// ClockSkew is how far a node's clock is set ahead of the sim's.
func (s *Sim) ClockSkew(id core.NodeID) int64 { return s.skew[id] }
