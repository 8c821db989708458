// Package storagetest is the conformance suite of storage.Store: every backend
// (memory, files, IndexedDB) runs it, so that the core behaves the same on all
// of them.
package storagetest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core/storage"
)

// Run runs the suite as subtests; open must return a new, empty store each
// time it is called.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	tests := []struct {
		name string
		f    func(*testing.T, storage.Store)
	}{
		{"AppendCreatesAndExtends", testAppend},
		{"EmptyWritesCreate", testEmptyWrites},
		{"PutReplaces", testPut},
		{"ReadMissing", testReadMissing},
		{"Truncate", testTruncate},
		{"Remove", testRemove},
		{"List", testList},
		{"ValidNames", testValidNames},
		{"InvalidNames", testInvalidNames},
		{"Conflicts", testConflicts},
		{"Isolation", testIsolation},
		{"Apply", testApply},
		{"ApplyStopsAtFirstError", testApplyStops},
		{"Large", testLarge},
		{"AppendAfterReplace", testAppendAfterReplace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

// RunPersistent checks that what a store holds survives reopen, which must
// return a store over the same data as old (for a memory store: old itself).
// open must return a new, empty store each time it is called.
func RunPersistent(t *testing.T, open func(t *testing.T) storage.Store, reopen func(t *testing.T, old storage.Store) storage.Store) {
	t.Helper()
	t.Run("Reopen", func(t *testing.T) {
		s := open(t)
		must(t, s.Append("log/0", []byte("hello")))
		must(t, s.Append("log/0", []byte(" world")))
		must(t, s.Put("meta", []byte("v1")))
		must(t, s.Put("meta", []byte("v2")))
		must(t, s.Append("t", []byte("0123456789")))
		must(t, s.Truncate("t", 5))
		must(t, s.Append("gone", []byte("x")))
		must(t, s.Remove("gone"))
		must(t, s.Append("empty", nil))
		must(t, s.Put("d/e/f", []byte("deep")))
		big := randomBytes(1<<20, 1)
		must(t, s.Append("big", big))

		s = reopen(t, s)
		wantList(t, s, "", "big", "d/e/f", "empty", "log/0", "meta", "t")
		wantContent(t, s, "log/0", "hello world")
		wantContent(t, s, "meta", "v2")
		wantContent(t, s, "t", "01234")
		wantContent(t, s, "empty", "")
		wantContent(t, s, "d/e/f", "deep")
		wantBytes(t, s, "big", big)
		wantNotFound(t, "read gone", readErr(s, "gone"))

		// A reopened store keeps working, and a second reopen sees that.
		must(t, s.Append("log/0", []byte("!")))
		must(t, s.Truncate("meta", 1))
		must(t, s.Put("d/e/f", []byte("deeper")))
		must(t, s.Remove("empty"))
		s = reopen(t, s)
		wantList(t, s, "", "big", "d/e/f", "log/0", "meta", "t")
		wantContent(t, s, "log/0", "hello world!")
		wantContent(t, s, "meta", "v")
		wantContent(t, s, "d/e/f", "deeper")
	})
}

func testAppend(t *testing.T, s storage.Store) {
	must(t, s.Append("a", []byte("hello")))
	wantContent(t, s, "a", "hello")
	must(t, s.Append("a", []byte(" world")))
	wantContent(t, s, "a", "hello world")
	must(t, s.Append("a", nil))
	wantContent(t, s, "a", "hello world")
	must(t, s.Append("dir/b", []byte("other")))
	wantContent(t, s, "dir/b", "other")
	wantContent(t, s, "a", "hello world")
	wantList(t, s, "", "a", "dir/b")
}

func testEmptyWrites(t *testing.T, s storage.Store) {
	must(t, s.Append("nil", nil))
	must(t, s.Append("empty", []byte{}))
	must(t, s.Put("put", nil))
	must(t, s.Append("x/y/z", nil))
	for _, name := range []string{"nil", "empty", "put", "x/y/z"} {
		b, err := s.Read(name)
		if err != nil || len(b) != 0 {
			t.Errorf("Read(%q) = %q, %v; want empty, nil", name, b, err)
		}
	}
	wantList(t, s, "", "empty", "nil", "put", "x/y/z")
}

func testPut(t *testing.T, s storage.Store) {
	must(t, s.Put("p", []byte("one")))
	wantContent(t, s, "p", "one")
	must(t, s.Put("p", []byte("two, longer")))
	wantContent(t, s, "p", "two, longer")
	must(t, s.Put("p", []byte("3")))
	wantContent(t, s, "p", "3")
	must(t, s.Append("p", []byte("+a")))
	wantContent(t, s, "p", "3+a")
	must(t, s.Append("q", []byte("appended")))
	must(t, s.Put("q", []byte("put")))
	wantContent(t, s, "q", "put")
	must(t, s.Put("p", nil))
	wantContent(t, s, "p", "")
	must(t, s.Put("n/e/s/t", []byte("nested")))
	wantContent(t, s, "n/e/s/t", "nested")
}

func testReadMissing(t *testing.T, s storage.Store) {
	wantNotFound(t, "read missing", readErr(s, "missing"))
	wantNotFound(t, "read missing/nested", readErr(s, "missing/nested"))
	must(t, s.Put("dir/x", []byte("x")))
	wantNotFound(t, "read dir/y", readErr(s, "dir/y"))
	wantNotFound(t, "read dir/x/y", readErr(s, "dir/x/y"))
	wantNotFound(t, "read dir", readErr(s, "dir"))
}

func testTruncate(t *testing.T, s storage.Store) {
	must(t, s.Append("t", []byte("0123456789")))
	must(t, s.Truncate("t", 10))
	wantContent(t, s, "t", "0123456789")
	must(t, s.Truncate("t", 4))
	wantContent(t, s, "t", "0123")
	must(t, s.Append("t", []byte("ab")))
	wantContent(t, s, "t", "0123ab")
	must(t, s.Truncate("t", 0))
	wantContent(t, s, "t", "")
	wantList(t, s, "", "t")
	must(t, s.Append("t", []byte("xy")))
	for _, size := range []int64{3, 1 << 40, -1} {
		err := s.Truncate("t", size)
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Truncate(t, %d) of a 2-byte object = %v; want an error other than ErrNotFound", size, err)
		}
	}
	wantContent(t, s, "t", "xy")
	wantNotFound(t, "truncate missing", s.Truncate("missing", 0))
	wantNotFound(t, "truncate missing/nested", s.Truncate("missing/nested", 0))
	wantList(t, s, "", "t")
}

func testRemove(t *testing.T, s storage.Store) {
	must(t, s.Put("r", []byte("data")))
	must(t, s.Append("keep", []byte("k")))
	must(t, s.Remove("r"))
	wantNotFound(t, "read removed", readErr(s, "r"))
	wantList(t, s, "", "keep")
	wantNotFound(t, "remove again", s.Remove("r"))
	wantNotFound(t, "remove missing/nested", s.Remove("missing/nested"))
	must(t, s.Append("r", []byte("new")))
	wantContent(t, s, "r", "new")

	must(t, s.Append("d/e/f", []byte("1")))
	must(t, s.Append("d/g", []byte("2")))
	must(t, s.Remove("d/e/f"))
	wantList(t, s, "d/", "d/g")
	must(t, s.Remove("d/g"))
	wantList(t, s, "d")
	wantList(t, s, "", "keep", "r")
}

func testList(t *testing.T, s storage.Store) {
	all := []string{
		// No two names differ only in case: they would collide on
		// case-insensitive file systems.
		"A", "C", "a-1", "a.1", "a0/b", "a0/c/d", "a1", "a_1", "b",
		"topic-0/00000000000000000000.index",
		"topic-0/00000000000000000000.log",
		"topic-0/00000000000000000100.log",
		"topic-1/00000000000000000000.log",
		"topic-10/00000000000000000000.log",
	}
	// Create in a scrambled order: the store must sort.
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(len(all)) {
		must(t, s.Append(all[i], []byte(all[i])))
	}
	wantList(t, s, "", all...)
	wantList(t, s, "topic-1", "topic-1/00000000000000000000.log", "topic-10/00000000000000000000.log")
	wantList(t, s, "topic-1/", "topic-1/00000000000000000000.log")
	wantList(t, s, "topic-0/0000000000000000", all[9:12]...)
	wantList(t, s, "topic-0/0000000000000000000", all[9:11]...)
	wantList(t, s, "topic-0/00000000000000000000.", all[9:11]...)
	wantList(t, s, "a0/", "a0/b", "a0/c/d")
	wantList(t, s, "a0/c", "a0/c/d")
	wantList(t, s, "a0/c/", "a0/c/d")
	wantList(t, s, "a", "a-1", "a.1", "a0/b", "a0/c/d", "a1", "a_1")
	wantList(t, s, "A", "A")
	wantList(t, s, "b", "b")
	wantList(t, s, "b/")
	wantList(t, s, "zzz")
	wantList(t, s, "topic-2/")
	// Prefixes need not be valid names, and must not escape the store.
	wantList(t, s, "/")
	wantList(t, s, "../")
	wantList(t, s, "./")
	wantList(t, s, "a0//")
	wantList(t, s, "a0/../")
}

func testValidNames(t *testing.T, s storage.Store) {
	names := []string{
		"..a", ".hidden", "-", "_", "a..b", "x/.y/..z", "0",
		strings.Repeat("n", storage.MaxSegmentLen),
		strings.Repeat("s/", 20) + "deep",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
	}
	for _, name := range names {
		if err := storage.ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v; want nil", name, err)
		}
		must(t, s.Put(name, []byte(name)))
	}
	for _, name := range names {
		wantContent(t, s, name, name)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	wantList(t, s, "", want...)
}

// invalidNames are names every store must reject.
var invalidNames = []string{
	"", "/", "//", "a/", "/a", "a//b", ".", "..", "./a", "a/.", "a/./b", "a/../b", "../a",
	"a b", " a", "a\tb", "a\\b", "a:b", "a*", "a?", "a~", "~tmp", "é", "a\x00b", "a\nb",
	strings.Repeat("n", storage.MaxSegmentLen+1),
	"ok/" + strings.Repeat("n", storage.MaxSegmentLen+1),
}

func testInvalidNames(t *testing.T, s storage.Store) {
	for _, name := range invalidNames {
		if err := storage.ValidName(name); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("ValidName(%q) = %v; want ErrInvalidName", name, err)
		}
		wantInvalid(t, "append", name, s.Append(name, []byte("x")))
		wantInvalid(t, "empty append", name, s.Append(name, nil))
		wantInvalid(t, "put", name, s.Put(name, []byte("x")))
		wantInvalid(t, "read", name, readErr(s, name))
		wantInvalid(t, "truncate", name, s.Truncate(name, 0))
		wantInvalid(t, "remove", name, s.Remove(name))
		wantInvalid(t, "apply", name, storage.Apply(s, []storage.Write{{Op: storage.OpRemove, Name: name}}))
	}
	wantList(t, s, "")
}

