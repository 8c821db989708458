package lab

import (
	"slices"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/controller"
)

// BrokerState is what a broker is doing, as the page shows it.
type BrokerState string

// Broker states, from the worst: a crashed process, a paused one, one
// the controller keeps fenced (or that has not registered yet), a live one.
const (
	BrokerCrashed BrokerState = "crashed"
	BrokerPaused  BrokerState = "paused"
	BrokerFenced  BrokerState = "fenced"
	BrokerLive    BrokerState = "live"
)

// BrokerView is one server as the page shows it: the process (from the
// sim), its registration (from the active controller's metadata image) and
// its voter.
type BrokerView struct {
	ID    core.NodeID
	State BrokerState
	// Registered: the controller's image has the broker; Epoch is its
	// broker epoch there and Fenced whether the controller fences it.
	Registered bool
	Epoch      int64
	Fenced     bool
	// Isolated: the network between this broker and every other broker is
	// cut (Isolate); clients still reach it.
	Isolated bool
	SlowMs   int64 // extra latency on its messages (SlowBroker)
	// The controller voter on this server: Voter is false if it runs none.
	// ActiveController: the quorum's active controller, as the image and
	// the other voters see it. ControllerEpoch is the raft term this voter
	// is in (KRaft's controller epoch).
	Voter            bool
	ActiveController bool
	ControllerEpoch  int64
	// BelievesLeader: this voter thinks it leads the quorum. A leader cut
	// off from the others believes so until check-quorum makes it resign.
	BelievesLeader bool
}

// ActiveController is the voter that leads the quorum and has applied its
// log (-1 if none: an election is on), with its epoch. A voter cut off from
// the others may still believe it leads for a while; the one in the newest
// epoch is the active one.
func (l *Lab) ActiveController() (core.NodeID, int64) {
	best, epoch := core.NodeID(-1), int64(-1)
	for _, id := range l.ids {
		if l.Sim.Machine(id) == nil {
			continue
		}
		c := l.servers[id].Controller()
		if c != nil && c.Active() && c.Epoch() > epoch {
			best, epoch = id, c.Epoch()
		}
	}
	return best, epoch
}

// Voters are the controller quorum's voters (controller.quorum.voters).
func (l *Lab) Voters() []core.NodeID {
	return slices.Clone(l.scfgs[l.ids[0]].Controller.Voters)
}

// image is the metadata image of the active controller, or, while there is
// none, of the running voter that applied the most.
func (l *Lab) image() controller.View {
	if id, _ := l.ActiveController(); id >= 0 {
		return l.servers[id].Controller().Image()
	}
	var best controller.View
	for _, id := range l.ids {
		if l.Sim.Machine(id) == nil {
			continue
		}
		if c := l.servers[id].Controller(); c != nil && (best == nil || c.Image().Offset() > best.Offset()) {
			best = c.Image()
		}
	}
	return best
}

// MetadataOffset is the offset of the metadata log the active controller
// (or the most advanced voter) has applied.
func (l *Lab) MetadataOffset() int64 {
	if im := l.image(); im != nil {
		return im.Offset()
	}
	return -1
}

// Brokers describes every server.
func (l *Lab) Brokers() []BrokerView {
	active, _ := l.ActiveController()
	im := l.image()
	var out []BrokerView
	for _, id := range l.ids {
		v := BrokerView{ID: id, SlowMs: l.slow[id], Isolated: l.isolated(id)}
		if im != nil {
			if b, ok := im.Broker(int32(id)); ok {
				v.Registered, v.Epoch, v.Fenced = true, b.Epoch, b.Fenced
			}
		}
		if c := l.servers[id].Controller(); c != nil {
			v.Voter = true
			v.ControllerEpoch = c.Epoch()
			v.BelievesLeader = l.Sim.Machine(id) != nil && c.Leader() == id
			v.ActiveController = id == active
		}
		switch {
		case l.Sim.Machine(id) == nil:
			v.State = BrokerCrashed
		case l.Sim.Paused(id):
			v.State = BrokerPaused
		case !v.Registered || v.Fenced:
			v.State = BrokerFenced
		default:
			v.State = BrokerLive
		}
		out = append(out, v)
	}
	return out
}

