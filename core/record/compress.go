package record

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// decompress returns the records section of a batch compressed with c, at
// most limit bytes of it. Every codec answers the same way: output over
// limit is MESSAGE_TOO_LARGE (a bomb), bytes that do not decompress are
// CORRUPT_MESSAGE (Kafka's KafkaException "Failed to decompress" carries no
// code of its own), and an id outside 0..4 is CORRUPT_MESSAGE too.
func decompress(c Compression, data []byte, limit int64) ([]byte, error) {
	switch c {
	case None:
		return data, nil
	case Gzip:
		return gunzip(data, limit)
	case Snappy:
		return unsnappy(data, limit)
	case LZ4:
		return unlz4(data, limit)
	case Zstd:
		return unzstd(data, limit)
	}
	// CompressionType.forId throws IllegalArgumentException for ids 5..7;
	// the batch is garbage, so CORRUPT_MESSAGE.
	return nil, corrupt("unknown compression type id %d", int8(c))
}

func tooLarge(c Compression) error {
	return &Error{Code: kerr.MessageTooLarge, Reason: c.String() + " batch expands beyond MaxUncompressedBytes"}
}

// gunzip inflates a gzip records section of at most limit bytes. A stream
// that does not inflate is damaged bytes, so CORRUPT_MESSAGE; Kafka surfaces
// the IOException as a KafkaException, which maps to no specific code.
func gunzip(data []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, corrupt("gzip: %v", err)
	}
	var out bytes.Buffer
	// Read one byte past the limit to tell "exactly at" from "over".
	n, err := out.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, corrupt("gzip: %v", err)
	}
	if n > limit {
		return nil, tooLarge(Gzip)
	}
	return out.Bytes(), nil
}

// xerialMagic opens snappy-java's framed stream (SnappyCodec.MAGIC_HEADER);
// the header goes on with two big-endian int32s, version and compatible
// version, 16 bytes in all (SnappyCodec.headerSize).
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// unsnappy decodes a snappy records section the way Kafka's SnappyFactory
// does, through snappy-java's SnappyInputStream: input of at least 16 bytes
// that starts with the xerial magic is a framed stream (what Kafka's Java
// producer writes: blocks of [int32 big-endian length][snappy block]);
// anything else is one raw snappy block (what franz-go and librdkafka
// write). Blocks are decoded strictly (the C++ reference decoder's rules,
// which snappy-java wraps). Each block states its decoded length up front,
// so the total is checked against limit, and allocated once, before any
// block is decoded.
func unsnappy(data []byte, limit int64) ([]byte, error) {
	if len(data) == 0 {
		// SnappyInputStream: "Cannot decompress empty stream".
		return nil, corrupt("snappy: empty stream")
	}
	var blocks [][]byte
	if len(data) < xerialHeaderSize || !bytes.HasPrefix(data, xerialMagic) {
		blocks = [][]byte{data}
	} else {
		var err error
		if blocks, err = xerialBlocks(data); err != nil {
			return nil, err
		}
	}
	total := int64(0)
	for _, b := range blocks {
		n, err := snappy.DecodedLen(b)
		if err != nil {
			return nil, corrupt("snappy: %v", err)
		}
		if total += int64(n); total > limit {
			return nil, tooLarge(Snappy)
		}
	}
	out := make([]byte, total)
	pos := 0
	for _, b := range blocks {
		n, _ := snappy.DecodedLen(b)
		if _, err := snappy.DecodeStrict(out[pos:pos+n:pos+n], b); err != nil {
			return nil, corrupt("snappy: %v", err)
		}
		pos += n
	}
	return out, nil
}

// xerialBlocks splits a snappy-java framed stream into its raw blocks.
func xerialBlocks(data []byte) ([][]byte, error) {
	var blocks [][]byte
	for len(data) > 0 {
		// A stream may hold further streams, each with its own header
		// (SnappyInputStream.hasNextChunk reads past a repeated header).
		if bytes.HasPrefix(data, xerialMagic) {
			if len(data) < xerialHeaderSize {
				return nil, corrupt("snappy: truncated stream header")
			}
			// SnappyInputStream.readHeader: MINIMUM_COMPATIBLE_VERSION 1.
			if v := int32(binary.BigEndian.Uint32(data[8:])); v < 1 {
				return nil, corrupt("snappy: incompatible stream version %d", v)
			}
			data = data[xerialHeaderSize:]
			continue
		}
		if len(data) < 4 {
			// snappy-java stops quietly at 1-3 stray bytes; no encoder
			// writes them, so Streamlab calls them damage.
			return nil, corrupt("snappy: %d bytes left where a block length belongs", len(data))
		}
		n := int64(int32(binary.BigEndian.Uint32(data)))
		data = data[4:]
		if n < 0 || n > int64(len(data)) {
			return nil, corrupt("snappy: block of %d bytes, %d present", n, len(data))
		}
		blocks = append(blocks, data[:n])
		data = data[n:]
	}
	return blocks, nil
}

