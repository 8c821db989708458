package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
)

// MessageSize is the largest data channel message Messages cuts: 16 KiB is
// what every browser delivers unfragmented, and measured the fastest.
const MessageSize = 16 << 10

// ErrFrameTooLarge is a size prefix above the Assembler's maximum, or an
// envelope whose frame would be.
var ErrFrameTooLarge = errors.New("frame: frame too large")

// Messages cuts a sequence of whole frames (size prefixes included) into
// messages of at most size bytes, in order: small frames share a message, a
// large one spans several. A message is only valid until the next one is
// yielded (it may be a slice of a frame, or of an internal buffer): send it
// or copy it before asking for the next.
func Messages(frames [][]byte, size int) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		var buf []byte
		for _, f := range frames {
			for len(f) > 0 {
				if len(buf) == 0 && len(f) >= size {
					if !yield(f[:size]) {
						return
					}
					f = f[size:]
					continue
				}
				if buf == nil {
					buf = make([]byte, 0, size)
				}
				n := min(size-len(buf), len(f))
				buf, f = append(buf, f[:n]...), f[n:]
				if len(buf) == size {
					if !yield(buf) {
						return
					}
					buf = buf[:0]
				}
			}
		}
		if len(buf) > 0 {
			yield(buf)
		}
	}
}

// Assembler turns the messages of one ordered stream back into frames. It
// holds at most one partial frame, which grows with the bytes received (a
// size prefix alone does not make it allocate) up to its maximum.
type Assembler struct {
	max   int
	head  [4]byte
	nhead int    // bytes of head received
	cur   []byte // the partial frame, once its size is known
	want  int    // cur's full size
	err   error
}

// NewAssembler returns an Assembler refusing frames above max bytes (after
// the size prefix); max <= 0 means DefaultMaxFrame.
func NewAssembler(max int) *Assembler {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Assembler{max: max}
}

// Feed takes the next message of the stream and returns the frames it
// completes, without their size prefixes, each in its own memory (safe to
// decode into envelopes that alias it). A negative or too large size ends the
// stream: Feed returns that error now and for every later message.
func (a *Assembler) Feed(msg []byte) ([][]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	var out [][]byte
	for len(msg) > 0 {
		if a.nhead < 4 {
			n := copy(a.head[a.nhead:], msg)
			a.nhead += n
			msg = msg[n:]
			if a.nhead < 4 {
				break
			}
			size := int64(int32(binary.BigEndian.Uint32(a.head[:])))
			switch {
			case size < 0:
				a.err = fmt.Errorf("%w: negative frame size %d", ErrMalformed, size)
			case size > int64(a.max):
				a.err = fmt.Errorf("%w: %d bytes > %d", ErrFrameTooLarge, size, a.max)
			}
			if a.err != nil {
				return out, a.err
			}
			a.want = int(size)
			// Grow with what arrives: a peer that announces a large
			// frame costs memory only as it sends it.
			a.cur = make([]byte, 0, min(a.want, len(msg), MessageSize*4))
		}
		n := min(a.want-len(a.cur), len(msg))
		if len(a.cur)+n > cap(a.cur) {
			// Double, but never past the announced size.
			grown := make([]byte, len(a.cur), min(a.want, max(2*cap(a.cur), len(a.cur)+n)))
			copy(grown, a.cur)
			a.cur = grown
		}
		a.cur = append(a.cur, msg[:n]...)
		msg = msg[n:]
		if len(a.cur) == a.want {
			out = append(out, a.cur)
			a.cur, a.nhead = nil, 0
		}
	}
	return out, nil
}
