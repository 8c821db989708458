// Package idbstore is the storage.Store of a broker in a browser tab: one
// IndexedDB database per broker id.
//
// An object is a run of chunk rows in one object store, keyed [name, seq]:
// an Append is one put of a new row, so a segment appended batch by batch is
// never rewritten, and Read concatenates the rows in key order. Every row is
// a whole batch (never one row per record) framed by the chunk format below,
// whose CRC-32C (Kafka's checksum) a Read verifies.
//
// Each Store method is one readwrite transaction; ApplyBatch
// (storage.Batcher, what storage.Apply uses) puts all of a Ready's writes in
// one, but for truncations, which read first (batch.go).
//
// This file holds the chunk format; it builds everywhere, so that its fuzz
// target runs natively. The store itself needs syscall/js.
package idbstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/streamlab/streamlab/core/storage"
)

// ErrCorrupt is wrapped by every error about stored bytes that fail their
// checks: a bad checksum, a short or overlong chunk, a key that is not ours.
var ErrCorrupt = fmt.Errorf("idbstore: %w", storage.ErrCorrupt)

// A chunk is one row's value:
//
//	version  1 byte, chunkVersion
//	crc      4 bytes, big-endian CRC-32C of the row's name and seq (8 bytes,
//	         big-endian), the version, the length and the payload
//	length   4 bytes, big-endian, the payload's length
//	payload
//
// The checksum covers the key too, so that a value found under another key
// (a misdirected or swapped write) is corruption, not data.
const (
	chunkVersion = 1
	headerLen    = 9
	// maxPayload is what the length field can hold.
	maxPayload = math.MaxUint32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendChunk appends the chunk of payload, stored as row (name, seq), to dst.
// The caller keeps len(payload) <= maxPayload.
func appendChunk(dst []byte, name string, seq uint64, payload []byte) []byte {
	start := len(dst)
	dst = append(dst, chunkVersion, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	binary.BigEndian.PutUint32(dst[start+1:], chunkCRC(name, seq, dst[start:]))
	return dst
}

// decodeChunk checks the chunk b found at row (name, seq) and returns its
// payload, which aliases b. Any failure wraps ErrCorrupt.
func decodeChunk(name string, seq uint64, b []byte) ([]byte, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: chunk %d of %q: %d bytes, shorter than its %d-byte header", ErrCorrupt, seq, name, len(b), headerLen)
	}
	if b[0] != chunkVersion {
		return nil, fmt.Errorf("%w: chunk %d of %q: unknown format version %d", ErrCorrupt, seq, name, b[0])
	}
	n := binary.BigEndian.Uint32(b[5:9])
	if uint64(n) != uint64(len(b)-headerLen) {
		return nil, fmt.Errorf("%w: chunk %d of %q: header says %d payload bytes, row holds %d", ErrCorrupt, seq, name, n, len(b)-headerLen)
	}
	if want, got := binary.BigEndian.Uint32(b[1:5]), chunkCRC(name, seq, b); got != want {
		return nil, fmt.Errorf("%w: chunk %d of %q: CRC-32C %08x, header says %08x", ErrCorrupt, seq, name, got, want)
	}
	return b[headerLen:], nil
}

// chunkCRC is the checksum of chunk b stored as row (name, seq): it skips the
// crc field itself.
func chunkCRC(name string, seq uint64, b []byte) uint32 {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	c := crc32.Update(0, castagnoli, []byte(name))
	c = crc32.Update(c, castagnoli, key[:])
	c = crc32.Update(c, castagnoli, b[:1])
	return crc32.Update(c, castagnoli, b[5:])
}
