//go:build js && wasm

package idbstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall/js"
	"testing"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/streamlab/streamlab/core/storage"
)

// batchWrites is a Ready's worth of every kind of write, a truncation in
// the middle.
var batchWrites = []storage.Write{
	{Op: storage.OpAppend, Name: "topic-0/0.log", Data: []byte("batch-1")},
	{Op: storage.OpAppend, Name: "topic-0/0.log", Data: []byte("batch-2")},
	{Op: storage.OpAppend, Name: "raft/log", Data: []byte("entry-1"), Sync: true},
	{Op: storage.OpPut, Name: "raft/hardstate", Data: []byte("term=1")},
	{Op: storage.OpAppend, Name: "empty"},
	{Op: storage.OpAppend, Name: "gone", Data: []byte("x")},
	{Op: storage.OpRemove, Name: "gone"},
	{Op: storage.OpRemove, Name: "never-existed"},
	{Op: storage.OpTruncate, Name: "topic-0/0.log", Size: 10, Sync: true},
	{Op: storage.OpAppend, Name: "topic-0/0.log", Data: []byte("batch-3")},
	{Op: storage.OpPut, Name: "raft/hardstate", Data: []byte("term=2")},
	{Op: storage.OpAppend, Name: "gone", Data: []byte("again")},
}

// TestApplyBatchSameRows: Apply through ApplyBatch leaves the very rows
// (keys and bytes) that the writes one by one leave, and they read back
// after a reopen.
func TestApplyBatchSameRows(t *testing.T) {
	one, batched := newDatabase(t), newDatabase(t)
	s1, s2 := mustOpen(t, one), mustOpen(t, batched)
	for _, w := range batchWrites {
		var err error
		switch w.Op {
		case storage.OpAppend:
			err = s1.Append(w.Name, w.Data)
		case storage.OpPut:
			err = s1.Put(w.Name, w.Data)
		case storage.OpTruncate:
			err = s1.Truncate(w.Name, w.Size)
		case storage.OpRemove:
			if err = s1.Remove(w.Name); errors.Is(err, storage.ErrNotFound) {
				err = nil
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := storage.Apply(s2, batchWrites); err != nil {
		t.Fatal(err)
	}
	if a, b := rowDump(t, rawDB(t, one)), rowDump(t, rawDB(t, batched)); a != b {
		t.Errorf("rows written one by one:\n%s\nrows written in batches:\n%s", a, b)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s2 = mustOpen(t, batched)
	for name, want := range map[string]string{"topic-0/0.log": "batch-1batbatch-3", "raft/log": "entry-1", "raft/hardstate": "term=2", "empty": "", "gone": "again"} {
		if got, err := s2.Read(name); err != nil || string(got) != want {
			t.Errorf("after reopening, %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if names, _ := s2.List(""); !slices.Equal(names, []string{"empty", "gone", "raft/hardstate", "raft/log", "topic-0/0.log"}) {
		t.Errorf("after reopening: %v", names)
	}
}

// TestApplyBatchRefused: a write the store refuses stops the batch; the
// writes before it are done, none after it.
func TestApplyBatchRefused(t *testing.T) {
	s := mustOpen(t, newDatabase(t))
	done, err := s.ApplyBatch([]storage.Write{
		{Op: storage.OpAppend, Name: "a", Data: []byte("1")},
		{Op: storage.OpPut, Name: "a/b", Data: []byte("x")}, // a is an object
		{Op: storage.OpAppend, Name: "a", Data: []byte("2")},
	})
	if done != 1 || !errors.Is(err, storage.ErrConflict) {
		t.Errorf("ApplyBatch = %d, %v; want 1 done, a conflict", done, err)
	}
	if got, err := s.Read("a"); err != nil || string(got) != "1" {
		t.Errorf("a = %q, %v; want 1", got, err)
	}
}

// TestApplyBatchFailed: when IndexedDB fails the transaction nothing of it
// is done, and the store's names are as before.
func TestApplyBatchFailed(t *testing.T) {
	s := mustOpen(t, newDatabase(t))
	if err := s.Append("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	s.db.Close() // every transaction now fails
	done, err := s.ApplyBatch([]storage.Write{
		{Op: storage.OpAppend, Name: "b/c", Data: []byte("x")},
		{Op: storage.OpRemove, Name: "a"},
		{Op: storage.OpPut, Name: "b/d", Data: []byte("y")},
	})
	if done != 0 || err == nil {
		t.Fatalf("ApplyBatch on a closed database = %d, %v; want 0 done and an error", done, err)
	}
	if names, _ := s.List(""); !slices.Equal(names, []string{"a"}) {
		t.Errorf("names after the failed batch: %v; want [a]", names)
	}
	if len(s.dirs) != 0 || s.objs["a"] != 1 {
		t.Errorf("after the failed batch: objs %v, dirs %v", s.objs, s.dirs)
	}
}

// rowDump is every row of the chunk store: key and bytes, in key order.
func rowDump(t *testing.T, db *idb.Database) string {
	t.Helper()
	txn, err := db.Transaction(idb.TransactionReadOnly, chunkStore)
	if err != nil {
		t.Fatal(err)
	}
	st, err := txn.ObjectStore(chunkStore)
	if err != nil {
		t.Fatal(err)
	}
	req, err := st.OpenCursor(idb.CursorNext)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	err = req.Iter(context.Background(), func(c *idb.CursorWithValue) error {
		k, err := c.Key()
		if err != nil {
			return err
		}
		v, err := c.Value()
		if err != nil {
			return err
		}
		b := make([]byte, v.Length())
		js.CopyBytesToGo(b, v)
		out = fmt.Appendf(out, "%s %x\n", js.Global().Get("JSON").Call("stringify", k).String(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
