//go:build !js

// Package filestore is the storage.Store of the native node: one file per
// object under a directory, object "a/b" being file "<dir>/a/b".
//
// Appends are not fsynced, as in Kafka: a crash may lose or tear the tail of an
// object, and recovery (which checksums what it reads) cuts it back. Put is
// atomic and durable: temp file, fsync, rename, fsync of the directory.
//
// On case-insensitive file systems (macOS, Windows) names that differ only in
// case name the same file; the core should not rely on case alone.
//
// One Store should own a directory: Open removes leftover temp files, which
// would break a Put running in another Store on the same directory.
package filestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/streamlab/streamlab/core/storage"
)

// tempMark is part of every temp file name. '~' is not a name character, so a
// temp file can never be taken for an object.
const tempMark = ".~tmp"

// Store keeps objects as files under one directory. It is safe for concurrent
// use.
type Store struct {
	// mu serializes operations: Remove prunes empty directories, which would
	// race with an Append or Put creating a file in one of them.
	mu  sync.Mutex
	dir string
	// appenders keeps a few files open for Append: a partition appends to
	// its active segment again and again, and opening it each time costs
	// more syscalls than the write. Put, Truncate and Remove drop a handle
	// first (a handle would outlive a rename or an unlink).
	appenders map[string]*os.File
}

// maxAppenders bounds the open append handles per store.
const maxAppenders = 16

// Close closes the open append handles; the store stays usable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for name := range s.appenders {
		if err := s.dropAppender(name); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Store) dropAppender(name string) error {
	f, ok := s.appenders[name]
	if !ok {
		return nil
	}
	delete(s.appenders, name)
	return f.Close()
}

var _ storage.Store = (*Store)(nil)

// Open returns the store kept under dir, creating dir if needed and removing
// temp files left by an interrupted Put.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: open %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("filestore: open %q: %w", dir, err)
	}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.Contains(d.Name(), tempMark) {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("filestore: open %q: removing temp files: %w", dir, err)
	}
	return &Store{dir: abs}, nil
}

// Dir is the absolute directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(name string) string {
	return filepath.Join(s.dir, filepath.FromSlash(name))
}

// Sync implements storage.Syncer: it fsyncs the object's file, if it exists.
func (s *Store) Sync(name string) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("filestore: sync: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.appenders[name]; f != nil {
		return f.Sync()
	}
	f, err := os.Open(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: sync %q: %w", name, err)
	}
	defer f.Close()
	return f.Sync()
}

// Append implements storage.Store. It does not fsync (see Sync).
func (s *Store) Append(name string, data []byte) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("filestore: append: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.appenders[name]
	if f == nil {
		p := s.path(name)
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		}
		if err != nil {
			return fmt.Errorf("filestore: append %q: %w", name, s.createErr(name, err))
		}
		if len(s.appenders) >= maxAppenders {
			for old := range s.appenders { // any one: they are cheap to reopen
				s.dropAppender(old)
				break
			}
		}
		if s.appenders == nil {
			s.appenders = map[string]*os.File{}
		}
		s.appenders[name] = f
	}
	if _, err := f.Write(data); err != nil {
		s.dropAppender(name)
		return fmt.Errorf("filestore: append %q: %w", name, err)
	}
	return nil
}

// Put implements storage.Store: the data goes to a temp file in the same
// directory, which is fsynced and renamed over the object, then the directory
// is fsynced so that the rename survives a crash.
func (s *Store) Put(name string, data []byte) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("filestore: put: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAppender(name)
	if err := s.put(name, data); err != nil {
		return fmt.Errorf("filestore: put %q: %w", name, err)
	}
	return nil
}

func (s *Store) put(name string, data []byte) error {
	p := s.path(name)
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s.createErr(name, err)
	}
	// The temp name does not repeat the object name: that may already use
	// all 255 bytes a file name can have.
	f, err := os.CreateTemp(dir, tempMark+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = os.Rename(tmp, p); err != nil {
			err = s.createErr(name, err)
		}
	}
	if err != nil {
		os.Remove(tmp) // best effort; Open removes it otherwise
		return err
	}
	return syncDir(dir)
}

