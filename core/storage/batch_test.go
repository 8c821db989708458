package storage_test

import (
	"errors"
	"testing"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/storagetest"
)

// batcher is a memory store that is a Batcher: ApplyBatch does the writes
// one by one and records the batches it got.
type batcher struct {
	*storage.Memory
	batches [][]storage.Write
	syncs   []string
	// failAt, if >= 0, makes the write at that index of the store's whole
	// history of batched writes fail with errBatch, doing nothing.
	failAt, seen int
}

var errBatch = errors.New("batcher: injected failure")

func newBatcher() *batcher { return &batcher{Memory: storage.NewMemory(), failAt: -1} }

func (b *batcher) Sync(name string) error {
	b.syncs = append(b.syncs, name)
	return nil
}

func (b *batcher) ApplyBatch(writes []storage.Write) (int, error) {
	b.batches = append(b.batches, writes)
	for i, w := range writes {
		var err error
		if b.seen++; b.seen-1 == b.failAt {
			return i, errBatch
		}
		switch w.Op {
		case storage.OpAppend:
			err = b.Append(w.Name, w.Data)
		case storage.OpPut:
			err = b.Put(w.Name, w.Data)
		case storage.OpTruncate:
			err = b.Truncate(w.Name, w.Size)
		case storage.OpRemove:
			err = b.Remove(w.Name)
		default:
			panic("ApplyBatch got " + w.Op.String())
		}
		if err == nil && w.Sync {
			err = b.Sync(w.Name)
		}
		if err != nil {
			return i, err
		}
	}
	return len(writes), nil
}

var (
	_ storage.Batcher = (*batcher)(nil)
	_ storage.Syncer  = (*batcher)(nil)
)

// TestBatcherConformance: Apply through ApplyBatch passes the suite
// (testApply and testApplyStops among others).
func TestBatcherConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return newBatcher() })
}

// TestApplyBatch: a Batcher gets a Ready's writes in one call; a remove of
// a missing object and an unknown op split them as Apply's semantics ask,
// and every error reads as it does without a Batcher.
func TestApplyBatch(t *testing.T) {
	writes := []storage.Write{
		{Op: storage.OpAppend, Name: "log", Data: []byte("ab")},
		{Op: storage.OpAppend, Name: "log", Data: []byte("cd"), Sync: true},
		{Op: storage.OpPut, Name: "meta", Data: []byte("m")},
		{Op: storage.OpTruncate, Name: "log", Size: 3},
	}
	b := newBatcher()
	if err := storage.Apply(b, writes); err != nil {
		t.Fatal(err)
	}
	if len(b.batches) != 1 || len(b.batches[0]) != len(writes) {
		t.Errorf("batches %v; want the %d writes in one", b.batches, len(writes))
	}
	if len(b.syncs) != 1 || b.syncs[0] != "log" {
		t.Errorf("syncs %v; want [log]", b.syncs)
	}
	if got, _ := b.Read("log"); string(got) != "abc" {
		t.Errorf("log = %q", got)
	}

	// A remove of a missing object is tolerated: the rest is applied.
	b = newBatcher()
	err := storage.Apply(b, []storage.Write{
		{Op: storage.OpAppend, Name: "a", Data: []byte("1")},
		{Op: storage.OpRemove, Name: "missing"},
		{Op: storage.OpAppend, Name: "a", Data: []byte("2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Read("a"); string(got) != "12" || len(b.batches) != 2 {
		t.Errorf("a = %q after %d batches; want 12 after 2", got, len(b.batches))
	}
	if err := storage.Apply(b, nil); err != nil || len(b.batches) != 2 {
		t.Errorf("Apply(nil) = %v after %d batches; want no call", err, len(b.batches))
	}

	// Errors: the same text with a Batcher and without, the same writes
	// done, none after the failed one.
	for _, tc := range []struct {
		name string
		bad  storage.Write
	}{
		{"truncate missing", storage.Write{Op: storage.OpTruncate, Name: "missing"}},
		{"invalid name", storage.Write{Op: storage.OpPut, Name: "../x", Data: []byte("x")}},
		{"conflict", storage.Write{Op: storage.OpAppend, Name: "s/x", Data: []byte("x")}},
		{"unknown op", storage.Write{Op: 99, Name: "u"}},
		{"zero op", storage.Write{Name: "z"}},
	} {
		writes := []storage.Write{
			{Op: storage.OpAppend, Name: "s", Data: []byte("1")},
			tc.bad,
			{Op: storage.OpAppend, Name: "s", Data: []byte("2")},
		}
		plain, batched := storage.NewMemory(), newBatcher()
		want := storage.Apply(plain, writes)
		got := storage.Apply(batched, writes)
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("%s: Apply with a Batcher = %v; without = %v", tc.name, got, want)
		}
		if errors.Is(want, storage.ErrNotFound) != errors.Is(got, storage.ErrNotFound) ||
			errors.Is(want, storage.ErrInvalidName) != errors.Is(got, storage.ErrInvalidName) ||
			errors.Is(want, storage.ErrConflict) != errors.Is(got, storage.ErrConflict) {
			t.Errorf("%s: %v and %v wrap different errors", tc.name, got, want)
		}
		if s, _ := batched.Read("s"); string(s) != "1" {
			t.Errorf("%s: s = %q; want 1", tc.name, s)
		}
	}

	// A failure of the store itself is wrapped with the write it hit.
	b = newBatcher()
	b.failAt = 1
	err = storage.Apply(b, []storage.Write{
		{Op: storage.OpAppend, Name: "a", Data: []byte("1")},
		{Op: storage.OpPut, Name: "b", Data: []byte("2")},
		{Op: storage.OpAppend, Name: "a", Data: []byte("3")},
	})
	if !errors.Is(err, errBatch) || err.Error() != `storage: put "b": `+errBatch.Error() {
		t.Errorf("Apply = %v; want the put of b failed with %v", err, errBatch)
	}
}
