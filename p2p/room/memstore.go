package room

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemStore is a Store in memory, for the node and for tests.
type MemStore struct {
	mu      sync.Mutex
	rooms   map[string]*memRoom
	version uint64 // the last version given out, in any room: a room deleted and created again never repeats one
}

type memRoom struct {
	blob    []byte
	version uint64
	expires time.Time
	changed chan struct{} // closed and replaced on every change
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{rooms: map[string]*memRoom{}} }

func (m *MemStore) Get(ctx context.Context, code string) ([]byte, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[code]
	if r == nil {
		return nil, 0, ErrNoRoom
	}
	return slices.Clone(r.blob), r.version, nil
}

func (m *MemStore) Put(ctx context.Context, code string, blob []byte, version uint64, expires time.Time) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rooms[code]
	switch {
	case r == nil && version != 0:
		return 0, ErrNoRoom
	case r == nil:
		r = &memRoom{changed: make(chan struct{})}
		m.rooms[code] = r
	case r.version != version:
		return 0, ErrConflict
	default:
		close(r.changed)
		r.changed = make(chan struct{})
	}
	m.version++
	r.blob, r.version, r.expires = slices.Clone(blob), m.version, expires
	return r.version, nil
}

func (m *MemStore) Delete(ctx context.Context, code string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delete(code)
	return nil
}

func (m *MemStore) delete(code string) {
	if r := m.rooms[code]; r != nil {
		close(r.changed)
		delete(m.rooms, code)
	}
}

// Wait returns ErrNoRoom at once if the room is gone.
func (m *MemStore) Wait(ctx context.Context, code string, version uint64) error {
	m.mu.Lock()
	r := m.rooms[code]
	if r == nil {
		m.mu.Unlock()
		return ErrNoRoom
	}
	if r.version != version {
		m.mu.Unlock()
		return nil
	}
	ch := r.changed
	m.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *MemStore) Sweep(ctx context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for code, r := range m.rooms {
		if !r.expires.After(now) {
			m.delete(code)
		}
	}
	return len(m.rooms), nil
}
