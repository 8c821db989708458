package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kerr"
)

// xerialFrame frames raw with snappy-java's SnappyOutputStream layout by
// hand, in chunks of at most chunk bytes of input.
func xerialFrame(raw []byte, chunk int) []byte {
	out := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}, 0, 0, 0, 1, 0, 0, 0, 1)
	for len(raw) > 0 {
		n := min(chunk, len(raw))
		block := s2.EncodeSnappy(nil, raw[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		raw = raw[n:]
	}
	return out
}

func lz4Frame(t testing.TB, raw []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := lz4.NewWriter(&buf)
	if err := zw.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdAll(t testing.TB, raw []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(raw, nil)
}

// zstdStream writes raw through the streaming encoder, which does not know
// the content size up front and so leaves it out of the frame header.
func zstdStream(t testing.TB, raw []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, append([]zstd.EOption{zstd.WithEncoderConcurrency(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type thirdParty struct {
	name  string
	codec Compression
	enc   func(t testing.TB, raw []byte) []byte
}

// thirdParties compress records sections as other producers do: franz-go
// (kgo) writes raw snappy with s2.EncodeSnappy, LZ4 frames with pierrec's
// lz4.Writer and zstd with klauspost's EncodeAll; Kafka's Java producer
// writes xerial-framed snappy, 64 KiB LZ4 blocks, zstd-jni streams.
func thirdParties() []thirdParty {
	return []thirdParty{
		{"snappy/raw (kgo)", Snappy, func(_ testing.TB, raw []byte) []byte { return s2.EncodeSnappy(nil, raw) }},
		{"snappy/raw better", Snappy, func(_ testing.TB, raw []byte) []byte { return s2.EncodeSnappyBetter(nil, raw) }},
		{"snappy/xerial 32KiB chunks", Snappy, func(_ testing.TB, raw []byte) []byte { return xerialFrame(raw, 32<<10) }},
		{"snappy/xerial 7-byte chunks", Snappy, func(_ testing.TB, raw []byte) []byte { return xerialFrame(raw, 7) }},
		{"snappy/xerial klauspost", Snappy, func(_ testing.TB, raw []byte) []byte { return xerial.Encode(nil, raw) }},
		{"snappy/xerial concatenated", Snappy, func(_ testing.TB, raw []byte) []byte {
			h := len(raw) / 2
			return append(xerialFrame(raw[:h], 32<<10), xerialFrame(raw[h:], 32<<10)...)
		}},
		{"lz4/default (kgo)", LZ4, func(t testing.TB, raw []byte) []byte { return lz4Frame(t, raw) }},
		{"lz4/64KiB blocks, checksums, size", LZ4, func(t testing.TB, raw []byte) []byte {
			return lz4Frame(t, raw, lz4.BlockSizeOption(lz4.Block64Kb), lz4.BlockChecksumOption(true),
				lz4.ChecksumOption(true), lz4.SizeOption(uint64(len(raw))))
		}},
		{"lz4/no content checksum", LZ4, func(t testing.TB, raw []byte) []byte {
			return lz4Frame(t, raw, lz4.ChecksumOption(false), lz4.BlockSizeOption(lz4.Block256Kb))
		}},
		{"lz4/level 9, 1MiB blocks", LZ4, func(t testing.TB, raw []byte) []byte {
			return lz4Frame(t, raw, lz4.CompressionLevelOption(lz4.Level9), lz4.BlockSizeOption(lz4.Block1Mb))
		}},
		{"lz4/with trailing bytes", LZ4, func(t testing.TB, raw []byte) []byte {
			// KafkaLZ4BlockInputStream stops at the end mark.
			return append(lz4Frame(t, raw, lz4.ChecksumOption(false)), "trailing"...)
		}},
		{"zstd/EncodeAll (kgo)", Zstd, func(t testing.TB, raw []byte) []byte {
			// franz-go v1.22 kgo/compression.go's options.
			return zstdAll(t, raw, zstd.WithWindowSize(64<<10), zstd.WithZeroFrames(true))
		}},
		{"zstd/best, no checksum", Zstd, func(t testing.TB, raw []byte) []byte {
			return zstdAll(t, raw, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderCRC(false))
		}},
		{"zstd/stream, unknown size", Zstd, func(t testing.TB, raw []byte) []byte { return zstdStream(t, raw) }},
		{"zstd/two frames", Zstd, func(t testing.TB, raw []byte) []byte {
			h := len(raw) / 2
			return append(zstdAll(t, raw[:h]), zstdStream(t, raw[h:])...)
		}},
	}
}

// bigBatch has records large enough to span several snappy chunks and LZ4
// blocks, some compressible, some not.
func bigBatch() Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 100<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	return Batch{Records: []Record{
		{Timestamp: 5, Key: []byte("zeros"), Value: make([]byte, 300<<10)},
		{Timestamp: 6, Key: []byte("noise"), Value: noise},
		{Timestamp: 7, Key: []byte("text"), Value: bytes.Repeat([]byte("the quick brown fox "), 5000)},
		{Timestamp: 8},
	}}
}

// TestThirdPartyCodecs decodes batches compressed by the libraries other
// clients use, through Records and Each (the broker's produce path) and
// StoredRecords (fetch, the consumer, compaction).
func TestThirdPartyCodecs(t *testing.T) {
	for _, b := range []Batch{sampleBatch(None), bigBatch()} {
		plain := mustParse(t, Build(b))
		for _, tp := range thirdParties() {
			t.Run(fmt.Sprintf("%s/%d", tp.name, len(plain.Records)), func(t *testing.T) {
				h := rebuild(plain, tp.enc(t, plain.Records))
				h.Attributes = int16(tp.codec)
				recs, err := Records(h)
				if err != nil {
					t.Fatal(err)
				}
				checkRecords(t, h, recs, b.Records)
				checkEach(t, h, recs, err)
				stored, err := StoredRecords(h)
				if err != nil {
					t.Fatal(err)
				}
				checkRecords(t, h, stored, b.Records)
			})
		}
	}
}

// TestBuildReadByOthers checks Build's (Compress's) output with the
// reference decoders, so what Streamlab writes is readable by any client.
func TestBuildReadByOthers(t *testing.T) {
	for _, b := range []Batch{sampleBatch(None), bigBatch()} {
		plain := mustParse(t, Build(b)).Records
		for _, c := range allCodecs {
			b.Compression = c
			h := mustParse(t, Build(b))
			var got []byte
			var err error
			switch c {
			case None:
				got = h.Records
			case Gzip:
				got, err = gunzip(h.Records, MaxUncompressedBytes)
			case Snappy:
				if !bytes.HasPrefix(h.Records, xerialMagic) {
					t.Fatalf("snappy batch is not xerial-framed: % x", h.Records[:8])
				}
				got, err = xerial.Decode(h.Records)
			case LZ4:
				got, err = io.ReadAll(lz4.NewReader(bytes.NewReader(h.Records)))
			case Zstd:
				var d *zstd.Decoder
				if d, err = zstd.NewReader(nil); err == nil {
					got, err = d.DecodeAll(h.Records, nil)
					d.Close()
				}
			}
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%v: %d bytes, %v; want %d", c, len(got), err, len(plain))
			}
			if c != None && len(plain) > 100<<10 && len(h.Records) > len(plain)/2 {
				t.Errorf("%v: %d bytes compressed to %d", c, len(plain), len(h.Records))
			}
		}
	}
}

func TestXXH32(t *testing.T) {
	// Reference values of XXH32 with seed 0 (xxhsum -H32).
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"a", 0x550d7456},
		{"abc", 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0xe2293b2f},
	} {
		if got := xxh32([]byte(tc.in), 0); got != tc.want {
			t.Errorf("xxh32(%q) = %08x, want %08x", tc.in, got, tc.want)
		}
	}
}

// bombs make sections that decompress to n zero bytes, in every shape a
// codec allows.
func bombs(t testing.TB) map[string]func(n int) (Compression, []byte) {
	return map[string]func(int) (Compression, []byte){
		"gzip":            func(n int) (Compression, []byte) { return Gzip, Compress(Gzip, make([]byte, n)) },
		"snappy raw":      func(n int) (Compression, []byte) { return Snappy, s2.EncodeSnappy(nil, make([]byte, n)) },
		"snappy xerial":   func(n int) (Compression, []byte) { return Snappy, Compress(Snappy, make([]byte, n)) },
		"lz4 Kafka":       func(n int) (Compression, []byte) { return LZ4, Compress(LZ4, make([]byte, n)) },
		"lz4 4MiB blocks": func(n int) (Compression, []byte) { return LZ4, lz4Frame(t, make([]byte, n)) },
		"zstd size known": func(n int) (Compression, []byte) { return Zstd, zstdAll(t, make([]byte, n)) },
		// The window must fit the limit; 1 MiB is TestCodecBombs' limit.
		"zstd size unknown": func(n int) (Compression, []byte) {
			return Zstd, zstdStream(t, make([]byte, n), zstd.WithWindowSize(1<<20))
		},
		"zstd two frames": func(n int) (Compression, []byte) {
			return Zstd, append(zstdStream(t, make([]byte, n/2), zstd.WithWindowSize(1<<20)),
				zstdStream(t, make([]byte, n-n/2), zstd.WithWindowSize(1<<20))...)
		},
		"lz4 stored blocks": func(n int) (Compression, []byte) {
			flg, bd := byte(lz4FlagVersion|lz4FlagIndependence), byte(4<<4)
			out := binary.LittleEndian.AppendUint32(nil, lz4Magic)
			out = append(out, flg, bd, byte(xxh32([]byte{flg, bd}, 0)>>8))
			for ; n > 0; n -= 64 << 10 {
				k := min(n, 64<<10)
				out = binary.LittleEndian.AppendUint32(out, uint32(k)|lz4Uncompressed)
				out = append(out, make([]byte, k)...)
			}
			return LZ4, binary.LittleEndian.AppendUint32(out, 0)
		},
	}
}

// TestCodecBombs expects every codec to honour the limit as gunzip does:
// exactly limit bytes decode, one more is MESSAGE_TOO_LARGE, and a bomb far
// over the limit is refused without decoding much more than the limit.
func TestCodecBombs(t *testing.T) {
	const limit = 1 << 20
	for name, bomb := range bombs(t) {
		t.Run(name, func(t *testing.T) {
			c, at := bomb(limit)
			if out, err := decompress(c, at, limit); err != nil || len(out) != limit {
				t.Fatalf("at the limit: %d bytes, %v", len(out), err)
			}
			if _, over := bomb(limit + 1); true {
				if _, err := decompress(c, over, limit); !errors.Is(err, kerr.MessageTooLarge) {
					t.Fatalf("one byte over the limit: %v", err)
				}
			}
			if runtime.GOOS == "js" && name == "snappy raw" {
				// s2.EncodeSnappy of 32 MiB crashes node (the test's
				// encoder, not the decoder: the steps above ran).
				t.Skip("building a 32 MiB raw snappy bomb crashes node")
			}
			_, big := bomb(32 * limit)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := decompress(c, big, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, kerr.MessageTooLarge) {
				t.Fatalf("32 times the limit: %v", err)
			}
			// Buffers grow as they fill (TotalAlloc counts each one), and
			// an LZ4 block may be 4 MiB; a decoder that went on past the
			// limit would allocate 32 MiB or more.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 12<<20 {
				t.Errorf("refusing a bomb of %d bytes allocated %d bytes", 32*limit, grew)
			}
		})
	}
}

// TestCodecBombsAtMaxUncompressedBytes sends bombs one byte over the real
// limit through Records and StoredRecords.
func TestCodecBombsAtMaxUncompressedBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 64 MiB per codec")
	}
	plain := mustParse(t, Build(sampleBatch(None)))
	for name, bomb := range bombs(t) {
		if name == "lz4 stored blocks" || name == "snappy xerial" {
			continue // 64 MiB of input; the small-limit test covers them
		}
		if runtime.GOOS == "js" && name == "snappy raw" {
			continue // s2.EncodeSnappy of 64 MiB crashes node (see TestCodecBombs)
		}
		c, data := bomb(MaxUncompressedBytes + 1)
		h := rebuild(plain, data)
		h.Attributes = int16(c)
		if _, err := Records(h); !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := StoredRecords(h); !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("%s stored: %v", name, err)
		}
	}
}

