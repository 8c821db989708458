//go:build js && wasm

// These tests need a browser's IndexedDB: `make test-browser` runs them in
// headless Chromium.
package idbstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, open)
	storagetest.RunPersistent(t, open, reopen)
}

// open returns a store on a new database, deleted when the test ends.
func open(t *testing.T) storage.Store {
	return mustOpen(t, newDatabase(t))
}

// reopen closes old, as a tab reload would, and opens its database again.
func reopen(t *testing.T, old storage.Store) storage.Store {
	s := old.(*Store)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return mustOpen(t, s.Database())
}

var databases int

// newDatabase returns a database name not used before in this run, and
// deletes that database when the test ends.
func newDatabase(t testing.TB) string {
	databases++
	name := fmt.Sprintf("idbstore-test-%d", databases)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := idb.Global().DeleteDatabase(name)
		if err == nil {
			err = req.Await(ctx)
		}
		if err != nil {
			t.Errorf("delete database %s: %v", name, err)
		}
	})
	return name
}

// mustOpen opens a store, closed when the test ends (cleanups run in reverse:
// before the database is deleted).
func mustOpen(t testing.TB, database string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens database with the plain IndexedDB API, as another piece of code
// in the page could, closed when the test ends.
func rawDB(t testing.TB, database string) *idb.Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := idb.Global().Open(ctx, database, 0, func(*idb.Database, uint, uint) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawUpdate replaces the value stored under key in store with change(old).
func rawUpdate(t *testing.T, db *idb.Database, store string, key js.Value, change func(old js.Value) js.Value) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	txn, err := db.Transaction(idb.TransactionReadWrite, store)
	if err != nil {
		t.Fatal(err)
	}
	st, err := txn.ObjectStore(store)
	if err != nil {
		t.Fatal(err)
	}
	req, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	old, err := req.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutKey(key, change(old)); err != nil {
		t.Fatal(err)
	}
	if err := txn.Await(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantCorrupt(t *testing.T, what string, err error, says string) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), says) {
		t.Errorf("%s: error %v; want one wrapping ErrCorrupt that says %q", what, err, says)
	} else {
		t.Logf("%s: %v", what, err)
	}
}

