//go:build js && wasm

package live

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"
)

// errNoLocks: navigator.locks exists only in secure contexts (https, or
// http://localhost): a page a classroom opens at http://<LAN address> has
// none.
var errNoLocks = errors.New("live: this browser has no Web Locks API (the page is not a secure context: use https or localhost)")

// lock is a Web Lock held until release.
type lock struct {
	resolve  js.Value      // ends the lock's callback promise: releases it
	released chan struct{} // the request's promise settled: the lock is free
	funcs    []js.Func
}

// tryLock takes the Web Lock name if no one holds it (ifAvailable): nil,
// nil if it is taken. The lock is held until release, or until the page
// goes away.
func tryLock(ctx context.Context, name string) (*lock, error) {
	locks := js.Global().Get("navigator").Get("locks")
	if locks.IsUndefined() {
		return nil, errNoLocks
	}
	l := &lock{released: make(chan struct{})}
	got := make(chan bool, 1)
	fail := make(chan error, 1)
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		l.resolve = args[0]
		return nil
	})
	granted := js.FuncOf(func(_ js.Value, args []js.Value) any {
		if args[0].IsNull() {
			got <- false
			return nil
		}
		// The lock lasts until the promise returned here settles.
		p := js.Global().Get("Promise").New(executor)
		got <- true
		return p
	})
	settled := js.FuncOf(func(js.Value, []js.Value) any {
		close(l.released)
		return nil
	})
	failed := js.FuncOf(func(_ js.Value, args []js.Value) any {
		fail <- fmt.Errorf("live: lock %s: %s", name, args[0].Call("toString").String())
		return nil
	})
	l.funcs = []js.Func{executor, granted, settled, failed}
	opts := map[string]any{"ifAvailable": true}
	locks.Call("request", name, opts, granted).Call("then", settled, failed)
	select {
	case ok := <-got:
		if !ok {
			<-l.released
			l.free()
			return nil, nil
		}
		return l, nil
	case err := <-fail:
		l.free()
		return nil, err
	case <-ctx.Done():
		// The grant may still come: it is then released at once.
		go func() {
			select {
			case ok := <-got:
				if ok {
					l.release()
					return
				}
				<-l.released
			case <-fail:
			}
			l.free()
		}()
		return nil, ctx.Err()
	}
}

// release frees the lock and waits until the browser has.
func (l *lock) release() {
	l.resolve.Invoke()
	<-l.released
	l.free()
}

func (l *lock) free() {
	for _, f := range l.funcs {
		f.Release()
	}
}

// sessionGet and sessionSet use this tab's sessionStorage, if the page has
// one: it survives a reload, not a closed tab.
func sessionGet(key string) string { return storageGet("sessionStorage", key) }

func sessionSet(key, value string) { storageSet("sessionStorage", key, value) }

func localGet(key string) string { return storageGet("localStorage", key) }

func localSet(key, value string) { storageSet("localStorage", key, value) }

// storageGet reads a Web Storage area ("sessionStorage", "localStorage");
// "" if absent (or the area is: a sandboxed page).
func storageGet(area, key string) string {
	s := js.Global().Get(area)
	if s.IsUndefined() || s.IsNull() {
		return ""
	}
	v := s.Call("getItem", key)
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

func storageSet(area, key, value string) {
	if s := js.Global().Get(area); !s.IsUndefined() && !s.IsNull() {
		s.Call("setItem", key, value)
	}
}
