//go:build js && wasm

// Package session keeps the single-tab page's session (ui.SessionStore: the
// seed, the configuration and the action log, encoded by lab.Session) in
// the browser, so that a reload restores it.
//
// It uses window.localStorage, not IndexedDB (DESIGN's storage): the
// session is one short string read once, before the page's first frame.
// localStorage is synchronous, so the page restores it with no asynchronous
// start path, and it adds nothing to the download, where go-indexeddb is
// asynchronous and is not linked into the page's wasm today. IndexedDB stays
// the store of the brokers' logs (wasm/idbstore).
package session

import "syscall/js"

// Store is a SessionStore under one localStorage key.
type Store struct{ key string }

// New is a Store under key.
func New(key string) Store { return Store{key: key} }

// Load reads the saved session, ok false if there is none or storage is
// unavailable.
func (s Store) Load() (text string, ok bool) {
	// Reading localStorage throws (SecurityError) when the browser blocks
	// site data; syscall/js turns that into a panic.
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	ls := js.Global().Get("localStorage")
	if ls.IsUndefined() || ls.IsNull() {
		return "", false
	}
	v := ls.Call("getItem", s.key)
	if v.Type() != js.TypeString {
		return "", false
	}
	return v.String(), true
}

// Save writes the session; when storage is full or blocked the session is
// only not kept.
func (s Store) Save(text string) {
	defer func() { _ = recover() }() // QuotaExceededError, SecurityError: see Load
	ls := js.Global().Get("localStorage")
	if ls.IsUndefined() || ls.IsNull() {
		return
	}
	ls.Call("setItem", s.key, text)
}
