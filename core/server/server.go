// Package server is one Streamlab process in a cluster: a broker and, when
// its id is one of the quorum's voters, a controller voter beside it
// (KRaft's combined mode, process.roles=broker,controller). It is a
// core.Machine that routes each envelope to the broker or the controller,
// and it is the broker's lifeline to the controller (KRaft's
// BrokerLifecycleManager and metadata publisher, metadata.go): it registers
// the broker, heartbeats, fetches the metadata log and applies what it says
// to the broker.
package server

import (
	"math/rand/v2"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/controller"
	"github.com/streamlab/streamlab/core/storage"
)

// Config configures a server. Broker.KRaft is set by New.
type Config struct {
	Broker broker.Config
	// Controller configures the voter this server runs if Broker.ID is
	// one of Controller.Voters (controller.quorum.voters); ID and Seed are
	// filled in.
	Controller controller.Config

	HeartbeatIntervalMs int64 // broker.heartbeat.interval.ms (2000)
	// RequestTimeoutMs is how long the server waits for a controller to
	// answer a registration, heartbeat or metadata fetch before it tries
	// another voter (broker's controller request timeout; 5000 here).
	RequestTimeoutMs int64
	// MetadataMaxWaitMs is how long an idle metadata fetch waits at the
	// controller for the next commit (500).
	MetadataMaxWaitMs int32
}

func (c Config) withDefaults() Config {
	if c.HeartbeatIntervalMs <= 0 {
		c.HeartbeatIntervalMs = 2000
	}
	if c.RequestTimeoutMs <= 0 {
		c.RequestTimeoutMs = 5000
	}
	if c.MetadataMaxWaitMs <= 0 {
		c.MetadataMaxWaitMs = 500
	}
	c.Broker.KRaft = true
	c.Controller.ID = c.Broker.ID
	c.Controller.Seed = c.Broker.Seed ^ 0x6b72616674
	return c
}

// Server is a broker, maybe a controller voter, and the link between them.
type Server struct {
	cfg    Config
	broker *broker.Node
	ctrl   *controller.Controller // nil unless a voter
	rnd    *rand.Rand
	now    int64

	lifecycle
	meta metadata

	corr   int32
	local  []core.Envelope // sent by one part of this server to another
	out    []core.Envelope
	events []core.Event
	writes []storage.Write
}

// New returns a server with an empty store.
func New(cfg Config) (*Server, error) { return Open(cfg, nil) }

// Open returns a server that recovers the broker's logs and the voter's raft
// state from store (nil: empty). Both live in the one store: the broker
// under meta/topics and logs/, the voter under its own names.
func Open(cfg Config, store storage.Store) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, rnd: rand.New(rand.NewPCG(cfg.Broker.Seed, 0x736572766572))}
	var err error
	if store == nil {
		s.broker = broker.New(cfg.Broker)
	} else if s.broker, err = broker.Open(cfg.Broker, store); err != nil {
		return nil, err
	}
	for _, v := range cfg.Controller.Voters {
		if v == cfg.Broker.ID {
			if s.ctrl, err = controller.Open(cfg.Controller, store); err != nil {
				return nil, err
			}
		}
	}
	s.lifecycle = lifecycle{epoch: -1, fenced: true, controller: -1}
	s.meta = metadata{image: controller.NewImage(), published: map[string][]broker.PartitionState{}}
	return s, nil
}

// ID implements core.Machine.
func (s *Server) ID() core.NodeID { return s.cfg.Broker.ID }

// Broker is the server's broker, for the UI and tests to read.
func (s *Server) Broker() *broker.Node { return s.broker }

// Controller is the server's voter, nil if it is none.
func (s *Server) Controller() *controller.Controller { return s.ctrl }

// Image is the metadata as this server's broker has applied it.
func (s *Server) Image() controller.View { return s.meta.image }