func testConflicts(t *testing.T, s storage.Store) {
	// An object cannot also be a directory of other objects.
	must(t, s.Append("x", []byte("x")))
	wantConflict(t, "append x/y", s.Append("x/y", []byte("y")))
	wantConflict(t, "put x/y/z", s.Put("x/y/z", []byte("z")))
	wantNotFound(t, "read x/y", readErr(s, "x/y"))
	wantNotFound(t, "truncate x/y", s.Truncate("x/y", 0))
	wantNotFound(t, "remove x/y", s.Remove("x/y"))

	must(t, s.Put("d/e", []byte("e")))
	wantConflict(t, "append d", s.Append("d", []byte("d")))
	wantConflict(t, "empty append d", s.Append("d", nil))
	wantConflict(t, "put d", s.Put("d", []byte("d")))
	wantNotFound(t, "read d", readErr(s, "d"))
	wantNotFound(t, "truncate d", s.Truncate("d", 0))
	wantNotFound(t, "remove d", s.Remove("d"))

	wantList(t, s, "", "d/e", "x")
	wantContent(t, s, "x", "x")
	wantContent(t, s, "d/e", "e")

	// Once the other side is removed, the name is free.
	must(t, s.Remove("d/e"))
	must(t, s.Append("d", []byte("now an object")))
	must(t, s.Remove("x"))
	must(t, s.Put("x/y", []byte("now a directory")))
	wantList(t, s, "", "d", "x/y")
}

