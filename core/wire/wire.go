// Package wire is Kafka's framing: the 4-byte size prefix, request and
// response headers, and the kmsg bodies they carry. The TCP listener for real
// clients and the envelopes between Streamlab machines both use it.
//
// Framing follows Kafka's protocol guide (protocol.html, "Common Request and
// Response Structure"): every message is int32 size + header + body. Request
// header v1 is api_key, api_version, correlation_id, client_id (nullable
// string); v2, used by flexible API versions, adds tagged fields. The client id
// stays a non-compact string even in v2 so old brokers can read an
// ApiVersions request. Response header v0 is the correlation id; v1 (flexible)
// adds tagged fields, except that ApiVersions responses always use v0.
//
// Readers never panic on malformed input: frames come from the network. Two
// costs of kmsg v1.15.0's body decoders are bounded only by the caller:
//   - arrays are preallocated up to one element per remaining byte, so a
//     frame can make kmsg allocate many times its size (measured: 1 MiB Fetch v4
//     frame, 68 MiB); pick ReadFrame's maximum with that in mind;
//   - a tag count larger than the bytes left makes a tag loop keep counting
//     down after the input ends, up to 2^32 cheap iterations (~2 minutes of
//     CPU for a 100-byte frame; see TestKmsgTagCountSpin). A server facing
//     untrusted clients should decode off its critical path and drop
//     connections whose requests take too long.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestHeader is a Kafka request header.
type RequestHeader struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      *string
}

// Errors, matched with errors.Is.
var (
	// ErrIncomplete means b does not yet hold a whole frame: read more.
	ErrIncomplete = errors.New("wire: incomplete frame")
	// ErrFrameTooLarge is a size prefix above the maximum. Kafka closes the
	// connection (NetworkReceive.readFrom throws InvalidReceiveException;
	// socket.request.max.bytes defaults to 104857600).
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrNegativeSize is a negative size prefix, which Kafka also rejects by
	// closing the connection (NetworkReceive.readFrom).
	ErrNegativeSize = errors.New("wire: negative frame size")
	// ErrUnknownAPIKey is an API key kmsg does not know.
	ErrUnknownAPIKey = errors.New("wire: unknown API key")
	// ErrUnsupportedVersion is a version outside 0..MaxVersion of kmsg's
	// message. A server answers it only for ApiVersions, with a v0 response
	// carrying UNSUPPORTED_VERSION and its own version range (KIP-511;
	// Kafka's SocketServer/KafkaApis, kfake's client_conn.go); for any other
	// API Kafka closes the connection.
	ErrUnsupportedVersion = errors.New("wire: unsupported API version")
	// ErrMalformed is a header or body that does not decode. Kafka closes
	// the connection (RequestContext.parseRequest throws
	// InvalidRequestException).
	ErrMalformed = errors.New("wire: malformed message")
)

// RequestError is what ReadRequest returns once the header's key, version
// and correlation id are known, so a server can still answer or log. Err is
// ErrUnknownAPIKey, ErrUnsupportedVersion, or ErrMalformed joined with the
// decoding cause.
type RequestError struct {
	Header RequestHeader
	Err    error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("%v (api key %d %s, version %d, correlation id %d)",
		e.Err, e.Header.Key, kmsg.NameForKey(e.Header.Key), e.Header.Version, e.Header.CorrelationID)
}

func (e *RequestError) Unwrap() error { return e.Err }

// ReadFrame splits the first size-prefixed frame off b: frame is the bytes
// after the size, rest what follows it; both alias b. It returns
// ErrIncomplete when b holds less than a whole frame, and ErrNegativeSize or
// ErrFrameTooLarge (size > maxSize) as soon as the 4-byte prefix is present, so
// a reader never buffers toward an absurd size. maxSize <= 0 means no limit.
func ReadFrame(b []byte, maxSize int) (frame, rest []byte, err error) {
	if len(b) < 4 {
		return nil, b, ErrIncomplete
	}
	size := int64(int32(binary.BigEndian.Uint32(b)))
	switch {
	case size < 0:
		return nil, b, fmt.Errorf("%w: %d", ErrNegativeSize, size)
	case maxSize > 0 && size > int64(maxSize):
		return nil, b, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, maxSize)
	case int64(len(b)-4) < size:
		return nil, b, ErrIncomplete
	}
	end := 4 + int(size)
	return b[4:end:end], b[end:], nil
}

// headerV0 reports whether a request uses header v0 (no client id): only
// ControlledShutdown v0, which predates client ids (ApiKeys.requestHeaderVersion;
// kmsg.RequestFormatter special-cases it too).
func headerV0(key, version int16) bool { return key == 7 && version == 0 }

