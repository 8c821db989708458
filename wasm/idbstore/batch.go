//go:build js && wasm

package idbstore

import (
	"fmt"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/streamlab/streamlab/core/storage"
)

// A batch is the changes of one readwrite transaction on the chunk store,
// planned under s.mu: Append, Put and Remove check their write, change
// the store's names at once (objs, dirs) and add the requests to make; commit
// makes them in one transaction, and puts the names back if it fails.
type batch struct {
	durability idb.TransactionDurability
	reqs       []func(*idb.ObjectStore) error
	undo       []undo
}

// undo is what a name was before a batch changed it.
type undo struct {
	name    string
	next    uint64
	existed bool
}

// ApplyBatch implements storage.Batcher: the writes' rows in one readwrite
// transaction, with strict durability if one of them is a Put or asks to
// be synced (the transaction then completes only once it and every earlier
// change are on disk, which is what Sync does). A Truncate, which reads the
// object first, commits what came before it and runs in a transaction of
// its own (strict if it asks to be synced).
//
// A write this store refuses (an invalid or conflicting name, a missing
// object, too many bytes) stops the batch before it: the writes before it
// are committed. If IndexedDB fails the transaction, none of its writes is
// done: ApplyBatch returns the index of its first and the error.
func (s *Store) ApplyBatch(writes []storage.Write) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := 0
	for done < len(writes) {
		var b batch
		var refused error
		end := done
	plan:
		for ; end < len(writes); end++ {
			w := &writes[end]
			switch w.Op {
			case storage.OpAppend:
				refused = s.planAppend(&b, w.Name, w.Data)
			case storage.OpPut:
				refused = s.planPut(&b, w.Name, w.Data)
			case storage.OpRemove:
				refused = s.planRemove(&b, w.Name)
			case storage.OpTruncate:
				break plan
			default:
				refused = fmt.Errorf("idbstore: unknown op %v", w.Op)
			}
			if refused != nil {
				break
			}
			if w.Sync {
				b.durability = idb.DurabilityStrict
			}
		}
		if err := s.commit(&b); err != nil {
			return done, fmt.Errorf("idbstore: %d writes in one transaction: %w", end-done, err)
		}
		done = end
		if refused != nil {
			return done, refused
		}
		if done < len(writes) { // a truncation
			w := &writes[done]
			durability := idb.DurabilityDefault
			if w.Sync {
				durability = idb.DurabilityStrict
			}
			if err := s.truncate(w.Name, w.Size, durability); err != nil {
				return done, err
			}
			done++
		}
	}
	return done, nil
}

// planAppend plans Append: one new chunk row. s.mu must be held.
func (s *Store) planAppend(b *batch, name string, data []byte) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("idbstore: append: %w", err)
	}
	if uint64(len(data)) > maxPayload {
		return fmt.Errorf("idbstore: append %q: %d bytes, more than a chunk holds", name, len(data))
	}
	seq, exists := s.objs[name]
	if !exists {
		if err := s.checkCreate(name); err != nil {
			return fmt.Errorf("idbstore: append %q: %w", name, err)
		}
	} else if len(data) == 0 {
		return nil
	}
	key, row := chunkKey(name, float64(seq)), s.chunk(name, seq, data)
	b.reqs = append(b.reqs, func(st *idb.ObjectStore) error {
		_, err := st.PutKey(key, row)
		return err
	})
	s.setNext(b, name, seq+1)
	return nil
}

// planPut plans Put: the object's rows replaced by one, strictly durable.
// s.mu must be held.
func (s *Store) planPut(b *batch, name string, data []byte) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("idbstore: put: %w", err)
	}
	if uint64(len(data)) > maxPayload {
		return fmt.Errorf("idbstore: put %q: %d bytes, more than a chunk holds", name, len(data))
	}
	if _, exists := s.objs[name]; !exists {
		if err := s.checkCreate(name); err != nil {
			return fmt.Errorf("idbstore: put %q: %w", name, err)
		}
	}
	rows, key, row := rowsFrom(name, 0, false), chunkKey(name, 0), s.chunk(name, 0, data)
	b.reqs = append(b.reqs, func(st *idb.ObjectStore) error {
		if _, err := st.Delete(rows); err != nil {
			return err
		}
		_, err := st.PutKey(key, row)
		return err
	})
	b.durability = idb.DurabilityStrict
	s.setNext(b, name, 1)
	return nil
}

// planRemove plans Remove: the object's rows deleted. s.mu must be held.
func (s *Store) planRemove(b *batch, name string) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("idbstore: remove: %w", err)
	}
	next, ok := s.objs[name]
	if !ok {
		return fmt.Errorf("idbstore: remove %q: %w", name, storage.ErrNotFound)
	}
	rows := rowsFrom(name, 0, false)
	b.reqs = append(b.reqs, func(st *idb.ObjectStore) error {
		_, err := st.Delete(rows)
		return err
	})
	b.undo = append(b.undo, undo{name: name, next: next, existed: true})
	s.forget(name)
	return nil
}

// commit makes b's requests in one readwrite transaction and waits until
// it completed; if it failed, the names are put back as they were. A batch
// without requests commits nothing. s.mu must be held.
func (s *Store) commit(b *batch) error {
	if len(b.reqs) == 0 {
		return nil
	}
	err := s.write(chunkStore, b.durability, func(st *idb.ObjectStore) error {
		for _, req := range b.reqs {
			if err := req(st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := len(b.undo) - 1; i >= 0; i-- {
			u := b.undo[i]
			_, now := s.objs[u.name]
			switch {
			case u.existed && now:
				s.objs[u.name] = u.next
			case u.existed:
				s.create(u.name, u.next)
			case now:
				s.forget(u.name)
			}
		}
	}
	return err
}

// setNext records that name's next chunk is next, creating the object if
// new. s.mu must be held.
func (s *Store) setNext(b *batch, name string, next uint64) {
	old, existed := s.objs[name]
	b.undo = append(b.undo, undo{name: name, next: old, existed: existed})
	if existed {
		s.objs[name] = next
	} else {
		s.create(name, next)
	}
}

// forget drops name from the names. s.mu must be held.
func (s *Store) forget(name string) {
	delete(s.objs, name)
	for dir := range parents(name) {
		if s.dirs[dir]--; s.dirs[dir] == 0 {
			delete(s.dirs, dir)
		}
	}
}
