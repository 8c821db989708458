// Package wiretest holds test support for code that decodes Kafka frames.
package wiretest

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// MayHitKmsgTagSpin reports whether a request frame (after the size prefix)
// could make kmsg v1.15.0 spin in a tag loop for long: the request is
// flexible and the body holds a uvarint of 4+ bytes (>= 2^21) larger than the
// bytes after it. Only such a value, read as a tag count, makes kmsg's loop
// outlive its input (a smaller or satisfiable count costs at most ~2^21 or
// len(frame) cheap iterations). It over-approximates: it knows nothing of
// field boundaries, so it is a fuzz filter, not a production check (record
// values can look like that).
func MayHitKmsgTagSpin(frame []byte) bool {
	if len(frame) < 8 {
		return false
	}
	req := kmsg.RequestForKey(int16(binary.BigEndian.Uint16(frame)))
	if req == nil {
		return false
	}
	v := int16(binary.BigEndian.Uint16(frame[2:]))
	if v < 0 || v > req.MaxVersion() {
		return false
	}
	req.SetVersion(v)
	if !req.IsFlexible() {
		return false
	}
	for p := 8; p < len(frame); p++ {
		u, n := binary.Uvarint(frame[p:])
		if n >= 4 && u > uint64(len(frame)-p-n) {
			return true
		}
	}
	return false
}
