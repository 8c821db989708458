package idbstore

import (
	"bytes"
	"errors"
	"testing"
)

func TestChunkRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("batch"), 4000)} {
		b := appendChunk([]byte("prefix kept"), "topic-0/00000000000000000000.log", 7, payload)
		if !bytes.HasPrefix(b, []byte("prefix kept")) {
			t.Fatalf("appendChunk overwrote dst")
		}
		got, err := decodeChunk("topic-0/00000000000000000000.log", 7, b[len("prefix kept"):])
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("decode of %d bytes = %d bytes, %v", len(payload), len(got), err)
		}
	}
}

func TestChunkCorruption(t *testing.T) {
	good := appendChunk(nil, "a/b", 3, []byte("hello"))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x20
		return b
	}
	for _, tc := range []struct {
		what string
		name string
		seq  uint64
		b    []byte
	}{
		{"empty", "a/b", 3, nil},
		{"short header", "a/b", 3, good[:headerLen-1]},
		{"cut payload", "a/b", 3, good[:len(good)-1]},
		{"extra byte", "a/b", 3, append(bytes.Clone(good), 0)},
		{"version", "a/b", 3, flip(0)},
		{"crc", "a/b", 3, flip(2)},
		{"length", "a/b", 3, flip(8)},
		{"payload", "a/b", 3, flip(headerLen + 1)},
		{"other name", "a/c", 3, good},
		{"other seq", "a/b", 4, good},
	} {
		if _, err := decodeChunk(tc.name, tc.seq, tc.b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode = %v; want an error wrapping ErrCorrupt", tc.what, err)
		}
	}
}

// FuzzDecodeChunk: decoding arbitrary bytes never panics, accepts only what
// the encoder writes for that key, and the encoder's output always decodes.
func FuzzDecodeChunk(f *testing.F) {
	f.Add("log/0", uint64(0), appendChunk(nil, "log/0", 0, []byte("batch")))
	f.Add("x", uint64(1<<40), appendChunk(nil, "x", 1<<40, nil))
	f.Add("x", uint64(2), []byte{chunkVersion, 0, 0, 0, 0, 0, 0, 0, 1, 'z'})
	f.Fuzz(func(t *testing.T, name string, seq uint64, b []byte) {
		if payload, err := decodeChunk(name, seq, b); err == nil {
			if again := appendChunk(nil, name, seq, payload); !bytes.Equal(again, b) {
				t.Fatalf("accepted %x, which re-encodes as %x", b, again)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
		enc := appendChunk(nil, name, seq, b)
		if got, err := decodeChunk(name, seq, enc); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %x: %x, %v", b, got, err)
		}
	})
}
