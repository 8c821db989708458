//go:build js

package rtc

import (
	"errors"
	"fmt"
	"syscall/js"
)

// PlatformConfig is the browser's part of Config: nothing, the browser
// owns its WebRTC settings.
type PlatformConfig struct{}

// jsConn is a conn on the browser's RTCPeerConnection and RTCDataChannel,
// used directly: pion's js build would only wrap them, at the cost of
// linking its whole native stack into the download.
type jsConn struct {
	pc, dc js.Value
	funcs  []js.Func // the handlers set on pc and dc, released by close
}

func newConn(cfg *Config, ev connEvents) (conn, error) {
	ctor := js.Global().Get("RTCPeerConnection")
	if ctor.Type() != js.TypeFunction {
		return nil, errors.New("this browser has no RTCPeerConnection")
	}
	servers := make([]any, len(cfg.ICEServers))
	for i, s := range cfg.ICEServers {
		urls := make([]any, len(s.URLs))
		for j, u := range s.URLs {
			urls[j] = u
		}
		server := map[string]any{"urls": urls}
		if s.Username != "" {
			server["username"] = s.Username
			server["credential"] = s.Credential
		}
		servers[i] = server
	}
	var c jsConn
	err := catch(func() {
		c.pc = ctor.New(map[string]any{"iceServers": servers})
		c.dc = c.pc.Call("createDataChannel", "streamlab", map[string]any{"ordered": true, "negotiated": true, "id": 0})
	})
	if err != nil {
		if c.pc.Truthy() {
			c.pc.Call("close")
		}
		return nil, err
	}
	// Messages arrive as ArrayBuffers, synchronously readable (the default
	// "blob" is read asynchronously).
	c.dc.Set("binaryType", "arraybuffer")
	c.dc.Set("bufferedAmountLowThreshold", lowWater)

	// The handlers run inside js callbacks: they copy and hand off, never
	// block.
	c.on(c.pc, "onicecandidate", func(e js.Value) {
		k := e.Get("candidate")
		if !k.Truthy() || k.Get("candidate").String() == "" {
			return // end of candidates
		}
		j := k.Call("toJSON")
		ev.candidate(Candidate{
			Candidate:        j.Get("candidate").String(),
			SDPMid:           optString(j.Get("sdpMid")),
			SDPMLineIndex:    optUint16(j.Get("sdpMLineIndex")),
			UsernameFragment: optString(j.Get("usernameFragment")),
		})
	})
	c.on(c.pc, "onconnectionstatechange", func(js.Value) {
		switch c.pc.Get("connectionState").String() {
		case "failed":
			ev.down(ErrConnectionFailed)
		case "closed":
			ev.down(ErrPeerClosed)
		}
	})
	c.on(c.dc, "onopen", func(js.Value) { ev.open() })
	c.on(c.dc, "onclose", func(js.Value) { ev.down(ErrPeerClosed) })
	c.on(c.dc, "onbufferedamountlow", func(js.Value) { ev.low() })
	c.on(c.dc, "onmessage", func(e js.Value) {
		data := e.Get("data")
		if data.Type() == js.TypeString {
			ev.message(nil, true)
			return
		}
		b := make([]byte, data.Get("byteLength").Int())
		js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(data))
		ev.message(b, false)
	})
	return &c, nil
}

// on sets v's event handler attribute name to f.
func (c *jsConn) on(v js.Value, name string, f func(event js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			f(args[0])
		}
		return nil
	})
	c.funcs = append(c.funcs, fn)
	v.Set(name, fn)
}

func (c *jsConn) createOffer() (SessionDescription, error) {
	d, err := await(c.pc, "createOffer")
	if err != nil {
		return SessionDescription{}, err
	}
	return SessionDescription{Type: SDPType(d.Get("type").String()), SDP: d.Get("sdp").String()}, nil
}

func (c *jsConn) createAnswer() (SessionDescription, error) {
	d, err := await(c.pc, "createAnswer")
	if err != nil {
		return SessionDescription{}, err
	}
	return SessionDescription{Type: SDPType(d.Get("type").String()), SDP: d.Get("sdp").String()}, nil
}

