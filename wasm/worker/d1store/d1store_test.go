package d1store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/streamlab/streamlab/p2p/room"
)

// The store's logic against a fake database/sql driver that knows the
// store's six statements and keeps the table in a map, with SQLite's
// semantics for them (D1 itself runs in e2e/worker_test.go, under wrangler
// dev). Values come back as D1's driver gives them: int64, string, []byte.

type fakeRow struct {
	blob    driver.Value // string or []byte, as bound
	version int64
	expires int64
}

type fakeDB struct {
	mu    sync.Mutex
	rows  map[string]fakeRow
	reads int
}

func (d *fakeDB) Connect(context.Context) (driver.Conn, error) { return fakeConn{d}, nil }
func (d *fakeDB) Driver() driver.Driver                        { return nil }

type fakeConn struct{ d *fakeDB }

func (c fakeConn) Prepare(q string) (driver.Stmt, error) { return fakeStmt{c.d, q}, nil }
func (fakeConn) Close() error                            { return nil }
func (fakeConn) Begin() (driver.Tx, error)               { return nil, errors.New("no transactions") }

type fakeStmt struct {
	d *fakeDB
	q string
}

func (fakeStmt) Close() error  { return nil }
func (fakeStmt) NumInput() int { return -1 }

type fakeResult int64

func (fakeResult) LastInsertId() (int64, error)   { return 0, errors.New("no") }
func (r fakeResult) RowsAffected() (int64, error) { return int64(r), nil }

func (s fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s.q {
	case "INSERT INTO rooms (code, blob, version, expires) VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING":
		code := args[0].(string)
		if _, ok := d.rows[code]; ok {
			return fakeResult(0), nil
		}
		d.rows[code] = fakeRow{args[1], args[2].(int64), args[3].(int64)}
		return fakeResult(1), nil
	case "UPDATE rooms SET blob = ?, version = ?, expires = ? WHERE code = ? AND version = ?":
		code := args[3].(string)
		if r, ok := d.rows[code]; !ok || r.version != args[4].(int64) {
			return fakeResult(0), nil
		}
		d.rows[code] = fakeRow{args[0], args[1].(int64), args[2].(int64)}
		return fakeResult(1), nil
	case "DELETE FROM rooms WHERE code = ?":
		_, ok := d.rows[args[0].(string)]
		delete(d.rows, args[0].(string))
		return fakeResult(map[bool]int64{true: 1}[ok]), nil
	case "DELETE FROM rooms WHERE expires <= ?":
		n := 0
		for code, r := range d.rows {
			if r.expires <= args[0].(int64) {
				delete(d.rows, code)
				n++
			}
		}
		return fakeResult(n), nil
	}
	return nil, fmt.Errorf("fake: unknown statement %q", s.q)
}

func (s fakeStmt) Query(args []driver.Value) (driver.Rows, error) {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	switch s.q {
	case "SELECT blob, version FROM rooms WHERE code = ?":
		r, ok := d.rows[args[0].(string)]
		if !ok {
			return &fakeRows{cols: []string{"blob", "version"}}, nil
		}
		blob := r.blob
		if b, ok := blob.([]byte); ok {
			blob = append([]byte(nil), b...)
		}
		return &fakeRows{cols: []string{"blob", "version"}, rows: [][]driver.Value{{blob, r.version}}}, nil
	case "SELECT version FROM rooms WHERE code = ?":
		r, ok := d.rows[args[0].(string)]
		if !ok {
			return &fakeRows{cols: []string{"version"}}, nil
		}
		return &fakeRows{cols: []string{"version"}, rows: [][]driver.Value{{r.version}}}, nil
	case "SELECT count(*) FROM rooms":
		return &fakeRows{cols: []string{"count(*)"}, rows: [][]driver.Value{{int64(len(d.rows))}}}, nil
	}
	return nil, fmt.Errorf("fake: unknown query %q", s.q)
}

type fakeRows struct {
	cols []string
	rows [][]driver.Value
}

func (r *fakeRows) Columns() []string { return r.cols }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}