// LZ4 frame format constants (lz4_Frame_format.md), as Kafka's
// KafkaLZ4BlockInputStream reads them.
const (
	lz4Magic            = 0x184D2204
	lz4FlagVersion      = 0x40
	lz4FlagIndependence = 0x20
	lz4FlagBlockCRC     = 0x10
	lz4FlagContentSize  = 0x08
	lz4FlagContentCRC   = 0x04
	lz4Uncompressed     = 0x80000000
	// lz4MaxRatio bounds what a compressed block can expand to: a sequence
	// grows its match length by at most 255 per input byte.
	lz4MaxRatio = 255
)

// unlz4 decodes an LZ4 frame as KafkaLZ4BlockInputStream does:
//   - magic 0x184D2204; FLG version 01 with independent blocks, reserved
//     bits (and so a dictionary id) 0; BD block size 64 KiB..4 MiB;
//   - the header checksum verified (KIP-57: batches of magic 1 and later are
//     written with a correct one, so Kafka checks it for them);
//   - blocks no larger than the frame's block size, each checksum verified
//     when the frame has them; the frame ends at its end mark, and the
//     content checksum after it is read but, as in Kafka, not verified;
//     bytes after the frame are ignored.
func unlz4(data []byte, limit int64) ([]byte, error) {
	if len(data) < 7 {
		return nil, corrupt("lz4: %d bytes, too short for a frame header", len(data))
	}
	if binary.LittleEndian.Uint32(data) != lz4Magic {
		return nil, corrupt("lz4: bad frame magic %08x", binary.LittleEndian.Uint32(data))
	}
	flg, bd := data[4], data[5]
	switch {
	case flg&0xc0 != lz4FlagVersion:
		return nil, corrupt("lz4: frame version %d", flg>>6)
	case flg&0x03 != 0:
		return nil, corrupt("lz4: reserved frame flags set")
	case flg&lz4FlagIndependence == 0:
		return nil, corrupt("lz4: dependent blocks are not supported")
	case bd&0x8f != 0 || bd>>4 < 4:
		return nil, corrupt("lz4: bad block descriptor %02x", bd)
	}
	maxBlock := 1 << (2*(bd>>4) + 8)
	desc := 2
	if flg&lz4FlagContentSize != 0 {
		desc += 8 // the content size, which Kafka skips
	}
	if len(data) < 4+desc+1 {
		return nil, corrupt("lz4: truncated frame header")
	}
	if want := byte(xxh32(data[4:4+desc], 0) >> 8); data[4+desc] != want {
		return nil, corrupt("lz4: frame header checksum %02x, want %02x", data[4+desc], want)
	}
	data = data[4+desc+1:]
	var out []byte
	for {
		if len(data) < 4 {
			return nil, corrupt("lz4: stream ends before the end mark")
		}
		size := binary.LittleEndian.Uint32(data)
		data = data[4:]
		stored := size&lz4Uncompressed != 0
		size &^= lz4Uncompressed
		if size == 0 { // the end mark
			if flg&lz4FlagContentCRC != 0 && len(data) < 4 {
				return nil, corrupt("lz4: content checksum missing")
			}
			break
		}
		if size > uint32(maxBlock) {
			return nil, corrupt("lz4: block of %d bytes exceeds the frame's maximum %d", size, maxBlock)
		}
		if uint32(len(data)) < size {
			return nil, corrupt("lz4: block of %d bytes, %d present", size, len(data))
		}
		block := data[:size]
		data = data[size:]
		if flg&lz4FlagBlockCRC != 0 {
			if len(data) < 4 {
				return nil, corrupt("lz4: block checksum missing")
			}
			if got, want := xxh32(block, 0), binary.LittleEndian.Uint32(data); got != want {
				return nil, corrupt("lz4: block checksum %08x, want %08x", want, got)
			}
			data = data[4:]
		}
		if stored {
			if int64(len(out))+int64(len(block)) > limit {
				return nil, tooLarge(LZ4)
			}
			out = append(out, block...)
			continue
		}
		room := min(maxBlock, lz4MaxRatio*len(block)+64)
		out = slices.Grow(out, room)
		n, err := lz4.UncompressBlock(block, out[len(out):len(out)+room])
		if err != nil {
			return nil, corrupt("lz4: %v", err)
		}
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return nil, tooLarge(LZ4)
		}
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// xxh32 is XXH32 (xxhash.com), the checksum of the LZ4 frame format.
func xxh32(b []byte, seed uint32) uint32 {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	round := func(acc, in uint32) uint32 { return bits.RotateLeft32(acc+in*p2, 13) * p1 }
	le := binary.LittleEndian
	n := len(b)
	var h uint32
	if n >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, le.Uint32(b))
			v2 = round(v2, le.Uint32(b[4:]))
			v3 = round(v3, le.Uint32(b[8:]))
			v4 = round(v4, le.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = seed + p5
	}
	h += uint32(n)
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+le.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

// zstdDecoder decodes zstd frames for batches of at most
// MaxUncompressedBytes. With concurrency 1, DecodeAll runs on the caller's
// goroutine (the decoder starts goroutines only to stream from a Reader,
// which Streamlab never gives it) and callers take turns with its one block
// decoder. Low-memory mode keeps its buffers small between batches.
var zstdDecoder = sync.OnceValue(func() *zstd.Decoder { return newZstdDecoder(MaxUncompressedBytes) })

func newZstdDecoder(limit int64) *zstd.Decoder {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(uint64(max(limit, 1))))
	if err != nil {
		panic("record: zstd decoder: " + err.Error()) // only for invalid options
	}
	return d
}

