//go:build js && wasm

// Package webrtctest holds what browser tests of WebRTC share.
package webrtctest

import (
	"fmt"
	"syscall/js"
	"testing"
	"time"
)

// AllowLocalCandidates asks for the microphone (tools/wasmbrowser.sh gives a
// fake one without asking): with that permission Chromium gathers host
// candidates on every interface, loopback included, as addresses. Without
// it the test is skipped: in a loopback-only namespace no peer could connect.
func AllowLocalCandidates(t testing.TB) {
	t.Helper()
	done := make(chan error, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any {
		tracks := args[0].Call("getTracks")
		for i := 0; i < tracks.Length(); i++ {
			tracks.Index(i).Call("stop")
		}
		done <- nil
		return nil
	})
	defer then.Release()
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- fmt.Errorf("getUserMedia: %s", args[0].Call("toString").String())
		return nil
	})
	defer catch.Release()
	opts := map[string]any{"audio": true}
	js.Global().Get("navigator").Get("mediaDevices").Call("getUserMedia", opts).Call("then", then).Call("catch", catch)
	select {
	case err := <-done:
		if err != nil {
			t.Skipf("no WebRTC host candidates in this browser: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Skip("no WebRTC host candidates in this browser: getUserMedia did not answer")
	}
}
