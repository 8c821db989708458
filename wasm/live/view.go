//go:build js && wasm

package live

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/controller"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/p2p/gossip"
	"github.com/streamlab/streamlab/p2p/room"
)

// A Session is a Member with what a page shows of it: the events its
// machines reported, the peers heard, and the admin, producer and consumer
// a person runs from the tab. Its methods may block (they reach the
// machines' goroutines): call them off the page's event handlers.
type Session struct {
	m          *Member
	cfg        SessionConfig
	stopGossip context.CancelFunc
	gossipDone chan struct{}

	mu        sync.Mutex
	seq       uint64
	notable   []Observed // cluster events, newest last
	traffic   []Observed // record traffic, newest last
	heard     map[core.NodeID]PeerView
	admins    map[*Client]string // running admin → its topic
	producer  *Client
	sent      int
	acked     int
	failed    int
	lastFail  string
	consumer  *Client
	group     string
	ctopic    string
	read      map[int64]bool // partition<<40 | offset: distinct records read
	lastRead  []ReadRecord
	produceNo int
	shared    map[core.NodeID]Shared // what the peers share of their brokers
	sentLinks []gossip.Link          // what this tab last shared of its traffic
	sentMs    int64                  // over that many ms
	rec       *gossip.Recorder       // what it shares of its events (nil without SessionConfig.Tell)
}

// Shared is what a peer last shared of its broker (p2p/gossip), and when
// it arrived.
type Shared struct {
	gossip.State
	Received int64 // Unix ms
}

// gossipInterval is how often the tab shares its broker with the peers.
const gossipInterval = time.Second

// SessionConfig is what a page may choose of a member's configuration.
type SessionConfig struct {
	Cluster string
	Room    *RoomConfig // a classroom room to join instead of Cluster
	// SessionTimeoutMs is broker.session.timeout.ms (0: Kafka's 9000);
	// the brokers then heartbeat every sixth of it.
	SessionTimeoutMs int64
	// RequestTimeoutMs is the clients' request.timeout.ms (0: 30000).
	RequestTimeoutMs int64
	// Tell, if set, puts an event in words (its kind and text) for the
	// peers: the tab shares its recent events with them (p2p/gossip).
	Tell func(core.Event) (kind, text string)
}

// Observed is one event seen in this tab, stamped with the wall clock.
type Observed struct {
	Seq      uint64
	Time     int64 // Unix ms
	Node     core.NodeID
	Event    core.Event // nil for a peer change
	PeerUp   bool
	PeerDown bool
	Err      string
	Fault    string // a fault the room's teacher injected, applied here
}

// PeerView is another broker's tab as this one knows it.
type PeerView struct {
	ID        core.NodeID
	Connected bool   // a WebRTC connection is up
	Heard     bool   // its presence came over the BroadcastChannel lately
	Err       string // why the connection went down last
}

// ReadRecord is a record the consumer read.
type ReadRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Snapshot is the cluster as this tab's broker sees it, and the tab's
// clients.
type Snapshot struct {
	ID               core.NodeID
	Registered       bool
	Fenced           bool
	BrokerEpoch      int64
	Controller       core.NodeID // the active controller this broker's voter knows, -1
	ControllerEpoch  int64
	Peers            []PeerView
	Brokers          []controller.Broker // from the metadata this broker applied
	Topics           []TopicView
	Sent, Acked      int
	Failed           int
	LastFailure      string
	Group, Topic     string // the consumer's, "" without one
	Read             int
	Assignment       []int32
	LastRead         []ReadRecord
	Events           []Observed
	SessionTimeoutMs int64
	RequestTimeoutMs int64
	Room             *RoomView // with SessionConfig.Room
	// Shared is what the other brokers last shared of themselves, by id:
	// their replicas' offsets and their tabs' clients.
	Shared []Shared
	// Self is this broker as it shares itself, read with the rest.
	Self gossip.State
}

// RoomView is the classroom room the member joined.
type RoomView struct {
	Code, URL, Cluster string
	Members            []room.Member
	Faults             room.Faults // what the teacher injected
	Teacher            bool        // this browser holds the teacher token
}

// TopicView is a topic of the metadata, with this broker's replicas' offsets.
type TopicView struct {
	Name       string
	MinISR     string // min.insync.replicas if set on the topic
	Partitions []PartitionView
}

