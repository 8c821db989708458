// Package frame is the wire format between two Streamlab peers: one
// length-prefixed frame per core.Envelope; the hello frame that opens every
// connection, answered with an accept frame, or with a refusal frame that
// explains why the connection is dropped; and the cutting of the frame
// stream into data channel messages and back.
//
// Every frame is int32 size (big endian, the bytes that follow) and a kind
// byte; then, by kind:
//
//	hello:    version int8, node id int32, cluster string
//	accept:   nothing more
//	refuse:   reason string
//	request:  from int32, to int32, Kafka request frame (size, header v1/v2, body)
//	response: from int32, to int32, api key int16, api version int16,
//	          Kafka response frame (size, header v0/v1, body)
//	raft:     from int32, to int32, the raft message bytes (the rest)
//	state:    what the sending member shares of its broker for the other
//	          members' pages (p2p/gossip), opaque here (the rest)
//
// Strings are int16 length + bytes. Kafka frames are core/wire's, size
// included, so an envelope is a Kafka frame with its route in front; a
// response carries its API key and version because Kafka responses do not
// (a Kafka client knows them from the correlation id, a peer does not).
// Request envelopes carry CorrelationID and ClientID in the Kafka header,
// responses only the CorrelationID, raft envelopes neither.
//
// Decoding never panics and never allocates more than the frame's size
// beyond what kmsg's decoders allocate (see core/wire's package comment for
// their costs on hostile input; peers of one cluster are trusted that far).
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/wire"
)

// Version is the peer protocol version a hello carries; peers refuse a
// hello of another version.
const Version = 2 // 2: the state frame

// DefaultMaxFrame bounds a frame's size (after the size prefix): a Fetch
// response may hold fetch.max.bytes (50 MiB by default) of records.
const DefaultMaxFrame = 64 << 20

// Kind says what a frame carries.
type Kind byte

const (
	KindHello    Kind = 1
	KindAccept   Kind = 2
	KindRefuse   Kind = 3
	KindRequest  Kind = 4
	KindResponse Kind = 5
	KindRaft     Kind = 6
	KindState    Kind = 7
)

// MaxState bounds a state frame's payload.
const MaxState = 256 << 10

func (k Kind) String() string {
	switch k {
	case KindHello:
		return "hello"
	case KindAccept:
		return "accept"
	case KindRefuse:
		return "refuse"
	case KindRequest:
		return "request"
	case KindResponse:
		return "response"
	case KindRaft:
		return "raft"
	case KindState:
		return "state"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// Hello opens a connection: who is speaking, in which cluster.
type Hello struct {
	Version int8
	ID      core.NodeID
	Cluster string
}

// Frame is a decoded frame: Envelope for the envelope kinds, Hello,
// Reason or State for those.
type Frame struct {
	Kind     Kind
	Envelope core.Envelope
	Hello    Hello
	Reason   string
	State    []byte // aliases the decoded bytes
}

// Errors, matched with errors.Is.
var (
	// ErrMalformed is a frame that does not decode.
	ErrMalformed = errors.New("frame: malformed")
	// ErrEncode is an envelope or string that cannot be encoded.
	ErrEncode = errors.New("frame: cannot encode")
)

// maxString is the longest string an int16 length can carry.
const maxString = 1<<15 - 1

// AppendHello appends a hello frame for h (h.Version is ignored: Version is
// sent). The cluster name must fit an int16 length.
func AppendHello(dst []byte, h Hello) ([]byte, error) {
	if len(h.Cluster) > maxString {
		return dst, fmt.Errorf("%w: %d-byte cluster name", ErrEncode, len(h.Cluster))
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(KindHello), Version)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.ID))
	dst = appendString(dst, h.Cluster)
	return finish(dst, start), nil
}

// AppendAccept appends an accept frame: the answer to a welcome hello.
func AppendAccept(dst []byte) []byte {
	return append(dst, 0, 0, 0, 1, byte(KindAccept))
}

// AppendRefuse appends a refusal frame; a reason longer than an int16
// length is cut.
func AppendRefuse(dst []byte, reason string) []byte {
	if len(reason) > maxString {
		reason = reason[:maxString]
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(KindRefuse))
	dst = appendString(dst, reason)
	return finish(dst, start)
}

// AppendState appends a state frame carrying payload (at most MaxState
// bytes).
func AppendState(dst, payload []byte) ([]byte, error) {
	if len(payload) > MaxState {
		return dst, fmt.Errorf("%w: %d-byte state, the limit is %d", ErrEncode, len(payload), MaxState)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(KindState))
	return finish(append(dst, payload...), start), nil
}

