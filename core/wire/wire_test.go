package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
)

func batch() []byte {
	return record.Build(record.Batch{Records: []record.Record{{Timestamp: 1, Key: []byte("k"), Value: []byte("v")}}})
}

func produce(v int16) kmsg.Request {
	r := kmsg.NewPtrProduceRequest()
	r.Version = v
	r.Acks = -1
	r.TimeoutMillis = 30000
	r.TransactionID = kmsg.StringPtr("txn")
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "orders"
	t.TopicID = [16]byte{1, 2, 3}
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = 2
	p.Records = batch()
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func fetch(v int16) kmsg.Request {
	r := kmsg.NewPtrFetchRequest()
	r.Version = v
	r.ReplicaID = -1
	r.MaxWaitMillis = 500
	r.MinBytes = 1
	r.MaxBytes = 1 << 20
	r.SessionEpoch = -1
	r.Rack = "rack-a"
	t := kmsg.NewFetchRequestTopic()
	t.Topic = "orders"
	t.TopicID = [16]byte{9}
	p := kmsg.NewFetchRequestTopicPartition()
	p.Partition = 1
	p.FetchOffset = 42
	p.CurrentLeaderEpoch = 3
	p.PartitionMaxBytes = 1 << 20
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

func metadata(v int16) kmsg.Request {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = v
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr("orders")
	r.Topics = append(r.Topics, t)
	r.AllowAutoTopicCreation = true
	return r
}

func apiVersions(v int16) kmsg.Request {
	r := kmsg.NewPtrApiVersionsRequest()
	r.Version = v
	r.ClientSoftwareName = "streamlab"
	r.ClientSoftwareVersion = "0.1"
	return r
}

func controlledShutdown(v int16) kmsg.Request {
	r := kmsg.NewPtrControlledShutdownRequest()
	r.Version = v
	r.BrokerID = 3
	r.BrokerEpoch = 17
	return r
}

// sampleRequests spans flexible and non-flexible versions of the APIs real
// clients start with (KAFKA-RULES.md's table).
func sampleRequests() []kmsg.Request {
	var out []kmsg.Request
	for _, v := range []int16{3, 7, 8, 9, 11, 13} {
		out = append(out, produce(v))
	}
	for _, v := range []int16{4, 7, 11, 12, 13, 16, 17} {
		out = append(out, fetch(v))
	}
	for _, v := range []int16{0, 1, 8, 9, 12} {
		out = append(out, metadata(v))
	}
	for _, v := range []int16{0, 1, 2, 3, 4} {
		out = append(out, apiVersions(v))
	}
	for _, v := range []int16{0, 1, 3} {
		out = append(out, controlledShutdown(v))
	}
	return out
}

func name(r kmsg.Request) string {
	return fmt.Sprintf("%s-v%d", kmsg.NameForKey(r.Key()), r.GetVersion())
}

func TestRequestRoundTrip(t *testing.T) {
	for i, req := range sampleRequests() {
		t.Run(name(req), func(t *testing.T) {
			h := RequestHeader{CorrelationID: int32(1000 + i), ClientID: kmsg.StringPtr("client-1")}
			prefix := []byte("prefix")
			buf := AppendRequest(bytes.Clone(prefix), h, req)
			if !bytes.HasPrefix(buf, prefix) {
				t.Fatal("prefix clobbered")
			}
			buf = buf[len(prefix):]

			// Independent framing: kmsg's own RequestFormatter.
			want := kmsg.NewRequestFormatter(kmsg.FormatterClientID("client-1")).AppendRequest(nil, req, h.CorrelationID)
			// kmsg v1.15.0's formatter returns early for ControlledShutdown v0
			// without the body or the size: it cannot serve as a reference.
			if !(req.Key() == 7 && req.GetVersion() == 0) && !bytes.Equal(buf, want) {
				t.Fatalf("frame differs from kmsg.RequestFormatter:\n got %x\nwant %x", buf, want)
			}

			frame, rest, err := ReadFrame(append(bytes.Clone(buf), 0xAA), 1<<20)
			if err != nil || !bytes.Equal(rest, []byte{0xAA}) {
				t.Fatalf("ReadFrame: rest %x, err %v", rest, err)
			}
			gh, got, err := ReadRequest(frame)
			if err != nil {
				t.Fatal(err)
			}
			wantClient := "client-1"
			if req.Key() == 7 && req.GetVersion() == 0 {
				wantClient = "" // header v0 has no client id
				if gh.ClientID != nil {
					t.Fatalf("ControlledShutdown v0 client id %q", *gh.ClientID)
				}
			} else if gh.ClientID == nil || *gh.ClientID != wantClient {
				t.Fatalf("client id %v", gh.ClientID)
			}
			if gh.Key != req.Key() || gh.Version != req.GetVersion() || gh.CorrelationID != h.CorrelationID ||
				got.Key() != req.Key() || got.GetVersion() != req.GetVersion() {
				t.Fatalf("header %+v, request %s", gh, name(got))
			}
			if again := AppendRequest(nil, gh, got); !bytes.Equal(again, buf) {
				t.Fatalf("re-encoded request differs")
			}
		})
	}
}

func TestProduceRecordsSurvive(t *testing.T) {
	buf := AppendRequest(nil, RequestHeader{CorrelationID: 1}, produce(9))
	_, req, err := ReadRequest(buf[4:])
	if err != nil {
		t.Fatal(err)
	}
	raw := req.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	h, _, err := record.ParseBatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := record.Records(h)
	if err != nil || string(recs[0].Value) != "v" {
		t.Fatalf("records %v, %v", recs, err)
	}
}

func TestNullClientID(t *testing.T) {
	buf := AppendRequest(nil, RequestHeader{CorrelationID: 5}, metadata(9))
	if !bytes.Equal(buf[12:14], []byte{0xff, 0xff}) {
		t.Fatalf("null client id encoded as %x", buf[12:14])
	}
	h, _, err := ReadRequest(buf[4:])
	if err != nil || h.ClientID != nil {
		t.Fatalf("%+v %v", h, err)
	}
}

func TestResponseHeaders(t *testing.T) {
	av := kmsg.NewPtrApiVersionsResponse()
	av.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 4}}
	md := kmsg.NewPtrMetadataResponse()
	md.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "localhost", Port: 9092}}
	cases := []struct {
		resp    kmsg.Response
		version int16
		tagByte bool
	}{
		{av, 0, false}, {av, 2, false}, {av, 3, false}, {av, 4, false}, // ApiVersions: always header v0
		{md, 1, false}, {md, 8, false}, {md, 9, true}, {md, 12, true},
	}
	for _, c := range cases {
		c.resp.SetVersion(c.version)
		body := c.resp.AppendTo(nil)
		buf := AppendResponse(nil, 77, c.resp)
		frame, rest, err := ReadFrame(buf, 0)
		if err != nil || len(rest) != 0 {
			t.Fatal(err)
		}
		hdr := []byte{0, 0, 0, 77}
		if c.tagByte {
			hdr = append(hdr, 0)
		}
		if !bytes.Equal(frame, append(hdr, body...)) {
			t.Errorf("key %d v%d: frame %x, want header %x + body", c.resp.Key(), c.version, frame, hdr)
		}
		corr, got, err := ReadResponse(frame, c.resp.Key(), c.version)
		if err != nil || corr != 77 || got.GetVersion() != c.version || !bytes.Equal(got.AppendTo(nil), body) {
			t.Errorf("key %d v%d: ReadResponse corr %d err %v", c.resp.Key(), c.version, corr, err)
		}
	}
}

