// Package storage is the one small interface between the deterministic core and
// whatever keeps its bytes: memory, files, IndexedDB. A store is a flat set of
// named, append-only objects (a log segment is one object). Machines never call
// a store while they run: they describe Writes in their Ready, and the host
// applies them with Apply before any message leaves. Stores are read only when
// a machine is opened (recovery).
package storage

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned by Read, Truncate and Remove for a missing object.
var ErrNotFound = errors.New("storage: object not found")

// ErrCorrupt is wrapped by the error of a Read that found stored bytes
// failing the store's own checks (a store that checksums what it keeps).
// Read then returns, with that error, the bytes before the first damaged
// part, which passed them: recovery keeps them and truncates the object
// there, and Truncate to at most that size must succeed.
var ErrCorrupt = errors.New("corrupt data")

// Store is implemented by every backend. Names are slash-separated paths made
// of [A-Za-z0-9._-] segments; backends may reject other names.
type Store interface {
	// Append adds data at the end of the named object, creating it if needed
	// (an empty Append creates an empty object).
	Append(name string, data []byte) error
	// Put replaces the whole object atomically: a reader sees the old or the
	// new content, never a mix.
	Put(name string, data []byte) error
	// Read returns the whole object.
	Read(name string) ([]byte, error)
	// Truncate cuts the object to size bytes (size <= current size).
	Truncate(name string, size int64) error
	// Remove deletes the object.
	Remove(name string) error
	// List returns the names that start with prefix, sorted.
	List(prefix string) ([]string, error)
}

// Op is what a Write does.
type Op uint8

const (
	OpAppend Op = iota + 1
	OpPut
	OpTruncate
	OpRemove
)

func (o Op) String() string {
	switch o {
	case OpAppend:
		return "append"
	case OpPut:
		return "put"
	case OpTruncate:
		return "truncate"
	case OpRemove:
		return "remove"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Write is one change a machine asks its host to make durable.
type Write struct {
	Op   Op
	Name string
	Data []byte // OpAppend, OpPut
	Size int64  // OpTruncate
	// Sync asks that the object be on stable storage once the write is
	// done (fsync), as raft's log must be before a vote or an
	// acknowledgement leaves (Ready.MustSync). Put is always durable;
	// appends and truncations are not unless they sync: Kafka's logs do
	// not (log.flush.interval.messages is unbounded), so a power loss can
	// take their unsynced tail.
	Sync bool
}

// Syncer is a Store that can make an object durable; Apply calls it for
// writes with Sync. A store without it (memory) has nothing to sync.
type Syncer interface {
	Sync(name string) error
}

// Batcher is a Store that can make several writes durable at once (for
// example in one transaction, where each write alone would be one); Apply
// uses it when the store has it.
type Batcher interface {
	// ApplyBatch makes writes durable in order, each as the Store method of
	// its Op would, synced as Syncer.Sync would after it if it asks, and
	// stops at the first error. It returns how many writes are done: if
	// err is not nil, writes[:done] are done, writes[done] failed with err
	// (not yet wrapped: Apply wraps it as it wraps a single write's error)
	// and writes[done+1:] had no effect. Like Store.Remove, a remove of a
	// missing object fails with ErrNotFound (Apply goes on after it). Apply
	// never passes an Op other than OpAppend, OpPut, OpTruncate, OpRemove.
	ApplyBatch(writes []Write) (done int, err error)
}

// Apply makes writes durable in order and stops at the first error. A
// store that is a Batcher gets them in one ApplyBatch call (a remove of a
// missing object, tolerated here, and an unknown op split the batch).
func Apply(s Store, writes []Write) error {
	if b, ok := s.(Batcher); ok {
		return applyBatch(b, writes)
	}
	for _, w := range writes {
		if err := apply(s, w); err != nil {
			return fmt.Errorf("storage: %v %q: %w", w.Op, w.Name, err)
		}
	}
	return nil
}

// apply does one write on a store that is not a Batcher.
func apply(s Store, w Write) error {
	var err error
	switch w.Op {
	case OpAppend:
		err = s.Append(w.Name, w.Data)
	case OpPut:
		err = s.Put(w.Name, w.Data)
	case OpTruncate:
		err = s.Truncate(w.Name, w.Size)
	case OpRemove:
		err = s.Remove(w.Name)
		if errors.Is(err, ErrNotFound) {
			err = nil
		}
	default:
		err = unknownOp(w.Op)
	}
	if syncer, ok := s.(Syncer); ok && err == nil && w.Sync {
		err = syncer.Sync(w.Name)
	}
	return err
}

func unknownOp(o Op) error { return fmt.Errorf("storage: unknown op %v", o) }

func knownOp(o Op) bool { return o >= OpAppend && o <= OpRemove }

// applyBatch is Apply for a Batcher.
func applyBatch(b Batcher, writes []Write) error {
	for len(writes) > 0 {
		n := len(writes)
		for i, w := range writes {
			if !knownOp(w.Op) {
				n = i
				break
			}
		}
		done, err := n, error(nil)
		if n > 0 {
			done, err = b.ApplyBatch(writes[:n])
			if err == nil {
				done = n
			} else if done < 0 || done >= n {
				// A Batcher that says more is done than it was given.
				return fmt.Errorf("storage: batch of %d writes: %d done with error: %w", n, done, err)
			}
		}
		if err == nil {
			if n == len(writes) {
				return nil
			}
			err = unknownOp(writes[n].Op)
		}
		w := writes[done]
		if w.Op != OpRemove || !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("storage: %v %q: %w", w.Op, w.Name, err)
		}
		writes = writes[done+1:]
	}
	return nil
}