// Registered reports the broker's epoch (-1: not registered) and whether
// the controller keeps it fenced.
func (s *Server) Registered() (epoch int64, fenced bool) { return s.epoch, s.fenced }

// Step implements core.Machine: raft messages and controller requests go to
// the voter, the controller's answers to the server's own requests are the
// server's, everything else is the broker's.
func (s *Server) Step(env core.Envelope) {
	s.route(env)
	s.drain()
}

func (s *Server) route(env core.Envelope) {
	switch {
	case env.Raft != nil:
		if s.ctrl != nil {
			s.ctrl.Step(env)
		}
	case env.Request != nil:
		if s.ctrl != nil && forController(env) {
			s.ctrl.Step(env)
			return
		}
		s.broker.Step(env)
	case env.Response != nil:
		switch resp := env.Response.(type) {
		case *kmsg.BrokerRegistrationResponse:
			s.registered(env, resp)
		case *kmsg.BrokerHeartbeatResponse:
			s.heartbeatAnswered(env, resp)
		case *kmsg.FetchResponse:
			if isMetadataFetch(resp.Topics) {
				s.metadataFetched(env, resp)
				return
			}
			s.broker.Step(env)
		default:
			s.broker.Step(env)
		}
	}
}

// forController reports whether a request is the controller's to answer:
// the quorum APIs, and topic changes a broker forwards (clients' go to the
// broker, which forwards them).
func forController(env core.Envelope) bool {
	switch req := env.Request.(type) {
	case *kmsg.BrokerRegistrationRequest, *kmsg.BrokerHeartbeatRequest, *kmsg.AlterPartitionRequest:
		return true
	case *kmsg.CreateTopicsRequest, *kmsg.DeleteTopicsRequest, *kmsg.ElectLeadersRequest:
		return env.From < core.ClientIDBase
	case *kmsg.FetchRequest:
		return len(req.Topics) == 1 && req.Topics[0].Topic == controller.MetadataTopic
	}
	return false
}

func isMetadataFetch[T interface{ ~[]kmsg.FetchResponseTopic }](ts T) bool {
	return len(ts) == 1 && ts[0].Topic == controller.MetadataTopic
}

// Tick implements core.Machine.
func (s *Server) Tick(now int64) {
	if now > s.now {
		s.now = now
	}
	if s.ctrl != nil {
		s.ctrl.Tick(now)
	}
	s.broker.Tick(now)
	s.tickLifecycle()
	s.tickMetadata()
	s.drain()
}

// drain collects the parts' Ready and delivers at once what one part of
// this server sends another (the broker's requests to its own voter).
func (s *Server) drain() {
	for {
		if s.ctrl != nil {
			s.collect(s.ctrl.Ready())
			s.ctrl.Advance()
		}
		s.collect(s.broker.Ready())
		s.broker.Advance()
		if len(s.local) == 0 {
			return
		}
		local := s.local
		s.local = nil
		for _, env := range local {
			s.route(env)
		}
	}
}

func (s *Server) collect(rd core.Ready) {
	s.writes = append(s.writes, rd.Writes...)
	s.events = append(s.events, rd.Events...)
	for _, env := range rd.Messages {
		s.deliver(env)
	}
}

func (s *Server) deliver(env core.Envelope) {
	if env.To == s.ID() {
		s.local = append(s.local, env)
	} else {
		s.out = append(s.out, env)
	}
}

// Ready implements core.Machine.
func (s *Server) Ready() core.Ready {
	return core.Ready{Writes: s.writes, Messages: s.out, Events: s.events}
}

// Advance implements core.Machine.
func (s *Server) Advance() { s.writes, s.out, s.events = nil, nil, nil }

// send sends one of the server's own requests to a controller.
func (s *Server) send(to core.NodeID, req kmsg.Request) int32 {
	s.corr++
	s.deliver(core.Envelope{From: s.ID(), To: to, CorrelationID: s.corr, Request: req})
	return s.corr
}