func testIsolation(t *testing.T, s storage.Store) {
	buf := []byte("abc")
	must(t, s.Append("a", buf))
	buf[0] = 'X'
	wantContent(t, s, "a", "abc")

	buf = []byte("put")
	must(t, s.Put("p", buf))
	buf[0] = 'X'
	wantContent(t, s, "p", "put")

	got, err := s.Read("a")
	must(t, err)
	got[0] = 'Z'
	_ = append(got, "overwrite spare capacity"...)
	_ = append(got[:1], 'Q')
	wantContent(t, s, "a", "abc")

	// A slice returned by Read does not see later writes.
	before, err := s.Read("a")
	must(t, err)
	must(t, s.Append("a", []byte("def")))
	must(t, s.Truncate("a", 2))
	must(t, s.Append("a", []byte("!!")))
	if string(before) != "abc" {
		t.Errorf("a slice returned by Read changed to %q after writes; want %q", before, "abc")
	}
	wantContent(t, s, "a", "ab!!")

	// Two reads are independent.
	r1, err := s.Read("p")
	must(t, err)
	r2, err := s.Read("p")
	must(t, err)
	r1[0] = 'X'
	if string(r2) != "put" {
		t.Errorf("second Read changed to %q when the first was modified", r2)
	}
}

func testApply(t *testing.T, s storage.Store) {
	must(t, s.Put("old", []byte("old")))
	err := storage.Apply(s, []storage.Write{
		{Op: storage.OpAppend, Name: "log", Data: []byte("ab")},
		{Op: storage.OpAppend, Name: "log", Data: []byte("cd")},
		{Op: storage.OpPut, Name: "meta", Data: []byte("m1")},
		{Op: storage.OpTruncate, Name: "log", Size: 3},
		{Op: storage.OpAppend, Name: "log", Data: []byte("e")},
		{Op: storage.OpPut, Name: "meta", Data: []byte("m2")},
		{Op: storage.OpRemove, Name: "never-existed"}, // Apply tolerates this
		{Op: storage.OpRemove, Name: "old"},
		{Op: storage.OpAppend, Name: "empty/obj"},
	})
	must(t, err)
	wantContent(t, s, "log", "abce")
	wantContent(t, s, "meta", "m2")
	wantContent(t, s, "empty/obj", "")
	wantList(t, s, "", "empty/obj", "log", "meta")
	must(t, storage.Apply(s, nil))
}