// isolated reports whether every link between id and the other brokers is
// cut.
func (l *Lab) isolated(id core.NodeID) bool {
	others := 0
	for _, o := range l.ids {
		if o == id {
			continue
		}
		others++
		if l.Sim.Connected(id, o) || l.Sim.Connected(o, id) {
			return false
		}
	}
	return others > 0
}

// PartitionView is one partition: what the controller's metadata says and
// what each broker holds.
type PartitionView struct {
	Partition int32
	// From the active controller's image: the leader (-1: none), its
	// epoch, the partition epoch (bumped by every leader or ISR change),
	// the assigned replicas and the in-sync replicas.
	Leader         int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas, ISR  []int32
	// Brokers has one entry per server, in id order.
	Brokers []ReplicaView
}

// ReplicaView is a partition as one broker holds it.
type ReplicaView struct {
	Broker core.NodeID
	// Holds: the broker has this partition (it is one of its replicas and
	// it has applied the topic).
	Holds bool
	// Down: the broker is crashed, so this is the log as it was at the
	// crash (its store keeps it for a restart).
	Down bool
	// As the broker itself sees it: "leader" or "follower", the leader it
	// follows and the leader epoch it is in. A leader that is cut off still
	// calls itself leader until it learns of a newer epoch.
	Role        string
	Leader      int32
	LeaderEpoch int32
	// InISR: the controller counts this replica in sync.
	InISR bool
	// Offsets: log start offset, high watermark (as this broker knows it;
	// a follower learns it from the leader) and log end offset (LEO).
	LogStartOffset, HighWatermark, LogEndOffset int64
	Segments                                    int
}

// PartitionViews describes every partition of the topic.
func (l *Lab) PartitionViews() []PartitionView {
	im := l.image()
	var out []PartitionView
	for p := int32(0); p < l.cfg.Partitions; p++ {
		pv := PartitionView{Partition: p, Leader: -1}
		if im != nil {
			if mp, ok := im.Partition(l.cfg.Topic, p); ok {
				pv.Leader, pv.LeaderEpoch, pv.PartitionEpoch = mp.Leader, mp.LeaderEpoch, mp.PartitionEpoch
				pv.Replicas, pv.ISR = slices.Clone(mp.Replicas), slices.Clone(mp.ISR)
			}
		}
		for _, id := range l.ids {
			rv := ReplicaView{Broker: id, Down: l.Sim.Machine(id) == nil, Leader: -1}
			if info, ok := l.servers[id].Broker().Partition(l.cfg.Topic, p); ok && slices.Contains(info.Replicas, int32(id)) {
				rv.Holds = true
				rv.Leader, rv.LeaderEpoch = info.Leader, info.LeaderEpoch
				rv.Role = "follower"
				if info.Leader == int32(id) {
					rv.Role = "leader"
				}
				rv.LogStartOffset, rv.HighWatermark, rv.LogEndOffset = info.LogStartOffset, info.HighWatermark, info.LogEndOffset
				rv.Segments = len(info.Segments)
			}
			rv.InISR = slices.Contains(pv.ISR, int32(id))
			pv.Brokers = append(pv.Brokers, rv)
		}
		out = append(out, pv)
	}
	return out
}

// Leader is the partition's leader as the active controller's image says,
// -1 if there is none.
func (l *Lab) Leader(partition int32) (leader, epoch int32) {
	if im := l.image(); im != nil {
		if p, ok := im.Partition(l.cfg.Topic, partition); ok {
			return p.Leader, p.LeaderEpoch
		}
	}
	return -1, -1
}

// leaderNode is the running broker that leads the partition: the
// controller's choice if it runs, else the running broker that calls itself
// leader in the newest epoch; -1 if none.
func (l *Lab) leaderNode(partition int32) core.NodeID {
	if id, _ := l.Leader(partition); id >= 0 && l.Sim.Machine(core.NodeID(id)) != nil {
		return core.NodeID(id)
	}
	best, epoch := core.NodeID(-1), int32(-1)
	for _, id := range l.ids {
		if l.Sim.Machine(id) == nil {
			continue
		}
		if info, ok := l.servers[id].Broker().Partition(l.cfg.Topic, partition); ok && info.Leader == int32(id) && info.LeaderEpoch > epoch {
			best, epoch = id, info.LeaderEpoch
		}
	}
	return best
}
