package ui

import (
	"context"
	"strings"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/controller"
)

// What the live-cluster page (LivePage) needs of a live cluster. The ui
// package must not import wasm/ or p2p/: the browser build implements these
// (main_live_wasm.go, over wasm/live) and the node leaves them nil.

// LiveCluster makes this tab a broker of a cluster.
type LiveCluster interface {
	Join(ctx context.Context, cfg LiveConfig) (LiveMember, error)
	// CreateRoom creates a classroom room on the signaling service at url
	// and returns its code.
	CreateRoom(ctx context.Context, url string) (code string, err error)
}

// LiveConfig is what the page chooses of a member's configuration.
type LiveConfig struct {
	Cluster string // the cluster of this browser's tabs
	// Room, if set, is the code of a classroom room to join instead, on
	// the signaling service at RoomURL; Device names this device there.
	Room, RoomURL, Device string
	// Teacher is the room's teacher token from the node's teacher link
	// (the URL's #teacher=), "" if none.
	Teacher string
	// SessionTimeoutMs is broker.session.timeout.ms (9000 in Kafka).
	SessionTimeoutMs int64
	// RequestTimeoutMs is the clients' request.timeout.ms (30000 in Kafka).
	RequestTimeoutMs int64
}

// LiveMember is this tab's broker. Its methods may block on the broker's
// goroutine: call them from ctx.Async, never in an event handler.
type LiveMember interface {
	ID() core.NodeID
	View() LiveView
	// CreateTopic starts an admin client; the outcome shows in the view.
	CreateTopic(name string, partitions int32, rf int16, minISR int) error
	// Produce sends n records with acks=all: key ("" for null) and
	// value-<k>, k counting up in this tab.
	Produce(topic string, n int, key, value string) error
	// Consume starts this tab's consumer group member.
	Consume(group, topic string) error
	// SetRoomFaults sets the room's faults as its teacher: the brokers
	// killed and the ones cut off from the others (the whole set).
	SetRoomFaults(down, split []core.NodeID) error
	Close() error
}

// LiveView is the cluster as this tab's broker sees it, and its clients.
type LiveView struct {
	ID               core.NodeID
	Registered       bool
	Fenced           bool
	BrokerEpoch      int64
	Controller       core.NodeID // the active controller this broker's voter knows, -1
	ControllerEpoch  int64
	Peers            []LivePeer
	Brokers          []controller.Broker // from the metadata this broker applied
	Topics           []LiveTopic
	Sent, Acked      int
	Failed           int
	LastFailure      string
	Group, Topic     string // the consumer's, "" without one
	Read             int    // distinct records the consumer read
	Assignment       []int32
	LastRead         []LiveRecord
	Events           []LiveEvent // newest first
	SessionTimeoutMs int64
	RequestTimeoutMs int64
	Room             *LiveRoom // with LiveConfig.Room
	// Shared is what the other brokers last shared of themselves: every
	// member shares its broker with its peers every second.
	Shared []LiveShared
	// Self is this tab's broker as it shares itself (AgeMs 0).
	Self LiveShared
}

// LiveShared is another broker as its member (a tab, the node) last shared
// it: how it sees itself, its replicas' offsets, its tab's clients.
type LiveShared struct {
	Broker      core.NodeID
	AgeMs       int64 // since it arrived
	Killed      bool  // stopped by a classroom's teacher
	BrokerEpoch int64 // -1: not registered
	Fenced      bool
	Replicas    []LiveReplica
	Producer    *LiveProducerStats
	Consumer    *LiveConsumerStats
	// Sent is the messages its machines sent to other members over the
	// last WindowMs.
	Sent     []LiveLink
	WindowMs int64
	// Events is what its machines reported lately, as its member told
	// them, oldest first.
	Events []LiveTold
}

// LiveTold is an event another member told in words.
type LiveTold struct {
	Seq  uint64
	Time int64 // Unix ms, on that member's clock
	Node core.NodeID
	Kind string
	Text string
}

