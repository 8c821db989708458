package storage

import (
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
)

// Memory is a Store that keeps objects in memory: the backend of tests,
// simulations and the single-tab mode. It is safe for concurrent use and copies
// data in and out, so callers may reuse their buffers.
type Memory struct {
	mu   sync.Mutex
	objs map[string]object
	// dirs counts the objects below each directory ("a" and "a/b" for
	// "a/b/c"), so that name conflicts are found in O(depth).
	dirs map[string]int
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{objs: make(map[string]object), dirs: make(map[string]int)}
}

// object is an object's content in chunks: an Append fills the last chunk's
// spare room, then starts a new one, twice as large up to maxChunk, so a
// byte is copied once (reads are rare: only recovery reads) and a log of
// many small batches is a few objects for the garbage collector to mark,
// not one per batch (in a browser tab it marks on the page's only thread).
type object [][]byte

const minChunk, maxChunk = 1 << 10, 64 << 10

// appendData adds data at the end of o.
func (o object) appendData(data []byte) object {
	if n := len(o); n > 0 {
		last := o[n-1]
		room := min(cap(last)-len(last), len(data))
		o[n-1] = append(last, data[:room]...)
		data = data[room:]
	}
	if len(data) == 0 {
		return o
	}
	size := minChunk
	if n := len(o); n > 0 {
		size = min(2*cap(o[n-1]), maxChunk)
	}
	c := make([]byte, len(data), max(size, len(data)))
	copy(c, data)
	return append(o, c)
}

func (o object) size() int {
	n := 0
	for _, c := range o {
		n += len(c)
	}
	return n
}

func (o object) bytes() []byte {
	b := make([]byte, 0, o.size())
	for _, c := range o {
		b = append(b, c...)
	}
	return b
}

// Append implements Store.
func (m *Memory) Append(name string, data []byte) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("memory: append: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.objs[name]
	if !ok {
		if err := m.create(name); err != nil {
			return fmt.Errorf("memory: append %q: %w", name, err)
		}
		old = object{} // an empty Append still creates the object
	}
	old = old.appendData(data)
	m.objs[name] = old
	return nil
}

// Put implements Store.
func (m *Memory) Put(name string, data []byte) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("memory: put: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; !ok {
		if err := m.create(name); err != nil {
			return fmt.Errorf("memory: put %q: %w", name, err)
		}
	}
	m.objs[name] = object{slices.Clone(data)}
	return nil
}

// Read implements Store.
func (m *Memory) Read(name string) ([]byte, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("memory: read: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return nil, fmt.Errorf("memory: read %q: %w", name, ErrNotFound)
	}
	return o.bytes(), nil
}

// Truncate implements Store.
func (m *Memory) Truncate(name string, size int64) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("memory: truncate: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[name]
	if !ok {
		return fmt.Errorf("memory: truncate %q: %w", name, ErrNotFound)
	}
	if size < 0 || size > int64(o.size()) {
		return fmt.Errorf("memory: truncate %q to %d bytes: size must be between 0 and %d", name, size, o.size())
	}
	m.objs[name] = object{o.bytes()[:size:size]}
	return nil
}

// Remove implements Store.
func (m *Memory) Remove(name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("memory: remove: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[name]; !ok {
		return fmt.Errorf("memory: remove %q: %w", name, ErrNotFound)
	}
	delete(m.objs, name)
	for dir := range parents(name) {
		if m.dirs[dir]--; m.dirs[dir] == 0 {
			delete(m.dirs, dir)
		}
	}
	return nil
}

// List implements Store.
func (m *Memory) List(prefix string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := []string{}
	for name := range m.objs {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// create registers a new object name, refusing the conflicts a file system
// would refuse. m.mu must be held and name must not exist yet.
func (m *Memory) create(name string) error {
	if m.dirs[name] > 0 {
		return fmt.Errorf("%w: objects exist below %q", ErrConflict, name+"/")
	}
	for dir := range parents(name) {
		if _, ok := m.objs[dir]; ok {
			return fmt.Errorf("%w: %q is an object", ErrConflict, dir)
		}
	}
	for dir := range parents(name) {
		m.dirs[dir]++
	}
	return nil
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