// TestCodecBombDeclaredSize: headers that promise more than the limit are
// refused before anything that size is allocated.
func TestCodecBombDeclaredSize(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<31) // raw snappy: decoded length
	frame := zstdAll(t, make([]byte, 1000))
	for _, tc := range []struct {
		name string
		c    Compression
		data []byte
	}{
		{"snappy raw", Snappy, append(huge, 0, 0, 0)},
		{"snappy xerial", Snappy, append(binary.BigEndian.AppendUint32(xerialFrame(nil, 1), uint32(len(huge)+3)), append(huge, 0, 0, 0)...)},
		{"zstd content size", Zstd, frame},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decompress(tc.c, tc.data, 999)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: allocated %d bytes", tc.name, grew)
		}
	}
}

func lz4Header(flg, bd byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, lz4Magic)
	return append(out, flg, bd, byte(xxh32([]byte{flg, bd}, 0)>>8))
}

// TestCodecCorrupt covers damage each codec must report as CORRUPT_MESSAGE.
func TestCodecCorrupt(t *testing.T) {
	raw := mustParse(t, Build(sampleBatch(None))).Records
	indep := byte(lz4FlagVersion | lz4FlagIndependence)
	withBlockCRC := lz4Frame(t, raw, lz4.BlockChecksumOption(true), lz4.ChecksumOption(false))
	badBlockCRC := bytes.Clone(withBlockCRC)
	badBlockCRC[len(badBlockCRC)-5] ^= 1 // the last block's checksum, before the end mark
	badHeaderCRC := Compress(LZ4, raw)
	badHeaderCRC[6] ^= 1
	xerialV0 := xerialFrame(raw, 1<<20)
	xerialV0[11] = 0
	zstdCRC := zstdAll(t, raw)
	zstdCRC[len(zstdCRC)-1] ^= 1 // the content checksum
	for _, tc := range []struct {
		name string
		c    Compression
		data []byte
	}{
		{"snappy empty", Snappy, nil},
		{"snappy garbage", Snappy, []byte("definitely not snappy")},
		{"snappy xerial version 0", Snappy, xerialV0},
		{"snappy xerial short chunk", Snappy, xerialFrame(raw, 1<<20)[:40]},
		{"snappy xerial negative chunk", Snappy, append(xerialFrame(nil, 1), 0xff, 0xff, 0xff, 0xff, 0)},
		{"snappy xerial 2 bytes left", Snappy, append(xerialFrame(raw, 1<<20), 0, 0)},
		{"snappy xerial short header", Snappy, append(xerialFrame(raw, 1<<20), xerialMagic[:8]...)},
		{"snappy s2 repeat offset", Snappy, s2.Encode(nil, bytes.Repeat([]byte("abcdefgh12345678"), 1000))},
		{"lz4 empty", LZ4, nil},
		{"lz4 bad magic", LZ4, append([]byte{1, 2, 3, 4}, Compress(LZ4, raw)[4:]...)},
		{"lz4 header checksum", LZ4, badHeaderCRC},
		{"lz4 block checksum", LZ4, badBlockCRC},
		{"lz4 dependent flag", LZ4, append(lz4Header(lz4FlagVersion, 4<<4), 0, 0, 0, 0)},
		{"lz4 version 0", LZ4, append(lz4Header(lz4FlagIndependence, 4<<4), 0, 0, 0, 0)},
		{"lz4 dictionary id", LZ4, append(lz4Header(indep|1, 4<<4), 0, 0, 0, 0)},
		{"lz4 block size 3", LZ4, append(lz4Header(indep, 3<<4), 0, 0, 0, 0)},
		{"lz4 BD reserved bit", LZ4, append(lz4Header(indep, 4<<4|1), 0, 0, 0, 0)},
		{"lz4 no end mark", LZ4, Compress(LZ4, raw)[:len(Compress(LZ4, raw))-4]},
		{"lz4 content checksum missing", LZ4, lz4Frame(t, raw)[:len(lz4Frame(t, raw))-2]},
		{"lz4 block over maximum", LZ4, append(lz4Header(indep, 4<<4), binary.LittleEndian.AppendUint32(nil, 64<<10+1)...)},
		{"lz4 block expands over maximum", LZ4, func() []byte {
			block := make([]byte, 64<<10+1)
			n, _ := lz4.CompressBlock(block, make([]byte, lz4.CompressBlockBound(len(block))), nil)
			out := append(lz4Header(indep, 4<<4), binary.LittleEndian.AppendUint32(nil, uint32(n))...)
			out = append(out, make([]byte, n)...)
			lz4.CompressBlock(block, out[len(out)-n:], nil)
			return binary.LittleEndian.AppendUint32(out, 0)
		}()},
		{"lz4 garbage block", LZ4, append(append(lz4Header(indep, 4<<4), 5, 0, 0, 0), 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)},
		{"zstd empty frame header", Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
		{"zstd garbage", Zstd, []byte("definitely not zstd")},
		{"zstd checksum", Zstd, zstdCRC},
		{"zstd truncated", Zstd, zstdAll(t, raw)[:10]},
	} {
		if _, err := decompress(tc.c, tc.data, MaxUncompressedBytes); !errors.Is(err, kerr.CorruptMessage) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestCodecDamage truncates and flips every byte of sections from every
// encoder: decoding must fail cleanly or yield records, never panic, and a
// truncated section must never pass as the whole batch.
func TestCodecDamage(t *testing.T) {
	b := sampleBatch(None)
	b.Records = append(b.Records, Record{Timestamp: 2000, Key: []byte("long"), Value: bytes.Repeat([]byte("0123456789"), 30)})
	plain := mustParse(t, Build(b))
	tps := thirdParties()
	for _, c := range allCodecs[1:] {
		tps = append(tps, thirdParty{"Build " + c.String(), c, func(_ testing.TB, raw []byte) []byte { return Compress(c, raw) }})
	}
	for _, tp := range tps {
		data := tp.enc(t, plain.Records)
		h := plain
		h.Attributes = int16(tp.codec)
		check := func(what string, d []byte, mustFail bool) {
			h := rebuild(h, d)
			recs, err := Records(h)
			checkEach(t, h, recs, err)
			StoredRecords(h)
			switch {
			case err == nil && mustFail:
				t.Fatalf("%s: %s decoded", tp.name, what)
			case err != nil && !errors.Is(err, kerr.CorruptMessage) && !errors.Is(err, kerr.InvalidRecord) && !errors.Is(err, kerr.MessageTooLarge):
				t.Fatalf("%s: %s: %v", tp.name, what, err)
			}
		}
		for i := range len(data) {
			// The LZ4 frame with trailing bytes may lose them.
			check(fmt.Sprintf("cut at %d", i), data[:i], tp.name != "lz4/with trailing bytes")
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				d := bytes.Clone(data)
				d[i] ^= mask
				check(fmt.Sprintf("flip %#x at %d", mask, i), d, false)
			}
		}
	}
}

// TestCodecsStartNoGoroutines: core starts no goroutines (forbidden_test.go
// checks core's own code); the codecs' libraries must not either when used
// as core uses them.
func TestCodecsStartNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	raw := mustParse(t, Build(bigBatch())).Records
	for _, c := range allCodecs {
		out, err := decompress(c, Compress(c, raw), MaxUncompressedBytes)
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("%v: %v", c, err)
		}
	}
	// More would be the codecs' own; fewer, an earlier test's ending.
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines before, %d after", before, after)
	}
}

// TestZstdDecoderShared: callers take turns with the shared decoder.
func TestZstdDecoderShared(t *testing.T) {
	h := mustParse(t, Build(Batch{Compression: Zstd, Records: bigBatch().Records}))
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 20 {
				if _, err = Records(h); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
