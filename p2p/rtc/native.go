//go:build !js

package rtc

import (
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// PlatformConfig is the native part of Config.
type PlatformConfig struct {
	// API creates the peer connections (nil: one with
	// NativeSettingEngine).
	API *webrtc.API
}

// NativeSettingEngine is the SettingEngine a native Transport uses by
// default: loopback candidates included (two nodes on one machine, or a
// loopback-only network namespace in tests), no mDNS (nothing multicast
// leaves the machine; host candidates carry plain addresses), and a dead
// peer detected in about 8 s instead of pion's 30. Adjust it and pass
// webrtc.NewAPI(webrtc.WithSettingEngine(s)) as Config.Platform.API.
func NativeSettingEngine() webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(3*time.Second, 5*time.Second, time.Second)
	return s
}

// LoopbackAPI creates connections whose candidates all stay on IPv4
// loopback: nodes of one machine that must not reach anything else (tests,
// a loopback-only network namespace).
func LoopbackAPI() *webrtc.API {
	s := NativeSettingEngine()
	s.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithSettingEngine(s))
}

var defaultAPI = sync.OnceValue(func() *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(NativeSettingEngine()))
})

// pionConn is a conn on pion.
type pionConn struct {
	pc *webrtc.PeerConnection
	dc *webrtc.DataChannel
}

func newConn(cfg *Config, ev connEvents) (conn, error) {
	api := cfg.Platform.API
	if api == nil {
		api = defaultAPI()
	}
	servers := make([]webrtc.ICEServer, len(cfg.ICEServers))
	for i, s := range cfg.ICEServers {
		servers[i] = webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, err
	}
	yes, zero := true, uint16(0)
	dc, err := pc.CreateDataChannel("streamlab", &webrtc.DataChannelInit{Ordered: &yes, Negotiated: &yes, ID: &zero})
	if err != nil {
		pc.Close()
		return nil, err
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			j := c.ToJSON()
			ev.candidate(Candidate{Candidate: j.Candidate, SDPMid: j.SDPMid, SDPMLineIndex: j.SDPMLineIndex, UsernameFragment: j.UsernameFragment})
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed:
			ev.down(ErrConnectionFailed)
		case webrtc.PeerConnectionStateClosed:
			ev.down(ErrPeerClosed)
		}
	})
	dc.OnOpen(ev.open)
	dc.OnClose(func() { ev.down(ErrPeerClosed) })
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(ev.low)
	// pion calls OnMessage from the channel's read loop, one message after
	// the other, with a slice of its own: ev.message may block there (see
	// peer.deliver).
	dc.OnMessage(func(m webrtc.DataChannelMessage) { ev.message(m.Data, m.IsString) })
	return &pionConn{pc: pc, dc: dc}, nil
}

func (c *pionConn) createOffer() (SessionDescription, error) {
	d, err := c.pc.CreateOffer(nil)
	return SessionDescription{Type: SDPType(d.Type.String()), SDP: d.SDP}, err
}

func (c *pionConn) createAnswer() (SessionDescription, error) {
	d, err := c.pc.CreateAnswer(nil)
	return SessionDescription{Type: SDPType(d.Type.String()), SDP: d.SDP}, err
}

func (c *pionConn) setLocalDescription(d SessionDescription) error {
	return c.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.NewSDPType(string(d.Type)), SDP: d.SDP})
}

func (c *pionConn) setRemoteDescription(d SessionDescription) error {
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.NewSDPType(string(d.Type)), SDP: d.SDP})
}

func (c *pionConn) addICECandidate(k Candidate) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: k.Candidate, SDPMid: k.SDPMid, SDPMLineIndex: k.SDPMLineIndex, UsernameFragment: k.UsernameFragment})
}

func (c *pionConn) send(m []byte) error { return c.dc.Send(m) }

func (c *pionConn) bufferedAmount() int { return int(c.dc.BufferedAmount()) }

func (c *pionConn) close() error { return c.pc.Close() }

// deliver queues a received message for the reader. Natively it waits for
// room: that stops reading the SCTP stream and so holds back the sender.
func (p *peer) deliver(data []byte) {
	for !p.in.push(data) {
		select {
		case <-p.in.room:
		case <-p.done:
			return
		}
	}
}