// A broker that does not know the client's ApiVersions version answers v0
// with UNSUPPORTED_VERSION; the client must still read it.
func TestApiVersionsFallback(t *testing.T) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 3}}
	buf := AppendResponse(nil, 9, resp)
	for _, asked := range []int16{0, 1, 2, 3, 4} {
		corr, got, err := ReadResponse(buf[4:], 18, asked)
		if err != nil || corr != 9 {
			t.Fatalf("asked v%d: %v", asked, err)
		}
		av := got.(*kmsg.ApiVersionsResponse)
		if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) != 1 || av.ApiKeys[0].MaxVersion != 3 {
			t.Fatalf("asked v%d: decoded v%d %+v", asked, av.Version, av)
		}
	}
}

func TestUnknownKeyAndVersion(t *testing.T) {
	mk := func(key, version int16) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		b = binary.BigEndian.AppendUint32(b, 4242)
		b = binary.BigEndian.AppendUint16(b, 3)
		b = append(b, "cli"...)
		return append(b, 0, 0, 0, 0) // some body
	}
	cases := []struct {
		key, version int16
		want         error
	}{
		{999, 0, ErrUnknownAPIKey},
		{-1, 0, ErrUnknownAPIKey},
		{18, 99, ErrUnsupportedVersion}, // a future ApiVersions: the server answers v0
		{18, -1, ErrUnsupportedVersion},
		{0, 14, ErrUnsupportedVersion},
	}
	for _, c := range cases {
		h, req, err := ReadRequest(mk(c.key, c.version))
		var re *RequestError
		if req != nil || !errors.Is(err, c.want) || !errors.As(err, &re) {
			t.Fatalf("key %d v%d: %v", c.key, c.version, err)
		}
		for _, got := range []RequestHeader{h, re.Header} {
			if got.Key != c.key || got.Version != c.version || got.CorrelationID != 4242 ||
				got.ClientID == nil || *got.ClientID != "cli" {
				t.Fatalf("key %d v%d: header %+v", c.key, c.version, got)
			}
		}
	}
	// Responses: same sentinels.
	if _, _, err := ReadResponse([]byte{0, 0, 0, 1}, 999, 0); !errors.Is(err, ErrUnknownAPIKey) {
		t.Fatal(err)
	}
	if _, _, err := ReadResponse([]byte{0, 0, 0, 1}, 3, 99); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatal(err)
	}
}