// unzstd decodes the zstd frames of a records section (Kafka's
// ZstdFactory: zstd-jni's ZstdInputStream, which reads frame after frame).
// The decoder refuses to produce more than limit bytes, and a frame that
// declares a window (history) over limit, both MESSAGE_TOO_LARGE. zstd-jni
// accepts windows up to 128 MiB (ZSTD_WINDOWLOG_LIMIT_DEFAULT); producers
// use 8 MiB or less (zstd-jni's level 3: 2 MiB), far under 64 MiB.
func unzstd(data []byte, limit int64) ([]byte, error) {
	d := zstdDecoder()
	if limit != MaxUncompressedBytes { // tests
		d = newZstdDecoder(limit)
		defer d.Close()
	}
	out, err := d.DecodeAll(data, nil)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, tooLarge(Zstd)
	case err != nil:
		return nil, corrupt("zstd: %v", err)
	case int64(len(out)) > limit:
		return nil, tooLarge(Zstd)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// Compress compresses a records section with c as Kafka's Java producer
// does, for Build and for anything that rewrites a batch in its original
// codec (Kafka's log cleaner keeps a batch's compression type,
// LogCleaner.buildRetainedRecordsInto):
//   - gzip: a gzip stream with a zero header (deterministic output);
//   - snappy: snappy-java's framed stream (SnappyOutputStream: the xerial
//     header, then 32 KiB chunks, each a length-prefixed snappy block);
//   - lz4: one LZ4 frame as KafkaLZ4BlockOutputStream writes it: 64 KiB
//     independent blocks, no block or content checksums, no content size;
//   - zstd: one zstd frame (klauspost's default level, close to zstd-jni's
//     level 3).
//
// None returns records unchanged. Compress panics for an id outside 0..4:
// that is a programming error, not bad input.
func Compress(c Compression, records []byte) []byte {
	switch c {
	case None:
		return records
	case Gzip:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(records) // writes to a bytes.Buffer cannot fail
		zw.Close()
		return buf.Bytes()
	case Snappy:
		const chunk = 32 << 10 // SnappyOutputStream.DEFAULT_BLOCK_SIZE
		out := make([]byte, 0, xerialHeaderSize+len(records)+len(records)/6+64)
		out = append(out, xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1) // SnappyCodec.DEFAULT_VERSION
		out = binary.BigEndian.AppendUint32(out, 1) // MINIMUM_COMPATIBLE_VERSION
		for len(records) > 0 {
			n := min(len(records), chunk)
			block := snappy.Encode(nil, records[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
			out = append(out, block...)
			records = records[n:]
		}
		return out
	case LZ4:
		const block = 64 << 10 // KafkaLZ4BlockOutputStream.BLOCKSIZE_64KB
		flg, bd := byte(lz4FlagVersion|lz4FlagIndependence), byte(4<<4)
		out := binary.LittleEndian.AppendUint32(nil, lz4Magic)
		out = append(out, flg, bd, byte(xxh32([]byte{flg, bd}, 0)>>8))
		buf := make([]byte, lz4.CompressBlockBound(block))
		for len(records) > 0 {
			src := records[:min(len(records), block)]
			records = records[len(src):]
			n, err := lz4.CompressBlock(src, buf, nil)
			if err != nil || n == 0 || n >= len(src) {
				// Incompressible: stored, high bit set.
				out = binary.LittleEndian.AppendUint32(out, uint32(len(src))|lz4Uncompressed)
				out = append(out, src...)
				continue
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(n))
			out = append(out, buf[:n]...)
		}
		return binary.LittleEndian.AppendUint32(out, 0) // end mark
	case Zstd:
		return zstdEncoder().EncodeAll(records, nil)
	}
	panic(fmt.Sprintf("record.Compress: unknown compression type id %d", int8(c)))
}

// zstdEncoder is shared like zstdDecoder: EncodeAll with concurrency 1 runs
// on the caller's goroutine.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic("record: zstd encoder: " + err.Error()) // only for invalid options
	}
	return e
})
