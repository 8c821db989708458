-- The classroom signaling worker's rooms (wasm/worker/d1store): one row per
-- room, its state an opaque blob the handler encodes (JSON, stored as TEXT),
-- replaced by compare-and-set on version. expires is in Unix milliseconds.
CREATE TABLE IF NOT EXISTS rooms (
  code    TEXT PRIMARY KEY,
  blob    BLOB NOT NULL,
  version INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rooms_expires ON rooms (expires);