// TestCorruption changes stored rows behind the store's back: every read of
// the object must report it, none may panic or return the bad bytes.
func TestCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(old js.Value) js.Value
		says   string
	}{
		{"flipped payload byte", func(old js.Value) js.Value {
			c := uint8Array.New(old) // a copy: the stored value is not live
			c.SetIndex(headerLen+2, c.Index(headerLen+2).Int()^0x01)
			return c
		}, "CRC-32C"},
		{"flipped length byte", func(old js.Value) js.Value {
			c := uint8Array.New(old)
			c.SetIndex(8, c.Index(8).Int()^0x01)
			return c
		}, "payload bytes"},
		{"cut short", func(old js.Value) js.Value { return old.Call("slice", 0, 4) }, "header"},
		{"not bytes", func(js.Value) js.Value { return js.ValueOf("a string") }, "not bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			database := newDatabase(t)
			s := mustOpen(t, database)
			if err := s.Append("log/0", []byte("first batch")); err != nil {
				t.Fatal(err)
			}
			if err := s.Append("log/0", []byte("second batch")); err != nil {
				t.Fatal(err)
			}
			if err := s.Put("other", []byte("intact")); err != nil {
				t.Fatal(err)
			}
			rawUpdate(t, rawDB(t, database), chunkStore, chunkKey("log/0", 1), tc.change)

			// Read reports the damage (storage.ErrCorrupt) with the bytes
			// before it, which passed their checks: what recovery keeps.
			got, err := s.Read("log/0")
			wantCorrupt(t, "read", err, tc.says)
			if !errors.Is(err, storage.ErrCorrupt) || string(got) != "first batch" {
				t.Errorf("Read = %q, %v; want the verified prefix and storage.ErrCorrupt", got, err)
			}
			// A cut beyond the verified bytes cannot be made.
			wantCorrupt(t, "truncate past the damage", s.Truncate("log/0", 20), tc.says)
			s.Close()
			s = mustOpen(t, database)
			_, err = s.Read("log/0")
			wantCorrupt(t, "read after reopen", err, tc.says)
			if b, err := s.Read("other"); err != nil || string(b) != "intact" {
				t.Errorf("Read(other) = %q, %v; want the intact object", b, err)
			}
			// Recovery's cut where the damage starts drops it.
			if err := s.Truncate("log/0", int64(len("first batch"))); err != nil {
				t.Fatalf("truncate at the damage: %v", err)
			}
			if b, err := s.Read("log/0"); err != nil || string(b) != "first batch" {
				t.Errorf("after the cut, Read = %q, %v; want the verified prefix", b, err)
			}
			if err := s.Append("log/0", []byte(" again")); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Read("log/0"); err != nil || string(b) != "first batch again" {
				t.Errorf("after an append, Read = %q, %v", b, err)
			}
			// The store can still drop the object.
			if err := s.Remove("log/0"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSwappedRows moves a valid chunk to another row: its checksum covers
// its key, so it is corruption there.
func TestSwappedRows(t *testing.T) {
	database := newDatabase(t)
	s := mustOpen(t, database)
	for _, b := range []string{"aaaa", "bbbb"} {
		if err := s.Append("log/0", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	raw := rawDB(t, database)
	var first js.Value
	rawUpdate(t, raw, chunkStore, chunkKey("log/0", 0), func(old js.Value) js.Value { first = old; return old })
	rawUpdate(t, raw, chunkStore, chunkKey("log/0", 1), func(js.Value) js.Value { return first })
	_, err := s.Read("log/0")
	wantCorrupt(t, "read", err, "CRC-32C")
}

// TestForeignKeys: rows this store does not write make Open fail, not panic.
func TestForeignKeys(t *testing.T) {
	for _, key := range []js.Value{
		js.ValueOf("a string key"),
		js.ValueOf(7),
		js.ValueOf([]any{"log/0"}),
		js.ValueOf([]any{"log/0", -1}),
		js.ValueOf([]any{"log/0", 1.5}),
		js.ValueOf([]any{"../x", 0}),
		js.ValueOf([]any{7, 0}),
		js.ValueOf([]any{"log/0", 0, 0}),
	} {
		t.Run(js.Global().Get("JSON").Call("stringify", key).String(), func(t *testing.T) {
			database := newDatabase(t)
			mustOpen(t, database).Close()
			rawUpdate(t, rawDB(t, database), chunkStore, key, func(js.Value) js.Value { return uint8Array.New(0) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Open(ctx, database)
			if err == nil {
				s.Close()
			}
			wantCorrupt(t, "open", err, "foreign key")
		})
	}
}

// TestStoredConflict: rows for both "a" and "a/b" cannot come from a store.
func TestStoredConflict(t *testing.T) {
	database := newDatabase(t)
	s := mustOpen(t, database)
	if err := s.Append("a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawUpdate(t, rawDB(t, database), chunkStore, chunkKey("a/b", 0), func(js.Value) js.Value {
		return uint8Array.New(0)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, database)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, storage.ErrConflict) {
		t.Errorf("open: %v; want ErrCorrupt and ErrConflict", err)
	}
}

func TestSync(t *testing.T) {
	s := mustOpen(t, newDatabase(t))
	err := storage.Apply(s, []storage.Write{
		{Op: storage.OpAppend, Name: "raft/log", Data: []byte("entry"), Sync: true},
		{Op: storage.OpTruncate, Name: "raft/log", Size: 2, Sync: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sync("missing"); err != nil {
		t.Errorf("sync of a missing object: %v", err)
	}
	if err := s.Sync("../x"); !errors.Is(err, storage.ErrInvalidName) {
		t.Errorf("sync of an invalid name: %v; want ErrInvalidName", err)
	}
	if b, err := s.Read("raft/log"); err != nil || string(b) != "en" {
		t.Errorf("Read = %q, %v", b, err)
	}
}

// TestChunkRows: appends add rows and never rewrite old ones; a truncation
// rewrites only the chunk it cuts.
func TestChunkRows(t *testing.T) {
	database := newDatabase(t)
	s := mustOpen(t, database)
	for _, b := range []string{"aa", "bb", "cc"} {
		if err := s.Append("o", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	if got := rowKeys(t, rawDB(t, database)); got != `[["o",0],["o",1],["o",2]]` {
		t.Errorf("rows after 3 appends: %s", got)
	}
	if err := s.Truncate("o", 3); err != nil {
		t.Fatal(err)
	}
	if got := rowKeys(t, rawDB(t, database)); got != `[["o",0],["o",1]]` {
		t.Errorf("rows after truncate to 3: %s", got)
	}
	if err := s.Truncate("o", 2); err != nil { // on a chunk boundary
		t.Fatal(err)
	}
	if err := s.Append("o", []byte("dd")); err != nil {
		t.Fatal(err)
	}
	// Seqs are not reused after a truncation.
	if got := rowKeys(t, rawDB(t, database)); got != `[["o",0],["o",3]]` {
		t.Errorf("rows after truncate to 2 and append: %s", got)
	}
	if b, err := s.Read("o"); err != nil || string(b) != "aadd" {
		t.Errorf("Read = %q, %v", b, err)
	}
}

func rowKeys(t *testing.T, db *idb.Database) string {
	t.Helper()
	txn, err := db.Transaction(idb.TransactionReadOnly, chunkStore)
	if err != nil {
		t.Fatal(err)
	}
	st, err := txn.ObjectStore(chunkStore)
	if err != nil {
		t.Fatal(err)
	}
	req, err := st.GetAllKeys()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := req.Await(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := make([]any, len(keys))
	for i, k := range keys {
		all[i] = k
	}
	return js.Global().Get("JSON").Call("stringify", js.ValueOf(all)).String()
}
