//go:build js

package rtc

import (
	"fmt"
	"syscall/js"

	"github.com/pion/webrtc/v4"
)

func defaultAPI() *webrtc.API { return webrtc.NewAPI() }

// hook wires the platform-specific callbacks of p on the browser's objects
// directly. pion's js OnMessage starts a goroutine per message (order is then
// up to the scheduler) and leaves binaryType at "blob" (read asynchronously);
// its OnICECandidate drops sdpMid. These handlers run inside js callbacks:
// they copy and queue, never block.
func hook(p *peer) (release func()) {
	dc := p.dc.JSValue()
	dc.Set("binaryType", "arraybuffer")
	onMessage := js.FuncOf(func(_ js.Value, args []js.Value) any {
		data := args[0].Get("data")
		if data.Type() == js.TypeString {
			p.fail(fmt.Errorf("%w: text message from node %d", ErrProtocol, p.id))
			return nil
		}
		b := make([]byte, data.Get("byteLength").Int())
		js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(data))
		if !p.in.push(b) {
			p.fail(fmt.Errorf("%w: node %d", ErrReceiveQueueFull, p.id))
		}
		return nil
	})
	dc.Set("onmessage", onMessage)

	pc := p.pc.JSValue()
	onCandidate := js.FuncOf(func(_ js.Value, args []js.Value) any {
		c := args[0].Get("candidate")
		if c.IsNull() || c.IsUndefined() || c.Get("candidate").String() == "" {
			return nil // end of candidates
		}
		j := c.Call("toJSON")
		init := webrtc.ICECandidateInit{Candidate: j.Get("candidate").String()}
		if v := j.Get("sdpMid"); v.Type() == js.TypeString {
			s := v.String()
			init.SDPMid = &s
		}
		if v := j.Get("sdpMLineIndex"); v.Type() == js.TypeNumber {
			i := uint16(v.Int())
			init.SDPMLineIndex = &i
		}
		if v := j.Get("usernameFragment"); v.Type() == js.TypeString {
			s := v.String()
			init.UsernameFragment = &s
		}
		p.t.post(func() { p.t.candidate(p, init) })
		return nil
	})
	pc.Set("onicecandidate", onCandidate)

	return func() {
		dc.Set("onmessage", js.Null())
		pc.Set("onicecandidate", js.Null())
		onMessage.Release()
		onCandidate.Release()
	}
}