// ReadRequest decodes a request frame (the bytes after the size prefix).
// The returned request may alias frame (byte fields such as Produce records
// are not copied). Errors: ErrMalformed for a frame shorter than a header;
// otherwise a *RequestError carrying the header (see its doc). The header is
// also returned as the first result whenever it was read.
func ReadRequest(frame []byte) (RequestHeader, kmsg.Request, error) {
	var h RequestHeader
	if len(frame) < 8 {
		return h, nil, fmt.Errorf("%w: %d-byte request header", ErrMalformed, len(frame))
	}
	be := binary.BigEndian
	h.Key = int16(be.Uint16(frame))
	h.Version = int16(be.Uint16(frame[2:]))
	h.CorrelationID = int32(be.Uint32(frame[4:]))
	r := reader{b: frame[8:]}
	if !headerV0(h.Key, h.Version) {
		h.ClientID = r.nullableString()
	}
	fail := func(err error) (RequestHeader, kmsg.Request, error) {
		return h, nil, &RequestError{Header: h, Err: err}
	}

	req := kmsg.RequestForKey(h.Key)
	if req == nil {
		return fail(ErrUnknownAPIKey)
	}
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return fail(ErrUnsupportedVersion)
	}
	req.SetVersion(h.Version)
	if req.IsFlexible() && !headerV0(h.Key, h.Version) {
		r.skipTags()
	}
	if r.bad {
		return fail(fmt.Errorf("%w: request header", ErrMalformed))
	}
	if err := readBody(req, r.b); err != nil {
		return fail(fmt.Errorf("%w: %s v%d body: %w", ErrMalformed, kmsg.NameForKey(h.Key), h.Version, err))
	}
	return h, req, nil
}

// readBody decodes a kmsg body. A panic inside kmsg on hostile bytes (none
// is known; the fuzz targets look for them) becomes an error rather than
// taking the node down with it.
func readBody(m interface{ ReadFrom([]byte) error }, b []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kmsg panicked: %v", p)
		}
	}()
	return m.ReadFrom(b)
}

// AppendRequest appends a whole request frame: size, header, body. The API
// key and version come from req (h.Key and h.Version are ignored); h gives
// the correlation id and client id.
func AppendRequest(dst []byte, h RequestHeader, req kmsg.Request) []byte {
	start := len(dst)
	key, version := req.Key(), req.GetVersion()
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.CorrelationID))
	if !headerV0(key, version) {
		dst = appendNullableString(dst, h.ClientID)
		if req.IsFlexible() {
			dst = append(dst, 0) // no header tags
		}
	}
	dst = req.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// flexibleHeader reports whether a response uses header v1. ApiVersions
// never does, so a client that does not yet know the broker's versions can
// always read the correlation id (KIP-511; ApiKeys.responseHeaderVersion).
func flexibleHeader(resp kmsg.Response) bool {
	return resp.IsFlexible() && resp.Key() != 18
}

// AppendResponse appends a whole response frame: size, header, body, at the
// version set on resp.
func AppendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if flexibleHeader(resp) {
		dst = append(dst, 0) // no header tags
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ReadResponse decodes a response frame (the bytes after the size prefix) to
// a request of the given key and version; responses do not name their API,
// the caller knows it from the correlation id.
//
// An ApiVersions response that does not decode at the requested version is
// decoded again as v0: a broker that does not support the requested version
// answers with a v0 UNSUPPORTED_VERSION response (ApiVersionsResponse.parse
// in Kafka's clients does the same fallback). The returned response's
// GetVersion tells which version decoded.
func ReadResponse(frame []byte, key, version int16) (int32, kmsg.Response, error) {
	resp := kmsg.ResponseForKey(key)
	if resp == nil {
		return 0, nil, fmt.Errorf("%w: %d", ErrUnknownAPIKey, key)
	}
	if version < 0 || version > resp.MaxVersion() {
		return 0, nil, fmt.Errorf("%w: %s v%d", ErrUnsupportedVersion, kmsg.NameForKey(key), version)
	}
	if len(frame) < 4 {
		return 0, nil, fmt.Errorf("%w: %d-byte response header", ErrMalformed, len(frame))
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	resp.SetVersion(version)
	r := reader{b: frame[4:]}
	if flexibleHeader(resp) {
		if r.skipTags(); r.bad {
			return corr, nil, fmt.Errorf("%w: response header", ErrMalformed)
		}
	}
	err := readBody(resp, r.b)
	if err != nil && key == 18 && version != 0 {
		v0 := kmsg.ResponseForKey(key)
		v0.SetVersion(0)
		if readBody(v0, r.b) == nil {
			return corr, v0, nil
		}
	}
	if err != nil {
		return corr, nil, fmt.Errorf("%w: %s v%d body: %w", ErrMalformed, kmsg.NameForKey(key), version, err)
	}
	return corr, resp, nil
}

// reader reads header fields; after the first failure it stays bad and
// reads nothing more.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) span(n uint64) []byte {
	if r.bad || n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) nullableString() *string {
	l := r.span(2)
	if l == nil {
		return nil
	}
	n := int16(binary.BigEndian.Uint16(l))
	if n < 0 {
		return nil
	}
	s := r.span(uint64(n))
	if s == nil {
		return nil
	}
	str := string(s)
	return &str
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n > 5 || v > 1<<32-1 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// skipTags skips a tagged-field section with kmsg.SkipTags' semantics, but
// stops at the first failure: kmsg.SkipTags keeps looping over a tag count
// of up to 2^32 even after its reader runs dry.
func (r *reader) skipTags() {
	for n := r.uvarint(); n > 0 && !r.bad; n-- {
		r.uvarint() // tag
		r.span(r.uvarint())
	}
}

func appendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return binary.BigEndian.AppendUint16(dst, 0xffff)
	}
	if len(*s) > 1<<15-1 {
		panic("wire: client id longer than 32767 bytes")
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(*s)))
	return append(dst, *s...)
}