// LiveLink is how many messages of one API and direction went from one
// machine to another.
type LiveLink struct {
	From, To core.NodeID
	API      string // Kafka's API name, or "raft"
	Kind     string // "request", "response" or "" (raft)
	N        int
}

// LiveReplica is one partition's log on a broker.
type LiveReplica struct {
	Topic       string
	Partition   int32
	Leader      bool
	LeaderEpoch int32
	LogStart    int64
	HW, LEO     int64
	Tail        []LiveRecord // the newest records, keys and values cut short
}

// LiveProducerStats is a tab's producer.
type LiveProducerStats struct{ Sent, Acked, Failed int }

// LiveConsumerStats is a tab's consumer group member.
type LiveConsumerStats struct {
	Group, Topic string
	Read         int
	Assignment   []int32
}

// sharedStale: a state older than this is shown as unknown (its member
// shares every second).
const sharedStaleMs = 5000

// replicaOffsets returns broker id's replica of topic-p: this tab's own
// (from the view) or as its member last shared it; "" and ok, or why not.
func (v *LiveView) replicaOffsets(id core.NodeID, topic string, p LivePartition) (leo, hw int64, why string) {
	if id == v.ID {
		if p.LEO < 0 {
			return 0, 0, "no log here yet"
		}
		return p.LEO, p.HW, ""
	}
	for _, sh := range v.Shared {
		if sh.Broker != id {
			continue
		}
		switch {
		case sh.Killed:
			return 0, 0, "killed"
		case sh.AgeMs > sharedStaleMs:
			return 0, 0, "not heard lately"
		}
		for _, r := range sh.Replicas {
			if r.Topic == topic && r.Partition == p.Partition {
				return r.LEO, r.HW, ""
			}
		}
		return 0, 0, "no log there yet"
	}
	return 0, 0, "not heard"
}

// LiveRoom is the classroom room this tab's broker joined: its devices.
type LiveRoom struct {
	Code    string
	URL     string // the signaling service
	Cluster string
	Members []LiveRoomMember
	// Down and Split are the teacher's faults: brokers killed, and
	// brokers cut off from the others.
	Down, Split []core.NodeID
	Teacher     bool // this browser may set them
}

// LiveRoomMember is a device's broker in the room.
type LiveRoomMember struct {
	ID     core.NodeID
	Device string
	Kind   string // "tab" or "node"
	Kafka  string // where Kafka clients reach it (via the node), "" if nowhere
	Joined int64  // Unix ms
}

// LivePeer is another broker's tab.
type LivePeer struct {
	ID        core.NodeID
	Connected bool   // a WebRTC connection is up
	Heard     bool   // its presence came over the BroadcastChannel lately, or it is in the room
	Err       string // why the connection went down last
}

// LiveTopic is a topic of the metadata.
type LiveTopic struct {
	Name       string
	MinISR     string
	Partitions []LivePartition
}

// LivePartition is a partition's registration, and the high watermark and
// log end offset of this tab's replica (-1 if it holds none).
type LivePartition struct {
	Partition int32
	Reg       controller.Partition
	HW, LEO   int64
}

// LiveRecord is a record the consumer read.
type LiveRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// LiveEvent is what a machine of this tab reported (Event), or a peer
// tab's connection going up or down.
type LiveEvent struct {
	Seq      uint64
	Time     int64 // Unix ms
	Node     core.NodeID
	Event    core.Event
	PeerUp   bool
	PeerDown bool
	Err      string
	Fault    string // a fault of the room's teacher, applied to this tab
}

// liveAlive counts the brokers the metadata has unfenced.
func liveAlive(v *LiveView) int {
	n := 0
	for _, b := range v.Brokers {
		if !b.Fenced {
			n++
		}
	}
	return n
}

// userTopics is the view's topics but the internal ones (__consumer_offsets),
// which the live page lists apart.
func userTopics(v *LiveView) []LiveTopic {
	var out []LiveTopic
	for _, tp := range v.Topics {
		if !strings.HasPrefix(tp.Name, "__") {
			out = append(out, tp)
		}
	}
	return out
}
