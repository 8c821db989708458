package storage

import (
	"errors"
	"fmt"
	"sync"
)

// ErrInjected is wrapped by every error a Faulty store injects.
var ErrInjected = errors.New("storage: injected fault")

// Fault is one failure for a Faulty store to inject.
type Fault struct {
	// N picks the failing write: 1 is the next write operation (Append, Put,
	// Truncate or Remove) after Inject, 2 the one after that. Values below 1
	// mean 1.
	N int
	// Keep makes a failing Append a torn write: its first Keep bytes (at
	// most all of them) reach the store before the error is returned. Keep
	// equal to the data's length models a write that landed but was not
	// acknowledged. Other operations are atomic and write nothing when they
	// fail.
	Keep int
	// Sticky makes every write after the failing one fail too, without
	// reaching the store: a crash, or a disk that went away.
	Sticky bool
	// Err, if set, is wrapped in the injected error along with ErrInjected.
	Err error
}

// Faulty wraps a Store and makes chosen write operations fail, in the spirit
// of pebble's vfs/errorfs, to test what recovery makes of a failed or torn
// write. Reads and List always pass through. Safe for concurrent use.
//
// A typical crash test counts the writes of a clean run with Writes, then for
// every n re-runs with Inject(Fault{N: n, Keep: ..., Sticky: true}) and
// recovers from the inner store.
type Faulty struct {
	inner Store

	mu     sync.Mutex
	writes int   // write operations seen since NewFaulty
	fault  Fault // the pending fault, if armed
	armed  bool
	left   int  // writes to let through before the fault fires
	fired  bool // the fault fired since the last Inject
	dead   bool // a sticky fault fired: every write fails
}

var _ Store = (*Faulty)(nil)

// NewFaulty wraps inner, injecting nothing until Inject is called.
func NewFaulty(inner Store) *Faulty { return &Faulty{inner: inner} }

// Inner is the wrapped store, to recover from after a fault.
func (f *Faulty) Inner() Store { return f.inner }

// Inject arms ft, replacing any pending fault and reviving a store that a
// sticky fault stopped.
func (f *Faulty) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft.N = max(ft.N, 1)
	ft.Keep = max(ft.Keep, 0)
	f.fault, f.armed, f.left, f.fired, f.dead = ft, true, ft.N-1, false, false
}

// FailNth makes the nth write from now fail with ErrInjected, writing nothing.
func (f *Faulty) FailNth(n int) { f.Inject(Fault{N: n}) }

// TearNth makes the nth write from now fail with ErrInjected; if it is an
// Append, its first keep bytes are written first.
func (f *Faulty) TearNth(n, keep int) { f.Inject(Fault{N: n, Keep: keep}) }

// Reset disarms any pending fault and revives a store a sticky fault stopped.
func (f *Faulty) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.fired, f.dead = false, false, false
}

// Writes is the number of write operations attempted through f, failed ones
// included.
func (f *Faulty) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Fired reports whether the fault armed by the last Inject has fired.
func (f *Faulty) Fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// fail counts one write and decides whether it fails. If it does, keep is the
// number of bytes a torn Append writes first (-1: none).
func (f *Faulty) fail(op Op, name string, size int) (keep int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	keep = -1
	switch {
	case f.dead:
	case f.armed && f.left > 0:
		f.left--
		return -1, nil
	case f.armed:
		f.armed, f.fired, f.dead = false, true, f.fault.Sticky
		if op == OpAppend && f.fault.Keep > 0 {
			keep = min(f.fault.Keep, size)
		}
	default:
		return -1, nil
	}
	if f.fault.Err != nil {
		return keep, fmt.Errorf("faulty: %v %q: %w: %w", op, name, ErrInjected, f.fault.Err)
	}
	return keep, fmt.Errorf("faulty: %v %q: %w", op, name, ErrInjected)
}

// Append implements Store.
func (f *Faulty) Append(name string, data []byte) error {
	keep, err := f.fail(OpAppend, name, len(data))
	if err != nil {
		if keep > 0 {
			// The torn prefix lands; its own error changes nothing for the
			// caller, who sees the injected failure either way.
			_ = f.inner.Append(name, data[:keep])
		}
		return err
	}
	return f.inner.Append(name, data)
}

// Put implements Store.
func (f *Faulty) Put(name string, data []byte) error {
	if _, err := f.fail(OpPut, name, len(data)); err != nil {
		return err
	}
	return f.inner.Put(name, data)
}

// Truncate implements Store.
func (f *Faulty) Truncate(name string, size int64) error {
	if _, err := f.fail(OpTruncate, name, 0); err != nil {
		return err
	}
	return f.inner.Truncate(name, size)
}

// Remove implements Store.
func (f *Faulty) Remove(name string) error {
	if _, err := f.fail(OpRemove, name, 0); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

// Read implements Store; it never fails by injection.
func (f *Faulty) Read(name string) ([]byte, error) { return f.inner.Read(name) }

// List implements Store; it never fails by injection.
func (f *Faulty) List(prefix string) ([]string, error) { return f.inner.List(prefix) }