func testApplyStops(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name string
		bad  storage.Write
		is   error
	}{
		{"truncate missing", storage.Write{Op: storage.OpTruncate, Name: "missing"}, storage.ErrNotFound},
		{"invalid name", storage.Write{Op: storage.OpPut, Name: "../x", Data: []byte("x")}, storage.ErrInvalidName},
		{"unknown op", storage.Write{Op: 99, Name: "u"}, nil},
		{"zero op", storage.Write{Name: "z"}, nil},
	} {
		must(t, s.Put("s", []byte("0")))
		err := storage.Apply(s, []storage.Write{
			{Op: storage.OpAppend, Name: "s", Data: []byte("1")},
			tc.bad,
			{Op: storage.OpAppend, Name: "s", Data: []byte("2")},
			{Op: storage.OpPut, Name: "after", Data: []byte("x")},
		})
		if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: Apply = %v; want an error wrapping %v", tc.name, err, tc.is)
		}
		wantContent(t, s, "s", "01")
		wantNotFound(t, tc.name+": read after", readErr(s, "after"))
		wantList(t, s, "", "s")
	}
}

func testLarge(t *testing.T, s storage.Store) {
	const size = 4 << 20
	data := randomBytes(size, 2)
	must(t, s.Put("big/put", data))
	wantBytes(t, s, "big/put", data)

	must(t, s.Append("big/one", data))
	wantBytes(t, s, "big/one", data)

	// Odd-sized chunks, so that none lines up with a page.
	for off := 0; off < size; {
		n := min(64<<10+7, size-off)
		must(t, s.Append("big/chunks", data[off:off+n]))
		off += n
	}
	wantBytes(t, s, "big/chunks", data)

	must(t, s.Truncate("big/chunks", 1<<20+1))
	wantBytes(t, s, "big/chunks", data[:1<<20+1])
	must(t, s.Append("big/chunks", data[:5]))
	wantBytes(t, s, "big/chunks", append(slices.Clone(data[:1<<20+1]), data[:5]...))

	smaller := randomBytes(1000, 3)
	must(t, s.Put("big/put", smaller))
	wantBytes(t, s, "big/put", smaller)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readErr(s storage.Store, name string) error {
	_, err := s.Read(name)
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantContent(t *testing.T, s storage.Store, name, want string) {
	t.Helper()
	got, err := s.Read(name)
	if err != nil {
		t.Errorf("Read(%q): %v", name, err)
		return
	}
	if string(got) != want {
		t.Errorf("Read(%q) = %q; want %q", name, got, want)
	}
}

func wantBytes(t *testing.T, s storage.Store, name string, want []byte) {
	t.Helper()
	got, err := s.Read(name)
	if err != nil {
		t.Errorf("Read(%q): %v", name, err)
		return
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("Read(%q): got %d bytes, want %d; first difference at byte %d", name, len(got), len(want), i)
	}
}

func wantList(t *testing.T, s storage.Store, prefix string, want ...string) {
	t.Helper()
	got, err := s.List(prefix)
	if err != nil {
		t.Errorf("List(%q): %v", prefix, err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("List(%q) = %q; want %q", prefix, got, want)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("%s: got error %v; want one wrapping storage.ErrNotFound", what, err)
	}
}

func wantInvalid(t *testing.T, op, name string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrInvalidName) {
		t.Errorf("%s %q: got error %v; want one wrapping storage.ErrInvalidName", op, name, err)
	}
}

func wantConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("%s: got error %v; want one wrapping storage.ErrConflict", what, err)
	}
}

// testAppendAfterReplace: an Append after Put, Truncate or Remove of the same
// object extends the new content (a backend caching open files must not
// write into a replaced or unlinked one).
func testAppendAfterReplace(t *testing.T, s storage.Store) {
	for _, tc := range []struct {
		name   string
		change func() error
		want   string
	}{
		{"put", func() error { return s.Put("o", []byte("new")) }, "new+"},
		{"truncate", func() error { return s.Truncate("o", 2) }, "ol+"},
		{"remove", func() error { return s.Remove("o") }, "+"},
	} {
		if err := s.Remove("o"); err != nil && !errors.Is(err, storage.ErrNotFound) {
			t.Fatal(err)
		}
		if err := s.Append("o", []byte("old")); err != nil {
			t.Fatal(err)
		}
		if err := tc.change(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := s.Append("o", []byte("+")); err != nil {
			t.Fatalf("%s: append: %v", tc.name, err)
		}
		if got, err := s.Read("o"); err != nil || string(got) != tc.want {
			t.Errorf("append after %s: %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
}
