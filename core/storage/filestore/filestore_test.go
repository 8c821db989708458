//go:build !js

package filestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/filestore"
	"github.com/streamlab/streamlab/core/storage/storagetest"
)

func open(t *testing.T) storage.Store {
	s, err := filestore.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reopen(t *testing.T, old storage.Store) storage.Store {
	s, err := filestore.Open(old.(*filestore.Store).Dir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFilestore(t *testing.T) {
	storagetest.Run(t, open)
	storagetest.RunPersistent(t, open, reopen)
}

func TestLayout(t *testing.T) {
	s := open(t).(*filestore.Store)
	if err := s.Append("topic-0/00000000000000000000.log", []byte("rec")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(), "topic-0", "00000000000000000000.log"))
	if err != nil || string(b) != "rec" {
		t.Fatalf("file content %q, %v; want %q", b, err, "rec")
	}
	// Removing the last object of a directory removes the directory.
	if err := s.Remove("topic-0/00000000000000000000.log"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "topic-0")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory topic-0 still there after its last object was removed: %v", err)
	}
	if _, err := os.Stat(s.Dir()); err != nil {
		t.Errorf("store directory removed: %v", err)
	}
}

func TestForeignAndTempFiles(t *testing.T) {
	s := open(t).(*filestore.Store)
	if err := s.Put("d/obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Dir(), "d", "obj.~tmp12345")
	foreign := filepath.Join(s.Dir(), "d", "not a name")
	for _, p := range []string{tmp, foreign} {
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.List("")
	if err != nil || !slices.Equal(names, []string{"d/obj"}) {
		t.Fatalf("List = %q, %v; want only d/obj", names, err)
	}
	// Reopening cleans up the temp file of an interrupted Put, and only that.
	s2, err := filestore.Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file survived Open: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("foreign file removed by Open: %v", err)
	}
	if b, err := s2.Read("d/obj"); err != nil || string(b) != "x" {
		t.Errorf("Read(d/obj) = %q, %v", b, err)
	}
}

func TestOpenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.Open(p); err == nil {
		t.Error("Open of a regular file succeeded")
	}
}

func TestPutLeavesNoTemp(t *testing.T) {
	s := open(t).(*filestore.Store)
	for range 3 {
		if err := s.Put("p", []byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "p" {
		var got []string
		for _, e := range entries {
			got = append(got, e.Name())
		}
		t.Errorf("directory holds %q; want only p", got)
	}
}

func TestSync(t *testing.T) {
	s, err := filestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := storage.Apply(s, []storage.Write{{Op: storage.OpAppend, Name: "a/b", Data: []byte("x"), Sync: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // no open handle: Sync opens the file
		t.Fatal(err)
	}
	if err := s.Sync("a/b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync("missing"); err != nil {
		t.Fatalf("sync of a missing object: %v", err)
	}
	if err := s.Sync("../x"); err == nil {
		t.Fatal("sync of an invalid name succeeded")
	}
}
