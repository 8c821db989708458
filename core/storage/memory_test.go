package storage_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/storagetest"
)

func TestMemory(t *testing.T) {
	open := func(*testing.T) storage.Store { return storage.NewMemory() }
	storagetest.Run(t, open)
	// A memory store lives as long as its instance: reopening is keeping it.
	storagetest.RunPersistent(t, open, func(_ *testing.T, old storage.Store) storage.Store { return old })
}

// TestMemoryConcurrent is meant for -race: the store must guard its maps.
func TestMemoryConcurrent(t *testing.T) {
	s := storage.NewMemory()
	const workers, appends = 8, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("w/%d", w)
			for range appends {
				if err := s.Append("shared", []byte("x")); err != nil {
					t.Error(err)
				}
				if err := s.Append(own, []byte("y")); err != nil {
					t.Error(err)
				}
				if _, err := s.Read("shared"); err != nil {
					t.Error(err)
				}
				if _, err := s.List("w/"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b, err := s.Read("shared")
	if err != nil || len(b) != workers*appends {
		t.Fatalf("Read(shared) = %d bytes, %v; want %d", len(b), err, workers*appends)
	}
}

func TestValidNameMessage(t *testing.T) {
	for name, want := range map[string]string{
		"":       `storage: invalid object name: empty name`,
		"a//b":   `storage: invalid object name "a//b": empty segment`,
		"a/../b": `storage: invalid object name "a/../b": segment ".."`,
		"a/é":    `storage: invalid object name "a/é": character 'é' not in [A-Za-z0-9._-]`,
	} {
		if err := storage.ValidName(name); err == nil || err.Error() != want {
			t.Errorf("ValidName(%q) = %v; want %s", name, err, want)
		}
	}
}