// Read implements storage.Store.
func (s *Store) Read(name string) ([]byte, error) {
	if err := storage.ValidName(name); err != nil {
		return nil, fmt.Errorf("filestore: read: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return nil, fmt.Errorf("filestore: read %q: %w", name, s.lookupErr(name, err))
	}
	return b, nil
}

// Truncate implements storage.Store. It does not fsync.
func (s *Store) Truncate(name string, size int64) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("filestore: truncate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAppender(name)
	p := s.path(name)
	fi, err := s.stat(name)
	if err != nil {
		return fmt.Errorf("filestore: truncate %q: %w", name, err)
	}
	if size < 0 || size > fi.Size() {
		return fmt.Errorf("filestore: truncate %q to %d bytes: size must be between 0 and %d", name, size, fi.Size())
	}
	if err := os.Truncate(p, size); err != nil {
		return fmt.Errorf("filestore: truncate %q: %w", name, err)
	}
	return nil
}

// Remove implements storage.Store. Directories left empty are removed too, so
// that their names can become objects again.
func (s *Store) Remove(name string) error {
	if err := storage.ValidName(name); err != nil {
		return fmt.Errorf("filestore: remove: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAppender(name)
	if _, err := s.stat(name); err != nil {
		return fmt.Errorf("filestore: remove %q: %w", name, err)
	}
	p := s.path(name)
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("filestore: remove %q: %w", name, s.lookupErr(name, err))
	}
	for d := filepath.Dir(p); len(d) > len(s.dir); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}

// List implements storage.Store. Files whose names are not valid object names
// (temp files, anything else put in the directory) are ignored.
func (s *Store) List(prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	// Every matching name lies below the directory part of the prefix: walk
	// only that. If it is not a valid name, nothing can match.
	root := s.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		if storage.ValidName(prefix[:i]) != nil {
			return names, nil
		}
		root = s.path(prefix[:i])
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && missing(err) {
				return filepath.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(s.dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// Skip directories that cannot hold a match.
			if p != root && !strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(name, prefix) && storage.ValidName(name) == nil {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("filestore: list %q: %w", prefix, err)
	}
	// WalkDir's order is per directory ("a/x" before "a.b"); the contract is
	// plain string order.
	slices.Sort(names)
	return names, nil
}

// stat returns the object's file info, or an error wrapping ErrNotFound if
// there is no such object.
func (s *Store) stat(name string) (fs.FileInfo, error) {
	fi, err := os.Stat(s.path(name))
	if err != nil {
		return nil, s.lookupErr(name, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w (objects exist below %q)", storage.ErrNotFound, name+"/")
	}
	return fi, nil
}

// lookupErr explains an error from reading name: a missing file, or a
// directory (objects exist below the name), means there is no such object.
func (s *Store) lookupErr(name string, err error) error {
	if missing(err) {
		return fmt.Errorf("%w (%w)", storage.ErrNotFound, err)
	}
	if fi, serr := os.Stat(s.path(name)); serr == nil && fi.IsDir() {
		return fmt.Errorf("%w (objects exist below %q)", storage.ErrNotFound, name+"/")
	}
	return err
}

// createErr explains an error from creating name: a directory in the way of
// the file, or a file in the way of a directory, is ErrConflict.
func (s *Store) createErr(name string, err error) error {
	if fi, serr := os.Stat(s.path(name)); serr == nil && fi.IsDir() {
		return fmt.Errorf("%w: objects exist below %q (%w)", storage.ErrConflict, name+"/", err)
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		if fi, serr := os.Stat(s.path(name[:i])); serr == nil && !fi.IsDir() {
			return fmt.Errorf("%w: %q is an object (%w)", storage.ErrConflict, name[:i], err)
		}
	}
	return err
}

// missing reports whether err means the path does not exist, including a
// path whose parent is a file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// syncDir makes a rename in dir durable. Windows cannot fsync a directory
// (and does not need to: NTFS journals the rename).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
