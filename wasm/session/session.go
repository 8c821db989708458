//go:build js && wasm

// Package session keeps the single-tab page's session (ui.SessionStore: the
// seed, the configuration and the action log, encoded by lab.Session) in
// IndexedDB, so that a reload restores it. It uses wasm/idbstore, the
// brokers' storage of the live page, linked into the same app.
//
// IndexedDB is asynchronous: the page loads the session off its UI
// goroutine before it starts the world, and a save returns at once while a
// goroutine writes the newest text (older ones waiting are skipped).
package session

import (
	"context"
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/wasm/idbstore"
)

// object is the session's name in the database.
const object = "session"

// openTimeout bounds opening the database: a browser that blocks site data
// may leave the request pending.
const openTimeout = 5 * time.Second

// Store is a SessionStore in one IndexedDB database.
type Store struct {
	database  string
	legacyKey string // localStorage key of the sessions kept before

	once sync.Once
	db   *idbstore.Store // nil: IndexedDB is unavailable, nothing is kept
	dbMu sync.Mutex      // idbstore.Store is not safe for concurrent use

	mu      sync.Mutex
	pending *string       // the newest text not written yet
	wake    chan struct{} // a text is pending
}

// New is a Store in database; a session that an older page kept in
// localStorage under legacyKey is moved there on the first Load.
func New(database, legacyKey string) *Store {
	return &Store{database: database, legacyKey: legacyKey, wake: make(chan struct{}, 1)}
}

func (s *Store) open() *idbstore.Store {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		db, err := idbstore.Open(ctx, s.database)
		if err != nil {
			js.Global().Get("console").Call("warn", "Streamlab: the session is not kept: "+err.Error())
			return
		}
		s.db = db
		go s.write()
	})
	return s.db
}

// Load reads the saved session, ok false if there is none or IndexedDB is
// unavailable. It blocks: call it off the UI goroutine.
func (s *Store) Load() (string, bool) {
	db := s.open()
	if db == nil {
		return "", false
	}
	s.dbMu.Lock()
	b, err := db.Read(object)
	s.dbMu.Unlock()
	if errors.Is(err, storage.ErrNotFound) {
		if text, ok := takeLegacy(s.legacyKey); ok {
			s.Save(text)
			return text, true
		}
	}
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Save keeps text as the session; a full or blocked storage only does not
// keep it.
func (s *Store) Save(text string) {
	s.mu.Lock()
	s.pending = &text
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake is pending already
	}
	go s.open() // the writer starts with the database
}

// write writes the pending text, for good.
func (s *Store) write() {
	for range s.wake {
		s.mu.Lock()
		text := s.pending
		s.pending = nil
		s.mu.Unlock()
		if text == nil {
			continue
		}
		s.dbMu.Lock()
		err := s.db.Put(object, []byte(*text))
		s.dbMu.Unlock()
		if err != nil {
			js.Global().Get("console").Call("warn", "Streamlab: the session is not kept: "+err.Error())
		}
	}
}

// takeLegacy reads and removes a session an older page kept in
// localStorage.
func takeLegacy(key string) (text string, ok bool) {
	// localStorage throws (SecurityError) when the browser blocks site
	// data; syscall/js turns that into a panic.
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	ls := js.Global().Get("localStorage")
	if key == "" || !ls.Truthy() {
		return "", false
	}
	v := ls.Call("getItem", key)
	if v.Type() != js.TypeString {
		return "", false
	}
	ls.Call("removeItem", key)
	return v.String(), true
}
