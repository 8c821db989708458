package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/streamlab/streamlab/core/storage"
)

// disk applies a machine's writes to its store at once, as the OS page cache
// makes them visible at once, and remembers how to undo the ones not synced
// yet, so that a power loss (CrashLosing) can take them back, newest first.
// What is left is always the state at some point in the order of writes (a
// prefix), perhaps with the last surviving append torn: the model of a disk
// that writes in order, which is kinder than a real one.
type disk struct {
	store storage.Store
	size  map[string]int64 // known object sizes, learned on first touch
	undo  []undo           // writes since the last sync, oldest first
}

type undo struct {
	op      storage.Op
	name    string
	existed bool
	size    int64  // OpAppend: the size before
	data    []byte // OpPut, OpRemove: the old content; OpTruncate: the bytes cut off
}

func newDisk(store storage.Store) *disk {
	return &disk{store: store, size: map[string]int64{}}
}

// sync makes every write so far durable.
func (d *disk) sync() { d.undo = d.undo[:0:0] }

// syncObject makes the writes so far to one object durable (a Write with
// Sync: fsync of that file); the others stay at risk.
func (d *disk) syncObject(name string) {
	kept := d.undo[:0]
	for _, u := range d.undo {
		if u.name != name {
			kept = append(kept, u)
		}
	}
	d.undo = kept
}

// unsynced is the number of write operations a power loss could lose.
func (d *disk) unsynced() int { return len(d.undo) }

// read returns an object's content and whether it exists.
func (d *disk) read(name string) ([]byte, bool, error) {
	data, err := d.store.Read(name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	d.size[name] = int64(len(data))
	return data, true, nil
}

// apply makes writes in order, like storage.Apply, keeping their undo.
func (d *disk) apply(writes []storage.Write) error {
	for _, w := range writes {
		u := undo{op: w.Op, name: w.Name}
		switch w.Op {
		case storage.OpAppend:
			if n, ok := d.size[w.Name]; ok {
				u.existed, u.size = n >= 0, max(n, 0)
			} else {
				data, ok, err := d.read(w.Name)
				if err != nil {
					return fmt.Errorf("storage: %v %q: %w", w.Op, w.Name, err)
				}
				u.existed, u.size = ok, int64(len(data))
			}
		case storage.OpPut, storage.OpTruncate, storage.OpRemove:
			if n, ok := d.size[w.Name]; ok && n < 0 {
				break // known to be absent
			}
			data, ok, err := d.read(w.Name)
			if err != nil {
				return fmt.Errorf("storage: %v %q: %w", w.Op, w.Name, err)
			}
			u.existed, u.data = ok, data
			if w.Op == storage.OpTruncate && ok && w.Size >= 0 && w.Size <= int64(len(data)) {
				u.data = data[w.Size:]
			}
		}
		if err := storage.Apply(d.store, []storage.Write{w}); err != nil {
			delete(d.size, w.Name) // a failed write may have left anything
			return err
		}
		switch w.Op {
		case storage.OpAppend:
			d.size[w.Name] = u.size + int64(len(w.Data))
		case storage.OpPut:
			d.size[w.Name] = int64(len(w.Data))
		case storage.OpTruncate:
			d.size[w.Name] = w.Size
		case storage.OpRemove:
			d.size[w.Name] = -1
		}
		d.undo = append(d.undo, u)
		if w.Sync {
			d.syncObject(w.Name)
		}
	}
	return nil
}

// lose takes back the newest n unsynced writes (all of them if n < 0 or
// there are fewer). With torn, the oldest write lost, if it appended at
// least 2 bytes, keeps a random non-empty part of its data instead. It
// returns what it did, for people.
func (d *disk) lose(n int, torn bool, rnd *rand.Rand) string {
	k := len(d.undo)
	if n < 0 || n > k {
		n = k
	}
	failed := 0
	tornMsg := ""
	for i := k - 1; i >= k-n; i-- {
		u := d.undo[i]
		if i == k-n && torn && u.op == storage.OpAppend {
			// Everything after it is undone: the object ends with its data.
			if data, err := d.store.Read(u.name); err == nil && int64(len(data))-u.size >= 2 {
				added := data[u.size:]
				keep := 1 + rnd.IntN(len(added)-1)
				if d.store.Truncate(u.name, u.size+int64(keep)) != nil {
					failed++
				}
				tornMsg = fmt.Sprintf(", the oldest torn: %d of %d bytes appended to %s kept", keep, len(added), u.name)
				continue
			}
		}
		if d.revert(u) != nil {
			failed++
		}
	}
	d.undo = d.undo[:k-n]
	d.size = map[string]int64{}
	msg := fmt.Sprintf("lost %d of %d unsynced writes%s", n, k, tornMsg)
	if failed > 0 {
		msg += fmt.Sprintf(" (%d could not be undone)", failed)
	}
	return msg
}

func (d *disk) revert(u undo) error {
	switch u.op {
	case storage.OpAppend:
		if !u.existed {
			return d.store.Remove(u.name)
		}
		return d.store.Truncate(u.name, u.size)
	case storage.OpPut:
		if !u.existed {
			return d.store.Remove(u.name)
		}
		return d.store.Put(u.name, u.data)
	case storage.OpTruncate:
		if u.existed && len(u.data) > 0 {
			return d.store.Append(u.name, u.data)
		}
	case storage.OpRemove:
		if u.existed {
			return d.store.Put(u.name, u.data)
		}
	}
	return nil
}