// PartitionView is one partition: its registration, and the high watermark
// and log end offset of this broker's replica (-1 if it holds none).
type PartitionView struct {
	Partition int32
	Reg       controller.Partition
	HW, LEO   int64
}

const (
	maxNotable  = 120
	maxTraffic  = 60
	maxLastRead = 12
	maxProduce  = 100000 // records per press: keeps a tab responsive
)

// Start joins cfg.Cluster as a Session. ctx bounds the join.
func Start(ctx context.Context, cfg SessionConfig) (*Session, error) {
	s := &Session{cfg: cfg, heard: map[core.NodeID]PeerView{}, read: map[int64]bool{}, admins: map[*Client]string{},
		shared: map[core.NodeID]Shared{}}
	if cfg.Tell != nil {
		s.rec = gossip.NewRecorder(cfg.Tell)
	}
	m, err := Join(ctx, Config{
		Cluster: cfg.Cluster,
		Room:    cfg.Room,
		Configure: func(c *server.Config) {
			if cfg.SessionTimeoutMs > 0 {
				c.Controller.SessionTimeoutMs = cfg.SessionTimeoutMs
				c.HeartbeatIntervalMs = max(cfg.SessionTimeoutMs/6, 100)
			}
		},
		Events:    s.event,
		PeerState: s.peerState,
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	gctx, stop := context.WithCancel(context.Background())
	s.stopGossip, s.gossipDone = stop, make(chan struct{})
	go func() {
		defer close(s.gossipDone)
		gossip.Share(gctx, m.member(), gossipInterval, s.addClients)
	}()
	return s, nil
}

// ID is this tab's broker id.
func (s *Session) ID() core.NodeID { return s.m.ID() }

// Close leaves the cluster (a crash, to the other tabs).
func (s *Session) Close() error {
	s.stopGossip()
	<-s.gossipDone
	return s.m.Close()
}

// peerState keeps what a peer shares (on the peer's reader goroutine).
func (s *Session) peerState(from core.NodeID, b []byte) {
	st, err := gossip.Decode(b, from)
	if err != nil {
		// Dropped: it changes nothing in the cluster. (Not s.m's Logf: a
		// peer may share before Join has returned.)
		log.Printf("live: %v", err)
		return
	}
	s.mu.Lock()
	s.shared[from] = Shared{State: st, Received: time.Now().UnixMilli()}
	s.mu.Unlock()
}

// addClients adds this tab's producer, consumer and recent events to what
// it shares, and keeps its traffic for the tab's own view.
func (s *Session) addClients(st *gossip.State) {
	s.mu.Lock()
	s.sentLinks, s.sentMs = st.Sent, st.WindowMs
	if s.rec != nil {
		st.Events = s.rec.Told()
	}
	cons := s.consumer
	if s.producer != nil {
		st.Producer = &gossip.Producer{Sent: s.sent, Acked: s.acked, Failed: s.failed}
	}
	if cons != nil {
		st.Consumer = &gossip.Consumer{Group: s.group, Topic: s.ctopic, Read: len(s.read)}
	}
	s.mu.Unlock()
	if cons != nil {
		cons.Do(func(mc core.Machine) {
			for _, tp := range mc.(*client.Consumer).Assignment() {
				st.Consumer.Assignment = append(st.Consumer.Assignment, tp.Partition)
			}
		})
	}
}

// SetRoomFaults sets the room's faults as its teacher: the brokers killed
// and the ones cut off from the rest (the whole set; nil heals).
func (s *Session) SetRoomFaults(down, split []core.NodeID) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return s.m.SetRoomFaults(ctx, room.FaultsRequest{Down: down, Split: split})
}

// event runs on the machines' and the transport's goroutines.
func (s *Session) event(e Event) {
	now := time.Now().UnixMilli()
	if s.rec != nil {
		s.rec.Record(e, now)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Fault != "" {
		s.seq++
		s.notable = keepLast(append(s.notable, Observed{Seq: s.seq, Time: now, Node: e.Node, Fault: e.Fault}), maxNotable)
		return
	}
	if e.PeerUp || e.PeerDown {
		p := s.heard[e.Node]
		p.ID, p.Connected = e.Node, e.PeerUp
		if e.Err != nil {
			p.Err = e.Err.Error()
		}
		s.heard[e.Node] = p
		s.seq++
		s.notable = keepLast(append(s.notable, Observed{Seq: s.seq, Time: now, Node: e.Node, PeerUp: e.PeerUp, PeerDown: e.PeerDown, Err: p.Err}), maxNotable)
		return
	}
	for _, ev := range e.Core {
		switch ev := ev.(type) {
		case core.RecordAcked:
			s.acked++
		case core.ProduceFailed:
			s.failed++
			s.lastFail = ev.Error
		case core.RecordConsumed:
			s.read[int64(ev.Partition)<<40|ev.Offset] = true
			s.lastRead = keepLast(append(s.lastRead, ReadRecord{ev.Partition, ev.Offset, ev.Key, ev.Value}), maxLastRead)
		case core.MessageSent, core.MessageDelivered:
			continue // the wire: too many to keep
		}
		s.seq++
		o := Observed{Seq: s.seq, Time: now, Node: e.Node, Event: ev}
		if gossip.Traffic(ev) {
			s.traffic = keepLast(append(s.traffic, o), maxTraffic)
		} else {
			s.notable = keepLast(append(s.notable, o), maxNotable)
		}
	}
}

func keepLast[T any](v []T, n int) []T {
	if len(v) > n {
		return slices.Delete(v, 0, len(v)-n)
	}
	return v
}

// brokers are the ids a client bootstraps from.
func (s *Session) brokers() []core.NodeID {
	ids := make([]core.NodeID, 0, s.m.cfg.MaxBrokers)
	for id := core.NodeID(1); id <= core.NodeID(s.m.cfg.MaxBrokers); id++ {
		ids = append(ids, id)
	}
	return ids
}

// CreateTopic starts an admin client that creates the topic; the outcome
// arrives as events (TopicCreated, or the admin's error in Snapshot).
func (s *Session) CreateTopic(name string, partitions int32, rf int16, minISR int) error {
	if name == "" || partitions < 1 || rf < 1 || minISR < 1 {
		return errors.New("a topic needs a name, at least one partition, replication factor ≥ 1 and min.insync.replicas ≥ 1")
	}
	req := kmsg.NewCreateTopicsRequestTopic()
	req.Topic, req.NumPartitions, req.ReplicationFactor = name, partitions, rf
	req.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr(strconv.Itoa(minISR))}}
	brokers := s.brokers()
	c, err := s.m.AddClient(func(id core.NodeID) core.Machine { return client.NewAdmin(id, brokers, req) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.admins[c] = name
	s.mu.Unlock()
	return nil
}

// adminResults closes the admins that finished, logging their errors.
func (s *Session) adminResults() {
	s.mu.Lock()
	admins := make(map[*Client]string, len(s.admins))
	for c, topic := range s.admins {
		admins[c] = topic
	}
	s.mu.Unlock()
	for c, topic := range admins {
		var done bool
		var err error
		if c.Do(func(mc core.Machine) { a := mc.(*client.Admin); done, err = a.Done(), a.Err() }) != nil {
			done = true
		}
		if !done && err == nil {
			continue
		}
		c.Close()
		s.mu.Lock()
		delete(s.admins, c)
		if err != nil {
			s.seq++
			s.notable = keepLast(append(s.notable, Observed{Seq: s.seq, Time: time.Now().UnixMilli(), Node: c.ID(),
				Event: core.RequestFailed{API: "CreateTopics", Topic: topic, Partition: -1, Error: err.Error()}}), maxNotable)
		}
		s.mu.Unlock()
	}
}

// Produce sends n records with acks=all from this tab's producer (made on
// first use): key as given ("" for a null key), value + "-<k>".
func (s *Session) Produce(topic string, n int, key, value string) error {
	if topic == "" || n < 1 || n > maxProduce {
		return fmt.Errorf("produce 1 to %d records to a topic", maxProduce)
	}
	s.mu.Lock()
	p := s.producer
	s.mu.Unlock()
	if p == nil {
		var err error
		p, err = s.m.AddClient(func(id core.NodeID) core.Machine {
			return client.NewProducer(client.ProducerConfig{ID: id, Bootstrap: s.brokers(), Acks: client.AcksAll,
				RequestTimeoutMs: s.cfg.RequestTimeoutMs, Seed: uint64(time.Now().UnixNano())})
		})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.producer = p
		s.mu.Unlock()
	}
	var k []byte
	if key != "" {
		k = []byte(key)
	}
	s.mu.Lock()
	first := s.produceNo
	s.produceNo += n
	s.sent += n
	s.mu.Unlock()
	return p.Do(func(mc core.Machine) {
		pr := mc.(*client.Producer)
		for i := range n {
			pr.Send(client.Record{Topic: topic, Partition: -1, Key: k, Value: fmt.Appendf(nil, "%s-%d", value, first+i)})
		}
	})
}

// Consume starts this tab's consumer group member (one per tab), reading
// topic from the earliest offset the group has not committed.
func (s *Session) Consume(group, topic string) error {
	if group == "" || topic == "" {
		return errors.New("a consumer needs a group.id and a topic")
	}
	s.mu.Lock()
	running := s.consumer != nil
	s.mu.Unlock()
	if running {
		return errors.New("this tab runs a consumer already")
	}
	c, err := s.m.AddClient(func(id core.NodeID) core.Machine {
		return client.NewConsumer(client.ConsumerConfig{ID: id, Bootstrap: s.brokers(), Topics: []string{topic}, GroupID: group,
			AutoOffsetReset: "earliest", RequestTimeoutMs: s.cfg.RequestTimeoutMs, Seed: uint64(time.Now().UnixNano())})
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.consumer, s.group, s.ctopic = c, group, topic
	s.mu.Unlock()
	return nil
}

// Snapshot reads the broker and the clients on their goroutines.
func (s *Session) Snapshot() Snapshot {
	s.adminResults()
	v := Snapshot{ID: s.m.ID(), Controller: -1, SessionTimeoutMs: s.cfg.SessionTimeoutMs, RequestTimeoutMs: s.cfg.RequestTimeoutMs}
	s.m.Server(func(srv *server.Server) {
		v.Self = gossip.Read(srv, time.Now().UnixMilli())
		v.BrokerEpoch, v.Fenced = srv.Registered()
		v.Registered = v.BrokerEpoch >= 0
		if c := srv.Controller(); c != nil {
			v.Controller, v.ControllerEpoch = c.Leader(), c.Epoch()
		}
		img := srv.Image()
		v.Brokers = img.Brokers()
		for _, name := range img.Topics() {
			t, ok := img.Topic(name)
			if !ok {
				continue
			}
			tv := TopicView{Name: name, MinISR: t.Configs["min.insync.replicas"]}
			for p, reg := range t.Partitions {
				pv := PartitionView{Partition: int32(p), Reg: reg, HW: -1, LEO: -1}
				if info, ok := srv.Broker().Partition(name, int32(p)); ok {
					pv.HW, pv.LEO = info.HighWatermark, info.LogEndOffset
				}
				tv.Partitions = append(tv.Partitions, pv)
			}
			v.Topics = append(v.Topics, tv)
		}
	})
	s.mu.Lock()
	cons := s.consumer
	v.Sent, v.Acked, v.Failed, v.LastFailure = s.sent, s.acked, s.failed, s.lastFail
	v.Group, v.Topic, v.Read = s.group, s.ctopic, len(s.read)
	v.LastRead = slices.Clone(s.lastRead)
	v.Events = make([]Observed, 0, len(s.notable)+len(s.traffic))
	v.Events = append(append(v.Events, s.notable...), s.traffic...)
	heard := make(map[core.NodeID]PeerView, len(s.heard))
	for id, p := range s.heard {
		heard[id] = p
	}
	for _, sh := range s.shared {
		v.Shared = append(v.Shared, sh)
	}
	v.Self.Sent, v.Self.WindowMs = s.sentLinks, s.sentMs
	s.mu.Unlock()
	slices.SortFunc(v.Shared, func(a, b Shared) int { return cmp.Compare(a.Broker, b.Broker) })
	slices.SortFunc(v.Events, func(a, b Observed) int { return cmp.Compare(b.Seq, a.Seq) })
	if cons != nil {
		cons.Do(func(mc core.Machine) {
			for _, tp := range mc.(*client.Consumer).Assignment() {
				v.Assignment = append(v.Assignment, tp.Partition)
			}
		})
	}
	for _, id := range s.m.Heard() {
		p := heard[id]
		p.ID, p.Heard = id, true
		heard[id] = p
	}
	for _, id := range s.m.Peers() {
		p := heard[id]
		p.ID, p.Connected = id, true
		heard[id] = p
	}
	for _, p := range heard {
		if p.ID != s.m.ID() {
			v.Peers = append(v.Peers, p)
		}
	}
	slices.SortFunc(v.Peers, func(a, b PeerView) int { return int(a.ID - b.ID) })
	v.Room = s.m.roomView()
	return v
}