func newFake(t *testing.T) (*Store, *fakeDB, *time.Time) {
	fake := &fakeDB{rows: map[string]fakeRow{}}
	db := sql.OpenDB(fake)
	t.Cleanup(func() { db.Close() })
	s := New(db)
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, fake, &now
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	s, fake, now := newFake(t)
	exp := now.Add(time.Hour)
	if _, _, err := s.Get(ctx, "ABCDEF"); !errors.Is(err, room.ErrNoRoom) {
		t.Fatalf("get of no room: %v", err)
	}
	v1, err := s.Put(ctx, "ABCDEF", []byte(`{"v":1}`), 0, exp)
	if err != nil || v1 == 0 {
		t.Fatalf("create: %d, %v", v1, err)
	}
	if _, err := s.Put(ctx, "ABCDEF", []byte(`{"v":"other"}`), 0, exp); !errors.Is(err, room.ErrConflict) {
		t.Fatalf("create of a taken code: %v", err)
	}
	blob, v, err := s.Get(ctx, "ABCDEF")
	if err != nil || v != v1 || string(blob) != `{"v":1}` {
		t.Fatalf("get: %q %d %v", blob, v, err)
	}
	if _, ok := fake.rows["ABCDEF"].blob.(string); !ok {
		t.Fatalf("UTF-8 blob stored as %T, want TEXT", fake.rows["ABCDEF"].blob)
	}
	// The clock stands still (as Date.now does in a worker): versions
	// still grow.
	v2, err := s.Put(ctx, "ABCDEF", []byte{0xff, 0x00, 'x'}, v1, exp)
	if err != nil || v2 <= v1 {
		t.Fatalf("update: %d (after %d), %v", v2, v1, err)
	}
	if _, err := s.Put(ctx, "ABCDEF", []byte("stale"), v1, exp); !errors.Is(err, room.ErrConflict) {
		t.Fatalf("update at a stale version: %v", err)
	}
	blob, v, err = s.Get(ctx, "ABCDEF")
	if err != nil || v != v2 || string(blob) != "\xff\x00x" {
		t.Fatalf("get of a binary blob: %q %d %v", blob, v, err)
	}
	if _, ok := fake.rows["ABCDEF"].blob.([]byte); !ok {
		t.Fatalf("binary blob stored as %T, want BLOB", fake.rows["ABCDEF"].blob)
	}
	if _, err := s.Put(ctx, "GHJKMN", []byte("x"), 5, exp); !errors.Is(err, room.ErrConflict) {
		t.Fatalf("update of no room: %v", err)
	}
	// Deleted and created again in the same microsecond: no version
	// repeats, so a waiter holding the old one notices.
	if err := s.Delete(ctx, "ABCDEF"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ABCDEF"); err != nil {
		t.Fatalf("delete of no room: %v", err)
	}
	*now = now.Add(time.Second)
	v3, err := s.Put(ctx, "ABCDEF", []byte("again"), 0, exp)
	if err != nil || v3 <= v2 {
		t.Fatalf("create again: %d (old %d), %v", v3, v2, err)
	}
	if v3 >= 1<<53 {
		t.Fatalf("version %d does not fit a JavaScript number", v3)
	}
}

func TestWait(t *testing.T) {
	ctx := context.Background()
	s, fake, now := newFake(t)
	v, err := s.Put(ctx, "ABCDEF", []byte("a"), 0, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctx, "ABCDEF", v+1); err != nil {
		t.Fatalf("wait on an old version: %v", err)
	}
	if err := s.Wait(ctx, "GHJKMN", 1); !errors.Is(err, room.ErrNoRoom) {
		t.Fatalf("wait on no room: %v", err)
	}
	fake.mu.Lock()
	fake.reads = 0
	fake.mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 3*PollInterval/2)
	defer cancel()
	if err := s.Wait(short, "ABCDEF", v); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with no change: %v", err)
	}
	fake.mu.Lock()
	if fake.reads < 2 || fake.reads > 4 {
		t.Errorf("%d reads in 1.5 poll intervals", fake.reads)
	}
	fake.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, "ABCDEF", v) }()
	time.Sleep(PollInterval / 2)
	if _, err := s.Put(ctx, "ABCDEF", []byte("b"), v, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait through a change: %v", err)
		}
	case <-time.After(5 * PollInterval):
		t.Fatal("wait missed the change")
	}
	if err := s.Wait(ctx, "ABCDEF", v); err != nil { // changed already
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s, _, now := newFake(t)
	for i, code := range []string{"AAAAAA", "BBBBBB", "CCCCCC"} {
		if _, err := s.Put(ctx, code, []byte("x"), 0, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Sweep(ctx, now.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("sweep: %d rooms left, %v; want 1", n, err)
	}
	if _, _, err := s.Get(ctx, "CCCCCC"); err != nil {
		t.Fatalf("the room that has not expired: %v", err)
	}
	if _, _, err := s.Get(ctx, "BBBBBB"); !errors.Is(err, room.ErrNoRoom) {
		t.Fatalf("a room expired at the sweep's time: %v", err)
	}
}
