package server

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// lifecycle is KRaft's BrokerLifecycleManager: the broker registers with
// the active controller, which answers with a broker epoch and keeps it
// fenced; it then heartbeats every broker.heartbeat.interval.ms, asking to
// be unfenced once its metadata has caught up. A controller that does not
// answer, or says it is not the controller, makes it try the next voter.
// A request in flight to a controller that is no longer the active one is
// sent again to the new one at once, as Kafka's NodeToControllerChannelManager
// drops its connection to the old controller when the quorum's leader
// changes: waiting out request.timeout.ms for a dead controller's answer
// would leave every broker without a heartbeat past its session timeout,
// and the new controller would fence them all.
type lifecycle struct {
	incarnation [16]byte
	epoch       int64 // from the registration; -1: not registered
	fenced      bool
	controller  core.NodeID // the voter believed active; -1: unknown

	regCorr, hbCorr int32
	regSent, hbSent int64       // when the request in flight left; 0: none
	regTo, hbTo     core.NodeID // the controller it went to
	retryAt         int64       // no registration before this (after a refusal)
	nextHeartbeat   int64
}

// activeController is where requests for the controller go: the raft
// leader if this server's own voter knows it, else the current guess.
func (s *Server) activeController() core.NodeID {
	if s.ctrl != nil && s.ctrl.Leader() >= 0 {
		return s.ctrl.Leader()
	}
	if s.controller < 0 {
		voters := s.cfg.Controller.Voters
		s.controller = voters[s.rnd.IntN(len(voters))]
	}
	return s.controller
}

// controllerFailed moves the guess to the next voter.
func (s *Server) controllerFailed() {
	voters := s.cfg.Controller.Voters
	i := slices.Index(voters, s.controller)
	s.controller = voters[(i+1)%len(voters)]
}

// controllerHint takes a voter's word for who leads.
func (s *Server) controllerHint(id int32) bool {
	if id >= 0 && slices.Contains(s.cfg.Controller.Voters, core.NodeID(id)) {
		s.controller = core.NodeID(id)
		return true
	}
	return false
}

func (s *Server) tickLifecycle() {
	if s.incarnation == ([16]byte{}) {
		// A restarted process is a new incarnation (KIP-631): draw it
		// from the seed and the start time, so runs still replay.
		r := s.rnd.Uint64() ^ uint64(s.now)
		for i := range s.incarnation {
			s.incarnation[i] = byte(r >> (8 * (i % 8)))
			if i == 7 {
				r = s.rnd.Uint64()
			}
		}
	}
	ctl := s.activeController()
	s.broker.SetController(int32(ctl), s.epoch)
	timeout := s.cfg.RequestTimeoutMs
	if s.epoch < 0 {
		if s.regSent > 0 && s.now-s.regSent >= timeout {
			s.regSent = 0
			s.controllerFailed()
		} else if s.regSent > 0 && s.regTo != ctl {
			s.regSent = 0
		}
		if s.regSent == 0 && s.now >= s.retryAt {
			s.register()
		}
		return
	}
	if s.hbSent > 0 && s.now-s.hbSent >= timeout {
		s.hbSent = 0
		s.controllerFailed()
	} else if s.hbSent > 0 && s.hbTo != ctl {
		s.hbSent = 0
	}
	if s.hbSent == 0 && s.now >= s.nextHeartbeat {
		s.heartbeat()
	}
}

func (s *Server) register() {
	b := s.cfg.Broker
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.ClusterID, req.IncarnationID = int32(b.ID), b.ClusterID, s.incarnation
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", b.Host, uint16(b.Port)
	req.Listeners = append(req.Listeners, l)
	if b.Rack != "" {
		req.Rack = kmsg.StringPtr(b.Rack)
	}
	s.regTo = s.activeController()
	s.regCorr, s.regSent = s.send(s.regTo, req), s.now
}

func (s *Server) registered(env core.Envelope, resp *kmsg.BrokerRegistrationResponse) {
	if env.CorrelationID != s.regCorr || s.regSent == 0 {
		return
	}
	s.regSent = 0
	switch resp.ErrorCode {
	case 0:
		s.epoch, s.fenced, s.nextHeartbeat = resp.BrokerEpoch, true, s.now
		s.broker.SetController(int32(s.activeController()), s.epoch)
		s.heartbeat()
	case kerr.NotController.Code:
		s.controllerFailed()
		s.retryAt = s.now + 100
	default:
		// DUPLICATE_BROKER_REGISTRATION: the previous incarnation's
		// session has not expired yet; try again later.
		s.retryAt = s.now + s.cfg.HeartbeatIntervalMs
	}
}

func (s *Server) heartbeat() {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch = int32(s.cfg.Broker.ID), s.epoch
	req.CurrentMetadataOffset = s.meta.image.Offset()
	req.WantFence = !s.meta.caughtUp
	s.hbTo = s.activeController()
	s.hbCorr, s.hbSent = s.send(s.hbTo, req), s.now
}

func (s *Server) heartbeatAnswered(env core.Envelope, resp *kmsg.BrokerHeartbeatResponse) {
	if env.CorrelationID != s.hbCorr || s.hbSent == 0 {
		return
	}
	s.hbSent = 0
	s.nextHeartbeat = s.now + s.cfg.HeartbeatIntervalMs
	switch resp.ErrorCode {
	case 0:
		s.fenced = resp.IsFenced
	case kerr.StaleBrokerEpoch.Code:
		// The controller fenced this registration away (or lost it in a
		// snapshot): register again.
		s.epoch, s.fenced, s.retryAt = -1, true, s.now
	case kerr.NotController.Code:
		s.controllerFailed()
		s.nextHeartbeat = s.now + 100
	}
}
