//go:build !js

package rtc

import (
	"fmt"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// NativeSettingEngine is the SettingEngine a native Transport uses by
// default: loopback candidates included (two nodes on one machine, or a
// loopback-only network namespace in tests), no mDNS (nothing multicast
// leaves the machine; host candidates carry plain addresses), and a dead
// peer detected in about 8 s instead of pion's 30. Adjust it and pass
// webrtc.NewAPI(webrtc.WithSettingEngine(s)) as Config.API.
func NativeSettingEngine() webrtc.SettingEngine {
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(3*time.Second, 5*time.Second, time.Second)
	return s
}

func defaultAPI() *webrtc.API {
	return webrtc.NewAPI(webrtc.WithSettingEngine(NativeSettingEngine()))
}

// hook wires the platform-specific callbacks of p. Natively pion calls
// OnMessage from the channel's read loop, one message after the other: a
// full inbox makes it wait, which stops reading the SCTP stream and so
// holds back the sender.
func hook(p *peer) (release func()) {
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.t.post(func() { p.t.candidate(p, init) })
		}
	})
	p.dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if m.IsString {
			p.fail(fmt.Errorf("%w: text message from node %d", ErrProtocol, p.id))
			return
		}
		for !p.in.push(m.Data) {
			select {
			case <-p.in.room:
			case <-p.done:
				return
			}
		}
	})
	return func() {}
}
