// Package d1store is a room.Store in an SQL table: Cloudflare D1 (SQLite)
// through database/sql, for the classroom worker (wasm/worker), which opens
// the database with syumai/workers' D1 connector. Only database/sql is used
// here, so the package builds (and vets) natively too.
//
// The table (migrations/0001_rooms.sql) keeps one row per room:
//
//	code TEXT PRIMARY KEY, blob BLOB, version INTEGER, expires INTEGER
//
// blob is the handler's encoded state, stored as TEXT when it is valid
// UTF-8 (the handler's JSON: readable with `wrangler d1 execute`, and
// smaller on D1's wire than a BLOB, which comes back as an array of
// numbers), as a BLOB otherwise. expires is in Unix milliseconds. Put is a
// compare-and-set on version. D1 cannot notify, so Wait polls.
package d1store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/streamlab/streamlab/p2p/room"
)

// PollInterval is how often Wait rereads a room's version.
const PollInterval = 200 * time.Millisecond

// Store is a room.Store on an SQL database holding the rooms table.
type Store struct {
	db  *sql.DB
	now func() time.Time // the clock of the versions
}

// table is the rooms table (migrations/0001_rooms.sql).
const table = "rooms"

var _ room.Store = (*Store)(nil)

// New returns a store on db's "rooms" table.
func New(db *sql.DB) *Store { return &Store{db: db, now: time.Now} }

// Get returns the room's blob and version, or room.ErrNoRoom.
func (s *Store) Get(ctx context.Context, code string) ([]byte, uint64, error) {
	var blob any
	var version int64
	err := s.db.QueryRowContext(ctx, "SELECT blob, version FROM "+table+" WHERE code = ?", code).Scan(&blob, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, room.ErrNoRoom
	}
	if err != nil {
		return nil, 0, fmt.Errorf("d1store: get %s: %w", code, err)
	}
	var b []byte
	switch v := blob.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = append([]byte(nil), v...)
	default:
		return nil, 0, fmt.Errorf("d1store: get %s: blob is a %T", code, blob)
	}
	if version <= 0 {
		return nil, 0, fmt.Errorf("d1store: get %s: version %d", code, version)
	}
	return b, uint64(version), nil
}

// nextVersion is the version that follows old: above it, and at least the
// time in microseconds, so that a room deleted and created again does not
// repeat a version a waiter may hold (below 2^53: a JavaScript number holds
// it exactly).
func (s *Store) nextVersion(old uint64) uint64 {
	return max(old+1, uint64(s.now().UnixMicro()))
}

// Put replaces the room's blob if it is still at version (0: inserts it if
// there is no room with that code) and returns the new version, or
// room.ErrConflict.
func (s *Store) Put(ctx context.Context, code string, blob []byte, version uint64, expires time.Time) (uint64, error) {
	var value any = blob
	if utf8.Valid(blob) {
		value = string(blob)
	}
	next := s.nextVersion(version)
	var res sql.Result
	var err error
	if version == 0 {
		res, err = s.db.ExecContext(ctx,
			"INSERT INTO "+table+" (code, blob, version, expires) VALUES (?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
			code, value, int64(next), expires.UnixMilli())
	} else {
		res, err = s.db.ExecContext(ctx,
			"UPDATE "+table+" SET blob = ?, version = ?, expires = ? WHERE code = ? AND version = ?",
			value, int64(next), expires.UnixMilli(), code, int64(version))
	}
	if err != nil {
		return 0, fmt.Errorf("d1store: put %s: %w", code, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("d1store: put %s: %w", code, err)
	}
	if n == 0 {
		// Taken (an insert), or changed or gone since it was read (an
		// update): the handler reads it again, and finds out which.
		return 0, room.ErrConflict
	}
	return next, nil
}

// Delete removes a room (no error if there is none).
func (s *Store) Delete(ctx context.Context, code string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+table+" WHERE code = ?", code); err != nil {
		return fmt.Errorf("d1store: delete %s: %w", code, err)
	}
	return nil
}

// Wait rereads the room's version every PollInterval until it differs from
// version (nil), the room is gone (room.ErrNoRoom) or ctx ends (its error).
func (s *Store) Wait(ctx context.Context, code string, version uint64) error {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		var v int64
		err := s.db.QueryRowContext(ctx, "SELECT version FROM "+table+" WHERE code = ?", code).Scan(&v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return room.ErrNoRoom
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("d1store: wait %s: %w", code, err)
		case uint64(v) != version:
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sweep deletes the rooms expired at now and returns how many remain.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+table+" WHERE expires <= ?", now.UnixMilli()); err != nil {
		return 0, fmt.Errorf("d1store: sweep: %w", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("d1store: sweep: %w", err)
	}
	return n, nil
}
