package broker

import (
	"testing"

	"github.com/streamlab/streamlab/core/storage"
)

// backend opens a store for a test and reopens it as a restarted process
// would (the memory store survives only as the same instance).
type backend struct {
	name   string
	open   func(t *testing.T) storage.Store
	reopen func(t *testing.T, old storage.Store) storage.Store
}

// backends lists every store the broker runs on; files_test.go adds the file
// store where there is a disk. The same test bodies run against each, as
// nats-server runs one body against every store.
var backends = []backend{{
	name:   "memory",
	open:   func(*testing.T) storage.Store { return storage.NewMemory() },
	reopen: func(_ *testing.T, old storage.Store) storage.Store { return old },
}}

func forEachBackend(t *testing.T, body func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { body(t, b) })
	}
}
