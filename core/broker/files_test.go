//go:build !js

package broker

import (
	"testing"

	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/storage/filestore"
)

func init() {
	dirs := map[storage.Store]string{}
	open := func(t *testing.T, dir string) storage.Store {
		s, err := filestore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[s] = dir
		return s
	}
	backends = append(backends, backend{
		name:   "files",
		open:   func(t *testing.T) storage.Store { return open(t, t.TempDir()) },
		reopen: func(t *testing.T, old storage.Store) storage.Store { return open(t, dirs[old]) },
	})
}