func TestMalformed(t *testing.T) {
	if _, _, err := ReadRequest([]byte{0, 3, 0, 9, 0, 0}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
	// A body that stops early: the header is known, the cause is wrapped.
	full := AppendRequest(nil, RequestHeader{CorrelationID: 8}, fetch(12))[4:]
	h, _, err := ReadRequest(full[:len(full)-3])
	var re *RequestError
	if !errors.Is(err, ErrMalformed) || !errors.As(err, &re) || re.Header.CorrelationID != 8 || h.Key != 1 {
		t.Fatalf("truncated body: %v", err)
	}
	if u, ok := re.Err.(interface{ Unwrap() []error }); !ok || len(u.Unwrap()) != 2 {
		t.Fatalf("cause not wrapped: %v", err)
	}
	// A header tag section claiming 2^32-1 tags must fail fast.
	b := []byte{0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, _, err := ReadRequest(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("tag bomb: %v", err)
	}
	// A client id longer than the frame.
	b = []byte{0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 'x'}
	if _, _, err := ReadRequest(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long client id: %v", err)
	}
}

// Every prefix of every sample frame: no panic, and an error for any prefix
// shorter than the header.
func TestTruncatedRequests(t *testing.T) {
	for _, req := range sampleRequests() {
		buf := AppendRequest(nil, RequestHeader{CorrelationID: 3, ClientID: kmsg.StringPtr("c")}, req)
		for i := 0; i < len(buf); i++ {
			if _, _, err := ReadFrame(buf[:i], 0); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("%s: ReadFrame(%d bytes) = %v", name(req), i, err)
			}
			frame := buf[4:max(4, i)]
			_, _, err := ReadRequest(frame)
			if len(frame) < 8 && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: %d-byte frame: %v", name(req), len(frame), err)
			}
		}
	}
}

func TestTruncatedResponses(t *testing.T) {
	md := kmsg.NewPtrMetadataResponse()
	md.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "h", Port: 1}}
	for _, v := range []int16{0, 9, 12} {
		md.SetVersion(v)
		frame := AppendResponse(nil, 1, md)[4:]
		for i := 0; i < len(frame); i++ {
			if _, _, err := ReadResponse(frame[:i], 3, v); err == nil {
				t.Fatalf("metadata v%d: %d of %d bytes decoded", v, i, len(frame))
			}
		}
	}
}

func TestReadFrame(t *testing.T) {
	be := func(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	if _, _, err := ReadFrame(be(-1), 100); !errors.Is(err, ErrNegativeSize) {
		t.Fatal(err)
	}
	if _, _, err := ReadFrame(be(101), 100); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
	// Too large is reported from the prefix alone, before the body arrives.
	if _, _, err := ReadFrame(be(1<<31-1), 1<<20); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
	if _, _, err := ReadFrame(be(100), 100); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	frame, rest, err := ReadFrame(append(be(0), 1, 2), 100)
	if err != nil || len(frame) != 0 || !bytes.Equal(rest, []byte{1, 2}) {
		t.Fatalf("empty frame: %x %x %v", frame, rest, err)
	}
	b := append(append(be(2), 7, 8), append(be(1), 9)...)
	frame, rest, err = ReadFrame(b, 2)
	if err != nil || !bytes.Equal(frame, []byte{7, 8}) {
		t.Fatal(err)
	}
	frame, rest, err = ReadFrame(rest, 2)
	if err != nil || !bytes.Equal(frame, []byte{9}) || len(rest) != 0 {
		t.Fatal(err)
	}
	// frame's capacity ends at the frame: appending cannot clobber rest.
	if cap(frame) != 1 {
		t.Fatalf("cap %d", cap(frame))
	}
}

func TestRequestErrorMessage(t *testing.T) {
	_, _, err := ReadRequest([]byte{0, 18, 0, 99, 0, 0, 0, 5, 0xff, 0xff})
	if msg := err.Error(); msg == "" || !bytes.Contains([]byte(msg), []byte("ApiVersions")) {
		t.Fatalf("message %q", msg)
	}
}