func (c *jsConn) setLocalDescription(d SessionDescription) error {
	_, err := await(c.pc, "setLocalDescription", map[string]any{"type": string(d.Type), "sdp": d.SDP})
	return err
}

func (c *jsConn) setRemoteDescription(d SessionDescription) error {
	_, err := await(c.pc, "setRemoteDescription", map[string]any{"type": string(d.Type), "sdp": d.SDP})
	return err
}

func (c *jsConn) addICECandidate(k Candidate) error {
	init := map[string]any{"candidate": k.Candidate}
	if k.SDPMid != nil {
		init["sdpMid"] = *k.SDPMid
	}
	if k.SDPMLineIndex != nil {
		init["sdpMLineIndex"] = int(*k.SDPMLineIndex)
	}
	if k.UsernameFragment != nil {
		init["usernameFragment"] = *k.UsernameFragment
	}
	_, err := await(c.pc, "addIceCandidate", init)
	return err
}

// send copies m into the browser, which copies it again into its send
// buffer: it throws if the channel is not open (any more).
func (c *jsConn) send(m []byte) error {
	return catch(func() {
		a := js.Global().Get("Uint8Array").New(len(m))
		js.CopyBytesToJS(a, m)
		c.dc.Call("send", a)
	})
}

func (c *jsConn) bufferedAmount() int { return c.dc.Get("bufferedAmount").Int() }

// close closes the channel and the connection, then detaches and releases
// the handlers: no event can run in between (one thread), and a detached
// handler is never called again.
func (c *jsConn) close() error {
	err := catch(func() {
		c.dc.Call("close")
		c.pc.Call("close")
	})
	for _, name := range []string{"onicecandidate", "onconnectionstatechange"} {
		c.pc.Set(name, js.Null())
	}
	for _, name := range []string{"onopen", "onclose", "onbufferedamountlow", "onmessage"} {
		c.dc.Set(name, js.Null())
	}
	for _, f := range c.funcs {
		f.Release()
	}
	c.funcs = nil
	return err
}

// await calls v's method, which returns a promise, and waits for it. It
// must not run inside a js callback: the promise settles only once the
// callback has returned.
func await(v js.Value, method string, args ...any) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1) // the one settle never blocks
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		r := result{v: js.Undefined()}
		if len(args) > 0 {
			r.v = args[0]
		}
		done <- r
		return nil
	})
	defer then.Release()
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		r := result{err: errors.New("promise rejected")}
		if len(args) > 0 {
			r.err = jsError(args[0])
		}
		done <- r
		return nil
	})
	defer fail.Release()
	if err := catch(func() { v.Call(method, args...).Call("then", then, fail) }); err != nil {
		return js.Undefined(), err
	}
	r := <-done
	return r.v, r.err
}

// catch runs f and returns what it throws in JavaScript as an error.
func catch(f func()) (err error) {
	defer func() {
		if x := recover(); x != nil {
			e, ok := x.(js.Error)
			if !ok {
				panic(x)
			}
			err = jsError(e.Value)
		}
	}()
	f()
	return nil
}

// jsError describes a thrown value or rejection reason, usually a
// DOMException, without assuming it is one.
func jsError(v js.Value) error {
	if v.Type() == js.TypeObject {
		if m := v.Get("message"); m.Type() == js.TypeString {
			if n := v.Get("name"); n.Type() == js.TypeString {
				return fmt.Errorf("%s: %s", n.String(), m.String())
			}
			return errors.New(m.String())
		}
	}
	return fmt.Errorf("javascript: %s", v.String())
}

func optString(v js.Value) *string {
	if v.Type() != js.TypeString {
		return nil
	}
	s := v.String()
	return &s
}

func optUint16(v js.Value) *uint16 {
	if v.Type() != js.TypeNumber {
		return nil
	}
	i := uint16(v.Int())
	return &i
}

// deliver queues a received message for the reader. A browser cannot be
// held back (its callback must return): a peer that floods the inbox is
// dropped.
func (p *peer) deliver(data []byte) {
	if !p.in.push(data) {
		p.fail(fmt.Errorf("%w: node %d", ErrReceiveQueueFull, p.id))
	}
}
