//go:build js && wasm

package idbstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"sync"
	"syscall/js"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/streamlab/streamlab/core/storage"
)

const (
	dbVersion = 1
	// chunkStore holds the objects: key [name, seq], value a chunk.
	chunkStore = "chunks"
	// syncStore holds one marker row that Sync rewrites.
	syncStore = "sync"
)

var (
	uint8Array = js.Global().Get("Uint8Array")
	keyRange   = js.Global().Get("IDBKeyRange")
	isArray    = js.Global().Get("Array").Get("isArray")
)

// Store keeps objects in one IndexedDB database. It is safe for concurrent
// use, but its methods wait for IndexedDB: call them from a goroutine, never
// from inside a js.FuncOf callback, which would deadlock the page.
//
// One Store should own a database at a time (a tab holds the broker id's Web
// Lock): it keeps the database's object names in memory, so that Append
// needs no read before its write.
type Store struct {
	mu       sync.Mutex
	db       *idb.Database
	database string
	// objs maps every object to the seq its next chunk gets.
	objs map[string]uint64
	// dirs counts the objects below each directory, as in storage.Memory,
	// to refuse the name conflicts a file system would.
	dirs map[string]int
	// buf is reused to encode chunks (under mu).
	buf []byte
	// syncs counts Sync calls: the marker row's new value.
	syncs int
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Syncer  = (*Store)(nil)
	_ storage.Batcher = (*Store)(nil)
)

