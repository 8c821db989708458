//go:build js && wasm

// Package fetch makes HTTP requests with the page's fetch(), for the room
// client (p2p/room) in the browser: net/http's client would cost the app
// megabytes of wasm (see room.Fetcher).
package fetch

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/streamlab/streamlab/p2p/room"
)

// maxBody bounds an answer's body.
const maxBody = 4 << 20

// Fetcher is a room.Fetcher over fetch().
type Fetcher struct{}

// Fetch makes the request; ctx aborts it.
func (Fetcher) Fetch(ctx context.Context, r room.FetchRequest) (room.FetchResponse, error) {
	g := js.Global()
	if g.Get("fetch").IsUndefined() {
		return room.FetchResponse{}, errors.New("fetch: this environment has no fetch()")
	}
	abort := g.Get("AbortController").New()
	init := g.Get("Object").New()
	init.Set("method", r.Method)
	headers := g.Get("Object").New()
	for k, v := range r.Header {
		headers.Set(k, v)
	}
	init.Set("headers", headers)
	if r.Body != nil {
		b := g.Get("Uint8Array").New(len(r.Body))
		js.CopyBytesToJS(b, r.Body)
		init.Set("body", b)
	}
	init.Set("signal", abort.Get("signal"))
	resp, err := await(ctx, abort, g.Call("fetch", r.URL, init))
	if err != nil {
		return room.FetchResponse{}, fmt.Errorf("fetch %s %s: %w", r.Method, r.URL, err)
	}
	out := room.FetchResponse{Status: resp.Get("status").Int()}
	if ra := resp.Get("headers").Call("get", "Retry-After"); ra.Type() == js.TypeString {
		out.RetryAfter = ra.String()
	}
	buf, err := await(ctx, abort, resp.Call("arrayBuffer"))
	if err != nil {
		return room.FetchResponse{}, fmt.Errorf("fetch %s %s: reading the answer: %w", r.Method, r.URL, err)
	}
	u8 := g.Get("Uint8Array").New(buf)
	if n := u8.Length(); n > maxBody {
		return room.FetchResponse{}, fmt.Errorf("fetch %s %s: a %d-byte answer (the limit is %d)", r.Method, r.URL, n, maxBody)
	}
	out.Body = make([]byte, u8.Length())
	js.CopyBytesToGo(out.Body, u8)
	return out, nil
}

// await waits for promise p, aborting the request when ctx ends. The
// callbacks only hand the outcome over: nothing blocks inside them.
func await(ctx context.Context, abort, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	done := make(chan result, 1)
	ok := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- result{v: args[0]}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "rejected"
		if len(args) > 0 {
			msg = js.Global().Get("String").Invoke(args[0]).String()
		}
		done <- result{err: errors.New(msg)}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	p.Call("then", ok, fail)
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		abort.Call("abort")
		<-done // the abort rejects the promise: wait for it before releasing the callbacks
		return js.Value{}, ctx.Err()
	}
}
