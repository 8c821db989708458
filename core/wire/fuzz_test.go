package wire

import (
	"bytes"
	"errors"
	"github.com/streamlab/streamlab/core/wire/wiretest"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func FuzzReadRequest(f *testing.F) {
	for _, req := range sampleRequests() {
		f.Add(AppendRequest(nil, RequestHeader{CorrelationID: 1, ClientID: kmsg.StringPtr("fuzz")}, req)[4:])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})                        // future ApiVersions
	f.Add([]byte{0x7f, 0xff, 0, 0, 0, 0, 0, 1, 0, 0})                          // unknown key
	f.Add([]byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f}) // tag bomb
	f.Fuzz(func(t *testing.T, frame []byte) {
		if wiretest.MayHitKmsgTagSpin(frame) {
			t.Skip("input may trigger kmsg v1.15.0's tag-count spin (TestKmsgTagCountSpin)")
		}
		h, req, err := ReadRequest(frame)
		if err != nil {
			var re *RequestError
			if req != nil || (!errors.As(err, &re) && !errors.Is(err, ErrMalformed)) {
				t.Fatalf("bad error shape: %v", err)
			}
			return
		}
		if req.Key() != h.Key || req.GetVersion() != h.Version {
			t.Fatalf("header %+v, request key %d v%d", h, req.Key(), req.GetVersion())
		}
		// Whatever decodes must re-encode to something that decodes to the
		// same encoding (decoding may normalise, e.g. duplicate tags).
		enc := AppendRequest(nil, h, req)
		fr, rest, err := ReadFrame(enc, 0)
		if err != nil || len(rest) != 0 {
			t.Fatalf("ReadFrame of own encoding: %v", err)
		}
		h2, req2, err := ReadRequest(fr)
		if err != nil {
			t.Fatalf("own encoding of %s v%d does not decode: %v", kmsg.NameForKey(h.Key), h.Version, err)
		}
		if h2.CorrelationID != h.CorrelationID || (h2.ClientID == nil) != (h.ClientID == nil) ||
			(h.ClientID != nil && *h.ClientID != *h2.ClientID) {
			t.Fatalf("header %+v became %+v", h, h2)
		}
		if enc2 := AppendRequest(nil, h2, req2); !bytes.Equal(enc, enc2) {
			t.Fatalf("%s v%d: encoding not stable\n%x\n%x", kmsg.NameForKey(h.Key), h.Version, enc, enc2)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	for _, req := range sampleRequests() {
		f.Add(AppendRequest(nil, RequestHeader{CorrelationID: 2}, req), 1<<20)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 100)
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 1}, 0)
	f.Add([]byte{0, 0, 0, 0}, 0)
	f.Add([]byte{0, 0, 0, 2, 1}, 2)
	f.Fuzz(func(t *testing.T, b []byte, maxSize int) {
		frame, rest, err := ReadFrame(b, maxSize)
		if err != nil {
			if frame != nil || !bytes.Equal(rest, b) {
				t.Fatalf("error %v with frame %x rest %x", err, frame, rest)
			}
			if !errors.Is(err, ErrIncomplete) && !errors.Is(err, ErrNegativeSize) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if 4+len(frame)+len(rest) != len(b) || (maxSize > 0 && len(frame) > maxSize) {
			t.Fatalf("frame %d + rest %d from %d bytes (max %d)", len(frame), len(rest), len(b), maxSize)
		}
		if !wiretest.MayHitKmsgTagSpin(frame) {
			ReadRequest(frame) // must not panic whatever the frame holds
		}
	})
}

// TestKmsgTagCountSpin documents an upstream kmsg v1.15.0 problem that
// FuzzReadRequest finds within seconds: generated decoders skip unknown tags
// with "for num := b.Uvarint(); num > 0; num--", and once the input runs dry
// the reader returns 0 for every read but the loop still counts down from
// the claimed number of tags, up to 2^32-1. This 101-byte Fetch v13 frame
// claims ~10^8 tags and costs ~3 s of CPU; a 5-byte count costs ~2 minutes.
// ReadRequest cannot bound it without knowing every message's layout (its
// own header tag parsing stops at the first failure). Unskip when kmsg
// checks its reader in that loop.
func TestKmsgTagCountSpin(t *testing.T) {
	t.Skip("kmsg v1.15.0: tag loops run the claimed count even after the input ends")
	frame := []byte("\x00\x01\x00\r0000\x00\x040000\x000000000000000000000000000\x020000000000000000" +
		"\x0200000000000000000000000000000000\x00\xdd\xdd\xdd0\xdd")
	start := time.Now()
	if _, _, err := ReadRequest(frame); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("decoding a malformed 101-byte frame took %v", d)
	}
}
