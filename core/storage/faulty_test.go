package storage_test

import (
	"errors"
	"testing"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/storagetest"
)

// An unarmed Faulty store is a plain pass-through.
func TestFaultyConformance(t *testing.T) {
	storagetest.Run(t, func(*testing.T) storage.Store { return storage.NewFaulty(storage.NewMemory()) })
}

func TestFaultyFailNth(t *testing.T) {
	mem := storage.NewMemory()
	f := storage.NewFaulty(mem)
	f.FailNth(3)
	if err := f.Append("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := f.Put("b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if f.Fired() {
		t.Fatal("Fired before the third write")
	}
	err := f.Append("a", []byte("lost"))
	if !errors.Is(err, storage.ErrInjected) {
		t.Fatalf("third write: %v; want ErrInjected", err)
	}
	if want := `faulty: append "a": storage: injected fault`; err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
	if !f.Fired() {
		t.Error("Fired = false after the fault")
	}
	wantRead(t, mem, "a", "1")
	// One-shot: the next write goes through.
	if err := f.Append("a", []byte("2")); err != nil {
		t.Fatal(err)
	}
	wantRead(t, mem, "a", "12")
	if got := f.Writes(); got != 4 {
		t.Errorf("Writes = %d; want 4", got)
	}
}

func TestFaultyEveryOp(t *testing.T) {
	for _, op := range []storage.Op{storage.OpAppend, storage.OpPut, storage.OpTruncate, storage.OpRemove} {
		mem := storage.NewMemory()
		if err := mem.Put("x", []byte("data")); err != nil {
			t.Fatal(err)
		}
		f := storage.NewFaulty(mem)
		f.FailNth(1)
		err := storage.Apply(f, []storage.Write{{Op: op, Name: "x", Data: []byte("new"), Size: 1}})
		if !errors.Is(err, storage.ErrInjected) {
			t.Errorf("%v: %v; want ErrInjected", op, err)
		}
		wantRead(t, mem, "x", "data")
	}
}

func TestFaultyTorn(t *testing.T) {
	mem := storage.NewMemory()
	f := storage.NewFaulty(mem)
	f.TearNth(2, 3)
	err := storage.Apply(f, []storage.Write{
		{Op: storage.OpAppend, Name: "log", Data: []byte("batch1;")},
		{Op: storage.OpAppend, Name: "log", Data: []byte("batch2;")},
		{Op: storage.OpAppend, Name: "log", Data: []byte("batch3;")},
	})
	if !errors.Is(err, storage.ErrInjected) {
		t.Fatalf("Apply: %v; want ErrInjected", err)
	}
	wantRead(t, mem, "log", "batch1;bat")

	// Keep beyond the data: the write lands whole but is reported failed.
	f.TearNth(1, 100)
	if err := f.Append("log", []byte("X")); !errors.Is(err, storage.ErrInjected) {
		t.Fatalf("Append: %v; want ErrInjected", err)
	}
	wantRead(t, mem, "log", "batch1;batX")

	// Keep does not apply to atomic operations.
	f.TearNth(1, 2)
	if err := f.Put("log", []byte("replaced")); !errors.Is(err, storage.ErrInjected) {
		t.Fatalf("Put: %v; want ErrInjected", err)
	}
	wantRead(t, mem, "log", "batch1;batX")
}

func TestFaultySticky(t *testing.T) {
	mem := storage.NewMemory()
	f := storage.NewFaulty(mem)
	disk := errors.New("disk gone")
	f.Inject(storage.Fault{N: 1, Sticky: true, Err: disk})
	for i := range 3 {
		err := f.Append("a", []byte("x"))
		if !errors.Is(err, storage.ErrInjected) || !errors.Is(err, disk) {
			t.Fatalf("write %d: %v; want ErrInjected and the custom error", i, err)
		}
	}
	if _, err := f.Read("a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Read: %v; want ErrNotFound (reads pass through)", err)
	}
	f.Reset()
	if err := f.Append("a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	wantRead(t, mem, "a", "x")
}

// TestFaultyCrashLoop shows the intended use: crash at every write of a run
// and check what the inner store holds afterwards.
func TestFaultyCrashLoop(t *testing.T) {
	run := func(s storage.Store) error {
		for _, w := range [][]storage.Write{
			{{Op: storage.OpAppend, Name: "log", Data: []byte("aaaa")}, {Op: storage.OpPut, Name: "hw", Data: []byte("4")}},
			{{Op: storage.OpAppend, Name: "log", Data: []byte("bbbb")}, {Op: storage.OpPut, Name: "hw", Data: []byte("8")}},
		} {
			if err := storage.Apply(s, w); err != nil {
				return err
			}
		}
		return nil
	}
	clean := storage.NewFaulty(storage.NewMemory())
	if err := run(clean); err != nil {
		t.Fatal(err)
	}
	n := clean.Writes()
	if n != 4 {
		t.Fatalf("clean run made %d writes; want 4", n)
	}
	for i := 1; i <= n; i++ {
		mem := storage.NewMemory()
		f := storage.NewFaulty(mem)
		f.Inject(storage.Fault{N: i, Keep: 2, Sticky: true})
		if err := run(f); !errors.Is(err, storage.ErrInjected) {
			t.Fatalf("crash at write %d: run = %v; want ErrInjected", i, err)
		}
		// The invariant a recovery relies on: the high watermark never
		// points past the log's end.
		log, _ := mem.Read("log")
		hw, err := mem.Read("hw")
		if err == nil && int(hw[0]-'0') > len(log) {
			t.Errorf("crash at write %d: hw %s beyond log of %d bytes", i, hw, len(log))
		}
	}
}

func wantRead(t *testing.T, s storage.Store, name, want string) {
	t.Helper()
	got, err := s.Read(name)
	if err != nil || string(got) != want {
		t.Errorf("Read(%q) = %q, %v; want %q", name, got, err, want)
	}
}