// Open opens (creating if needed) the IndexedDB database named database and
// loads its object names. ctx bounds the opening only.
func Open(ctx context.Context, database string) (*Store, error) {
	factory := js.Global().Get("indexedDB")
	if !factory.Truthy() {
		return nil, fmt.Errorf("idbstore: open %q: this environment has no IndexedDB", database)
	}
	f, err := idb.WrapFactory(factory)
	if err != nil {
		return nil, fmt.Errorf("idbstore: open %q: %w", database, err)
	}
	// The upgrade runs only for a new database (version 0 to 1).
	req, err := f.Open(ctx, database, dbVersion, func(db *idb.Database, _, _ uint) error {
		if _, err := db.CreateObjectStore(chunkStore, idb.ObjectStoreOptions{}); err != nil {
			return err
		}
		_, err := db.CreateObjectStore(syncStore, idb.ObjectStoreOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("idbstore: open %q: %w", database, err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		return nil, fmt.Errorf("idbstore: open %q: %w", database, err)
	}
	s := &Store{db: db, database: database, objs: map[string]uint64{}, dirs: map[string]int{}}
	if err := s.load(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("idbstore: open %q: %w", database, err)
	}
	return s, nil
}

// load fills objs and dirs from the keys of the chunk rows.
func (s *Store) load(ctx context.Context) error {
	txn, err := s.db.Transaction(idb.TransactionReadOnly, chunkStore)
	if err != nil {
		return err
	}
	st, err := txn.ObjectStore(chunkStore)
	if err != nil {
		return err
	}
	req, err := st.GetAllKeys()
	if err != nil {
		return err
	}
	keys, err := req.Await(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		name, seq, err := parseKey(k)
		if err != nil {
			return err
		}
		if next, ok := s.objs[name]; ok {
			s.objs[name] = max(next, seq+1)
			continue
		}
		if err := s.checkCreate(name); err != nil {
			return fmt.Errorf("%w: stored object %q: %w", ErrCorrupt, name, err)
		}
		s.create(name, seq+1)
	}
	return nil
}

// Database is the name of the IndexedDB database the store keeps.
func (s *Store) Database() string { return s.database }

// Close closes the database connection; the Store is unusable afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Close()
}

// Append implements storage.Store: one new chunk row, committed (not synced)
// before it returns.
func (s *Store) Append(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b batch
	if err := s.planAppend(&b, name, data); err != nil {
		return err
	}
	if err := s.commit(&b); err != nil {
		return fmt.Errorf("idbstore: append %q: %w", name, err)
	}
	return nil
}

// Put implements storage.Store: the object's rows are replaced by one in a
// transaction with strict durability, so the new content is on disk when Put
// returns, and a reader never sees a mix.
func (s *Store) Put(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b batch
	if err := s.planPut(&b, name, data); err != nil {
		return err
	}
	if err := s.commit(&b); err != nil {
		return fmt.Errorf("idbstore: put %q: %w", name, err)
	}
	return nil
}

// Read implements storage.Store. It verifies every chunk: a failed check is
// an error wrapping ErrCorrupt.
func (s *Store) Read(name string) ([]byte, error) {
	if err := storage.ValidName(name); err != nil {
		return nil, fmt.Errorf("idbstore: read: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[name]; !ok {
		return nil, fmt.Errorf("idbstore: read %q: %w", name, storage.ErrNotFound)
	}
	var out []byte
	err := s.rows(name, func(_ uint64, payload []byte) {
		out = append(out, payload...)
	})
	if errors.Is(err, ErrCorrupt) {
		// The chunks before the damaged one passed their checks: they
		// are what recovery keeps (storage.ErrCorrupt).
		if out == nil {
			out = []byte{}
		}
		return out, fmt.Errorf("idbstore: read %q: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("idbstore: read %q: %w", name, err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// Truncate implements storage.Store. It reads the object's chunks, then in
// one transaction rewrites the chunk the cut falls in and deletes the rest.
// It is not synced.
func (s *Store) Truncate(name string, size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.truncate(name, size, idb.DurabilityDefault)
}

// truncate is Truncate, its transaction with durability. s.mu must be held.
func (s *Store) truncate(name string, size int64, durability idb.TransactionDurability) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("idbstore: truncate: %w", err)
	}
	if _, ok := s.objs[name]; !ok {
		return fmt.Errorf("idbstore: truncate %q: %w", name, storage.ErrNotFound)
	}
	type row struct {
		seq     uint64
		payload []byte
	}
	var rows []row
	var total int64
	err := s.rows(name, func(seq uint64, payload []byte) {
		rows = append(rows, row{seq, slices.Clone(payload)})
		total += int64(len(payload))
	})
	// Damage after the cut is cut off with it: the rows before it passed
	// their checks (storage.ErrCorrupt: recovery truncates there).
	damaged := errors.Is(err, ErrCorrupt) && size >= 0 && size <= total
	if err != nil && !damaged {
		return fmt.Errorf("idbstore: truncate %q: %w", name, err)
	}
	if size < 0 || size > total {
		return fmt.Errorf("idbstore: truncate %q to %d bytes: size must be between 0 and %d", name, size, total)
	}
	if damaged && size == total {
		// The cut is where the damage starts: drop the rows from there
		// on (with none verified, the object becomes one empty row).
		err = s.write(chunkStore, durability, func(st *idb.ObjectStore) error {
			if len(rows) > 0 {
				_, err := st.Delete(rowsFrom(name, rows[len(rows)-1].seq, true))
				return err
			}
			if _, err := st.Delete(rowsFrom(name, 0, false)); err != nil {
				return err
			}
			_, err := st.PutKey(chunkKey(name, 0), s.chunk(name, 0, nil))
			return err
		})
		if err != nil {
			return fmt.Errorf("idbstore: truncate %q: %w", name, err)
		}
		return nil
	}
	if size == total {
		if durability == idb.DurabilityStrict {
			return s.sync(name)
		}
		return nil
	}
	// Find the chunk the cut falls in; it keeps its first keep bytes.
	i, keep := 0, size
	for keep >= int64(len(rows[i].payload)) {
		keep -= int64(len(rows[i].payload))
		i++
	}
	cut := rows[i]
	err = s.write(chunkStore, durability, func(st *idb.ObjectStore) error {
		// The first chunk stays even when empty: an object is its rows.
		if keep == 0 && i > 0 {
			_, err := st.Delete(rowsFrom(name, cut.seq, false))
			return err
		}
		if _, err := st.PutKey(chunkKey(name, float64(cut.seq)), s.chunk(name, cut.seq, cut.payload[:keep])); err != nil {
			return err
		}
		_, err := st.Delete(rowsFrom(name, cut.seq, true))
		return err
	})
	if err != nil {
		return fmt.Errorf("idbstore: truncate %q: %w", name, err)
	}
	return nil
}

// Remove implements storage.Store.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b batch
	if err := s.planRemove(&b, name); err != nil {
		return err
	}
	if err := s.commit(&b); err != nil {
		return fmt.Errorf("idbstore: remove %q: %w", name, err)
	}
	return nil
}

// List implements storage.Store.
func (s *Store) List(prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	for name := range s.objs {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Sync implements storage.Syncer. IndexedDB cannot flush one object, but a
// transaction with strict durability completes only once all outstanding
// changes are on disk (the IndexedDB spec's words), so Sync commits one: a
// rewrite of a marker row.
func (s *Store) Sync(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sync(name)
}

// sync is Sync. s.mu must be held.
func (s *Store) sync(name string) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("idbstore: sync: %w", err)
	}
	s.syncs++
	err := s.write(syncStore, idb.DurabilityStrict, func(st *idb.ObjectStore) error {
		_, err := st.PutKey(js.ValueOf("sync"), js.ValueOf(s.syncs))
		return err
	})
	if err != nil {
		return fmt.Errorf("idbstore: sync %q: %w", name, err)
	}
	return nil
}

// write runs fill in a readwrite transaction on the object store named
// store, and returns once the transaction has completed: committed, or
// failed with its error.
func (s *Store) write(store string, durability idb.TransactionDurability, fill func(*idb.ObjectStore) error) error {
	txn, err := s.db.TransactionWithOptions(idb.TransactionOptions{Mode: idb.TransactionReadWrite, Durability: durability}, store)
	if err != nil {
		return err
	}
	st, err := txn.ObjectStore(store)
	if err == nil {
		err = fill(st)
	}
	if err != nil {
		txn.Abort()
		return err
	}
	// Commit now rather than when the event loop finds no more requests.
	if err := txn.Commit(); err != nil {
		return err
	}
	return txn.Await(context.Background())
}

// rows calls f with the seq and the verified payload of each chunk of name,
// in order. The payload is only valid during the call. f runs inside an
// IndexedDB callback, so it must not block.
func (s *Store) rows(name string, f func(seq uint64, payload []byte)) error {
	txn, err := s.db.Transaction(idb.TransactionReadOnly, chunkStore)
	if err != nil {
		return err
	}
	st, err := txn.ObjectStore(chunkStore)
	if err != nil {
		return err
	}
	r, err := idb.NewKeyRangeBound(chunkKey(name, 0), chunkKey(name, math.Inf(1)), false, false)
	if err != nil {
		return err
	}
	req, err := st.OpenCursorRange(r, idb.CursorNext)
	if err != nil {
		return err
	}
	n := 0
	var scratch []byte
	err = req.Iter(context.Background(), func(c *idb.CursorWithValue) error {
		k, err := c.Key()
		if err != nil {
			return err
		}
		v, err := c.Value()
		if err != nil {
			return err
		}
		_, seq, err := parseKey(k)
		if err != nil {
			return err
		}
		if !v.InstanceOf(uint8Array) {
			return fmt.Errorf("%w: chunk %d of %q: stored value is a %s, not bytes", ErrCorrupt, seq, name, v.Type())
		}
		scratch = slices.Grow(scratch[:0], v.Length())[:v.Length()]
		js.CopyBytesToGo(scratch, v)
		payload, err := decodeChunk(name, seq, scratch)
		if err != nil {
			return err
		}
		f(seq, payload)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: object %q has no rows in the database", ErrCorrupt, name)
	}
	return nil
}

// chunk encodes data as row (name, seq) into a new Uint8Array.
func (s *Store) chunk(name string, seq uint64, data []byte) js.Value {
	s.buf = appendChunk(s.buf[:0], name, seq, data)
	v := uint8Array.New(len(s.buf))
	js.CopyBytesToJS(v, s.buf)
	return v
}

// checkCreate refuses a new object whose name is a directory of objects or
// has an object as a directory. s.mu must be held.
func (s *Store) checkCreate(name string) error {
	if s.dirs[name] > 0 {
		return fmt.Errorf("%w: objects exist below %q", storage.ErrConflict, name+"/")
	}
	for dir := range parents(name) {
		if _, ok := s.objs[dir]; ok {
			return fmt.Errorf("%w: %q is an object", storage.ErrConflict, dir)
		}
	}
	return nil
}

// create registers a new object whose next chunk is next. s.mu must be held.
func (s *Store) create(name string, next uint64) {
	s.objs[name] = next
	for dir := range parents(name) {
		s.dirs[dir]++
	}
}

// parents yields the directories of name: "a" and "a/b" for "a/b/c".
func parents(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(name); i++ {
			if name[i] == '/' && !yield(name[:i]) {
				return
			}
		}
	}
}

// chunkKey is the key of row (name, seq); seq may be +Inf as a range bound.
func chunkKey(name string, seq float64) js.Value {
	return js.ValueOf([]any{name, seq})
}

// rowsFrom is the key range of name's rows from seq on (after seq if open).
func rowsFrom(name string, seq uint64, open bool) js.Value {
	return keyRange.Call("bound", chunkKey(name, float64(seq)), chunkKey(name, math.Inf(1)), open, false)
}

// maxSeq bounds a seq so that it is exact as a JavaScript number.
const maxSeq = 1<<53 - 1

// parseKey checks that k is a key this store writes, [name, seq], and
// returns its parts; anything else wraps ErrCorrupt.
func parseKey(k js.Value) (string, uint64, error) {
	if !isArray.Invoke(k).Bool() || k.Length() != 2 || k.Index(0).Type() != js.TypeString || k.Index(1).Type() != js.TypeNumber {
		return "", 0, fmt.Errorf("%w: foreign key %s in the database", ErrCorrupt, js.Global().Get("JSON").Call("stringify", k).String())
	}
	name, f := k.Index(0).String(), k.Index(1).Float()
	if storage.ValidName(name) != nil || f < 0 || f > maxSeq || f != math.Trunc(f) {
		return "", 0, fmt.Errorf("%w: foreign key [%q, %v] in the database", ErrCorrupt, name, f)
	}
	return name, uint64(f), nil
}