// AppendEnvelope appends env's frame. It fails, leaving dst as it was, for
// an envelope that does not carry exactly one of Request, Response and Raft
// or whose ClientID is too long for a Kafka header.
func AppendEnvelope(dst []byte, env core.Envelope) ([]byte, error) {
	set := 0
	for _, ok := range []bool{env.Request != nil, env.Response != nil, env.Raft != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return dst, fmt.Errorf("%w: envelope %v carries %d messages, want 1", ErrEncode, env, set)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(env.From))
	dst = binary.BigEndian.AppendUint32(dst, uint32(env.To))
	switch {
	case env.Request != nil:
		if len(env.ClientID) > maxString {
			return dst[:start], fmt.Errorf("%w: %d-byte client id", ErrEncode, len(env.ClientID))
		}
		dst[start+4] = byte(KindRequest)
		dst = wire.AppendRequest(dst, wire.RequestHeader{CorrelationID: env.CorrelationID, ClientID: &env.ClientID}, env.Request)
	case env.Response != nil:
		dst[start+4] = byte(KindResponse)
		dst = binary.BigEndian.AppendUint16(dst, uint16(env.Response.Key()))
		dst = binary.BigEndian.AppendUint16(dst, uint16(env.Response.GetVersion()))
		dst = wire.AppendResponse(dst, env.CorrelationID, env.Response)
	default:
		dst[start+4] = byte(KindRaft)
		dst = append(dst, env.Raft...)
	}
	return finish(dst, start), nil
}

func finish(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// Decode decodes one frame: the bytes after the size prefix, as
// Assembler.Feed returns them. The envelope may alias b (raft bytes, Produce
// records). Errors wrap ErrMalformed, and core/wire's errors for the Kafka
// message inside.
func Decode(b []byte) (Frame, error) {
	if len(b) < 1 {
		return Frame{}, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	f := Frame{Kind: Kind(b[0])}
	b = b[1:]
	be := binary.BigEndian
	switch f.Kind {
	case KindHello:
		if len(b) < 5 {
			return f, fmt.Errorf("%w: %d-byte hello", ErrMalformed, len(b))
		}
		f.Hello.Version = int8(b[0])
		f.Hello.ID = core.NodeID(be.Uint32(b[1:]))
		s, rest, ok := readString(b[5:])
		if !ok || len(rest) != 0 {
			return f, fmt.Errorf("%w: hello cluster name", ErrMalformed)
		}
		f.Hello.Cluster = s
		return f, nil
	case KindAccept:
		if len(b) != 0 {
			return f, fmt.Errorf("%w: %d bytes after accept", ErrMalformed, len(b))
		}
		return f, nil
	case KindRefuse:
		s, rest, ok := readString(b)
		if !ok || len(rest) != 0 {
			return f, fmt.Errorf("%w: refusal reason", ErrMalformed)
		}
		f.Reason = s
		return f, nil
	case KindState:
		if len(b) > MaxState {
			return f, fmt.Errorf("%w: %d-byte state, the limit is %d", ErrMalformed, len(b), MaxState)
		}
		f.State = b[:len(b):len(b)]
		return f, nil
	case KindRequest, KindResponse, KindRaft:
	default:
		return f, fmt.Errorf("%w: unknown frame kind %d", ErrMalformed, byte(f.Kind))
	}
	if len(b) < 8 {
		return f, fmt.Errorf("%w: %d-byte %v route", ErrMalformed, len(b), f.Kind)
	}
	env := &f.Envelope
	env.From = core.NodeID(be.Uint32(b))
	env.To = core.NodeID(be.Uint32(b[4:]))
	b = b[8:]
	switch f.Kind {
	case KindRaft:
		env.Raft = b[:len(b):len(b)] // non-nil even when empty: it says "raft"
		return f, nil
	case KindRequest:
		kf, err := kafkaFrame(b)
		if err != nil {
			return f, err
		}
		h, req, err := wire.ReadRequest(kf)
		if err != nil {
			return f, fmt.Errorf("%w: request: %w", ErrMalformed, err)
		}
		env.CorrelationID, env.Request = h.CorrelationID, req
		if h.ClientID != nil {
			env.ClientID = *h.ClientID
		}
		return f, nil
	default:
		if len(b) < 4 {
			return f, fmt.Errorf("%w: %d-byte response key and version", ErrMalformed, len(b))
		}
		key, version := int16(be.Uint16(b)), int16(be.Uint16(b[2:]))
		kf, err := kafkaFrame(b[4:])
		if err != nil {
			return f, err
		}
		corr, resp, err := wire.ReadResponse(kf, key, version)
		if err != nil {
			return f, fmt.Errorf("%w: response: %w", ErrMalformed, err)
		}
		env.CorrelationID, env.Response = corr, resp
		return f, nil
	}
}

// kafkaFrame returns the Kafka frame that must fill b exactly.
func kafkaFrame(b []byte) ([]byte, error) {
	kf, rest, err := wire.ReadFrame(b, len(b))
	if err != nil {
		return nil, fmt.Errorf("%w: Kafka frame: %w", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the Kafka frame", ErrMalformed, len(rest))
	}
	return kf, nil
}

func readString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	if n < 0 || len(b)-2 < n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}
