// Package recordtest holds test support for code that handles record batches.
package recordtest

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/streamlab/streamlab/core/record"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FixCRCs recomputes, in place, the CRC-32C of every batch in b as far as the
// batch length fields lead (the rest is left alone), so that fuzzed or
// patched batches get past the checksum and reach the validation behind it.
// It returns b.
func FixCRCs(b []byte) []byte {
	for pos := 0; pos+record.HeaderSize <= len(b); {
		n := 12 + int(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if n < record.HeaderSize || n > len(b)-pos {
			break
		}
		// The CRC sits at byte 17 and covers attributes (byte 21) to the end.
		binary.BigEndian.PutUint32(b[pos+17:], crc32.Checksum(b[pos+21:pos+n], castagnoli))
		pos += n
	}
	return b
}
