//go:build !js

package kafkatcp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/wire"
	"github.com/streamlab/streamlab/p2p/host"
)

// logSink collects the listener's log lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type fixture struct {
	t    *testing.T
	h    *host.Host
	l    *Listener
	log  *logSink
	addr string
}

// start runs a broker (memory store) behind a listener on a free loopback
// port; everything is closed, and checked for leaked goroutines, when the
// test ends.
func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	before := runtime.NumGoroutine()
	store := storage.NewMemory()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bcfg := broker.DefaultConfig(1)
	bcfg.Host, bcfg.Port = "127.0.0.1", int32(ln.Addr().(*net.TCPAddr).Port)
	n, err := broker.Open(bcfg, store)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, log: &logSink{}}
	f.h = host.Start(n, store, host.Options{Logf: f.log.logf})
	cfg.Logf = f.log.logf
	f.l, err = Serve(ln, f.h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	t.Cleanup(func() {
		f.l.Close()
		f.h.Close()
		waitGoroutines(t, before)
		if t.Failed() {
			t.Logf("listener log:\n%s", f.log)
		}
	})
	return f
}

func waitGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// client is a raw Kafka connection.
type client struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	corr int32
}

func (f *fixture) dial() *client {
	f.t.Helper()
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return &client{t: f.t, c: c, br: bufio.NewReader(c)}
}

func (c *client) frame(req kmsg.Request) []byte {
	c.corr++
	return wire.AppendRequest(nil, wire.RequestHeader{CorrelationID: c.corr, ClientID: kmsg.StringPtr("test")}, req)
}

func (c *client) send(b []byte) {
	c.t.Helper()
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response frame, or returns the read error.
func (c *client) read(timeout time.Duration) ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(timeout))
	var prefix [4]byte
	if _, err := io.ReadFull(c.br, prefix[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(prefix[:]))
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, err
	}
	return body, nil
}

func (c *client) response(key, version int16) (int32, kmsg.Response) {
	c.t.Helper()
	body, err := c.read(10 * time.Second)
	if err != nil {
		c.t.Fatalf("reading a %s response: %v", kmsg.NameForKey(key), err)
	}
	corr, resp, err := wire.ReadResponse(body, key, version)
	if err != nil {
		c.t.Fatal(err)
	}
	return corr, resp
}

func (c *client) do(req kmsg.Request) kmsg.Response {
	c.t.Helper()
	c.send(c.frame(req))
	corr, resp := c.response(req.Key(), req.GetVersion())
	if corr != c.corr {
		c.t.Fatalf("correlation id %d, want %d", corr, c.corr)
	}
	return resp
}

// closed checks that the server closes the connection within timeout
// without sending anything.
func (c *client) closed(timeout time.Duration) {
	c.t.Helper()
	b, err := c.read(timeout)
	if err == nil {
		c.t.Fatalf("got a %d-byte frame, want the connection closed", len(b))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", timeout)
	}
}

func apiVersions(v int16) *kmsg.ApiVersionsRequest {
	r := kmsg.NewPtrApiVersionsRequest()
	r.Version, r.ClientSoftwareName, r.ClientSoftwareVersion = v, "streamlab-test", "1.0"
	return r
}

func createTopic(c *client, name string, parts int32) {
	c.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: name, NumPartitions: parts, ReplicationFactor: 1}}
	if code := c.do(req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode; code != 0 {
		c.t.Fatalf("create %s: %v", name, kerr.ErrorForCode(code))
	}
}

func produceReq(acks int16, topic, key, value string) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, 30000
	raw := record.Build(record.Batch{Records: []record.Record{{Timestamp: time.Now().UnixMilli(), Key: []byte(key), Value: []byte(value)}}})
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: raw}}}}
	return req
}

func TestApiVersionsAndMetadata(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	for _, v := range []int16{0, 3, 4} {
		resp := c.do(apiVersions(v)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 || resp.Version != v || len(resp.ApiKeys) == 0 {
			t.Fatalf("v%d: %+v", v, resp)
		}
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	resp := c.do(md).(*kmsg.MetadataResponse)
	port := int32(f.l.Addr().(*net.TCPAddr).Port)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Host != "127.0.0.1" || resp.Brokers[0].Port != port {
		t.Fatalf("brokers %+v", resp.Brokers)
	}
}

// TestApiVersionsFromTheFuture: a version the broker does not implement, and
// one that kmsg does not even know, both get the v0 UNSUPPORTED_VERSION
// answer with the broker's ranges, and the connection stays usable.
func TestApiVersionsFromTheFuture(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	for _, v := range []int16{5, 99, -1} {
		frame := c.frame(apiVersions(4)) // a flexible header, as a v5 client sends

		binary.BigEndian.PutUint16(frame[6:], uint16(v)) // the header's version
		c.send(frame)
		corr, resp := c.response(18, 0) // the answer is v0 whatever was asked
		av := resp.(*kmsg.ApiVersionsResponse)
		if corr != c.corr || av.Version != 0 || av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) == 0 {
			t.Fatalf("v%d: corr %d, %+v", v, corr, av)
		}
	}
	if resp := c.do(apiVersions(3)).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("after: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestUnsupportedRequestsClose: an API or version the broker does not
// implement, a malformed body, an oversize or negative size prefix, and an
// empty frame all close the connection, as in Kafka.
func TestUnsupportedRequestsClose(t *testing.T) {
	f := start(t, Config{MaxFrameBytes: 1 << 20})
	old := produceReq(1, "t", "k", "v")
	old.Version = 2
	unknownKey := (&client{}).frame(apiVersions(0))
	binary.BigEndian.PutUint16(unknownKey[4:], 999)
	notImplemented := kmsg.NewPtrConsumerGroupHeartbeatRequest() // KIP-848, not in the broker
	notImplemented.Version = 0
	truncated := (&client{}).frame(produceReq(1, "t", "k", "v"))
	truncated = truncated[:len(truncated)-5]
	binary.BigEndian.PutUint32(truncated, uint32(len(truncated)-4))
	for name, frame := range map[string][]byte{
		"old produce":     (&client{}).frame(old),
		"unknown key":     unknownKey,
		"not implemented": (&client{}).frame(notImplemented),
		"truncated body":  truncated,
		"oversize":        {0x00, 0x20, 0x00, 0x00, 1, 2, 3}, // 2 MiB announced
		"negative":        {0xff, 0xff, 0xff, 0xfe},
		"empty":           {0, 0, 0, 0},
		"short header":    {0, 0, 0, 3, 0, 18, 0},
	} {
		t.Run(name, func(t *testing.T) {
			c := f.dial()
			c.t = t
			c.send(frame)
			c.closed(5 * time.Second)
		})
	}
}

// TestSerialAndPipelined: requests sent back to back in one write are
// answered one by one in order; the acks=0 produce in the middle gets no
// response, and its record is there.
func TestSerialAndPipelined(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	createTopic(c, "t", 1)
	var b []byte
	b = append(b, c.frame(produceReq(1, "t", "a", "1"))...)
	b = append(b, c.frame(produceReq(0, "t", "b", "2"))...)
	b = append(b, c.frame(produceReq(-1, "t", "c", "3"))...)
	b = append(b, c.frame(apiVersions(3))...)
	first := c.corr - 3
	c.send(b)
	for _, want := range []struct {
		corr int32
		key  int16
		base int64
	}{{first, 0, 0}, {first + 2, 0, 2}, {first + 3, 18, -1}} {
		v := int16(9)
		if want.key == 18 {
			v = 3
		}
		corr, resp := c.response(want.key, v)
		if corr != want.corr {
			t.Fatalf("correlation id %d, want %d", corr, want.corr)
		}
		if pr, ok := resp.(*kmsg.ProduceResponse); ok {
			if sp := pr.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.BaseOffset != want.base {
				t.Fatalf("produce corr %d: %v at %d", corr, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
			}
		}
	}
}

// TestFetchLongPoll: a fetch at the log end waits in the broker until
// MaxWaitMillis passes on the host's clock, and is answered at once when a
// record arrives from another connection.
func TestFetchLongPoll(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	createTopic(c, "t", 1)
	fetch := func(wait int32) *kmsg.FetchRequest {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes, req.MinBytes, req.MaxWaitMillis, req.SessionEpoch = 12, -1, 1<<20, 1, wait, -1
		req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
			{Partition: 0, FetchOffset: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
		return req
	}
	start := time.Now()
	resp := c.do(fetch(200)).(*kmsg.FetchResponse)
	if d := time.Since(start); d < 190*time.Millisecond || len(resp.Topics[0].Partitions[0].RecordBatches) != 0 {
		t.Fatalf("empty long poll answered after %v", d)
	}
	c.send(c.frame(fetch(30000)))
	time.Sleep(50 * time.Millisecond)
	p := f.dial()
	if pr := p.do(produceReq(1, "t", "k", "v")).(*kmsg.ProduceResponse); pr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatal("produce failed")
	}
	_, r := c.response(1, 12)
	if len(r.(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatal("the parked fetch came back empty")
	}
}

// TestLargeProduces: produce frames above smallFrame are read into buffers
// of their own, whose record batches the broker keeps without a copy, and
// sets the offsets of in place. Pipelined requests of different sizes,
// contents and acks, then a fetch of each, must give back exactly what was
// sent.
func TestLargeProduces(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	createTopic(c, "t", 1)
	var sent [][]byte
	var b []byte
	acks := []int16{1, 0, 1, 0, -1, 1}
	for i, size := range []int{200 << 10, 300 << 10, 100 << 10, 300 << 10, 70 << 10, 900 << 10} {
		value := bytes.Repeat([]byte{byte('a' + i)}, size)
		req := produceReq(acks[i], "t", "k", string(value))
		sent = append(sent, req.Topics[0].Partitions[0].Records)
		b = append(b, c.frame(req)...)
	}
	first := c.corr - int32(len(sent)) + 1
	c.send(b)
	for i := range sent {
		if acks[i] == 0 {
			continue
		}
		corr, resp := c.response(0, 9)
		sp := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if corr != first+int32(i) || sp.ErrorCode != 0 || sp.BaseOffset != int64(i) {
			t.Fatalf("produce %d: corr %d, %v at %d", i, corr, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
		}
	}
	for i, want := range sent {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes, req.SessionEpoch = 12, -1, 1, -1
		req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
			{Partition: 0, FetchOffset: int64(i), PartitionMaxBytes: 1, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
		got := c.do(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches
		h, _, err := record.ParseBatch(got)
		if err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		wh, _, _ := record.ParseBatch(want)
		if !bytes.Equal(h.Records, wh.Records) {
			t.Fatalf("fetch %d: the records differ from the ones produced", i)
		}
	}
}

// TestInflightIsNotIdle: a request that takes longer than the idle timeout
// (a long-polling fetch) keeps its connection open, also with the next
// request already sent behind it, and the idle timeout counts from the last
// response.
func TestInflightIsNotIdle(t *testing.T) {
	f := start(t, Config{IdleTimeout: 100 * time.Millisecond})
	c := f.dial()
	createTopic(c, "t", 1)
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes, req.MinBytes, req.MaxWaitMillis, req.SessionEpoch = 12, -1, 1<<20, 1, 300, -1
	req.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
		{Partition: 0, FetchOffset: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
	if resp := c.do(req).(*kmsg.FetchResponse); resp.ErrorCode != 0 {
		t.Fatal(resp.ErrorCode)
	}
	// Again, with the next request already sent behind it.
	c.send(append(c.frame(req), c.frame(apiVersions(0))...))
	c.response(1, 12)
	if _, resp := c.response(18, 0); resp.(*kmsg.ApiVersionsResponse).ErrorCode != 0 {
		t.Fatal("ApiVersions after the long poll failed")
	}
	start := time.Now()
	c.closed(5 * time.Second)
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("closed %v after the last response", d)
	}
}

func TestIdleAndSlowConnectionsClose(t *testing.T) {
	f := start(t, Config{IdleTimeout: 100 * time.Millisecond, FrameTimeout: 100 * time.Millisecond})
	idle := f.dial()
	if resp := idle.do(apiVersions(0)).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatal(resp.ErrorCode)
	}
	half := f.dial()
	frame := half.frame(apiVersions(3))
	half.send(frame[:len(frame)-3]) // and never the rest
	start := time.Now()
	idle.closed(5 * time.Second)
	half.closed(5 * time.Second)
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("closed after %v", d)
	}
	if !strings.Contains(f.log.String(), "connections.max.idle.ms=100") {
		t.Errorf("log: %s", f.log)
	}
}

// TestFrameBudget: frames announced and not yet arrived get buffers of their
// announced size only within frameBudget, shared by all connections; past
// it a frame's buffer grows as it arrives. The budget comes back when a
// frame has arrived, or its connection has gone.
func TestFrameBudget(t *testing.T) {
	f := start(t, Config{MaxFrameBytes: 100 << 20})
	arriving := func() int {
		f.l.mu.Lock()
		defer f.l.mu.Unlock()
		return f.l.arriving
	}
	const announced = 20 << 20
	var stalled []*client
	for range 5 {
		c := f.dial()
		var prefix [4]byte
		binary.BigEndian.PutUint32(prefix[:], announced)
		c.send(append(prefix[:], 0, 0, 0, 9)) // a Produce, then nothing
		stalled = append(stalled, c)
	}
	want := frameBudget / announced * announced
	deadline := time.Now().Add(5 * time.Second)
	for arriving() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes reserved for the stalled frames, want %d (the budget is %d)", arriving(), want, frameBudget)
		}
		time.Sleep(time.Millisecond)
	}
	// A frame that fits in what is left arrives as usual.
	c := f.dial()
	createTopic(c, "t", 1)
	req := produceReq(1, "t", "k", string(bytes.Repeat([]byte{'x'}, 512<<10)))
	if sp := c.do(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; sp.ErrorCode != 0 {
		t.Fatalf("a produce beside the stalled frames: %v", kerr.ErrorForCode(sp.ErrorCode))
	}
	for _, c := range stalled {
		c.c.Close()
	}
	for arriving() != 0 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatalf("%d bytes still reserved after the connections closed", arriving())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMaxConnections: with 2 slots, a third client waits (in the backlog,
// as with Kafka's acceptor) until one of the others leaves.
func TestMaxConnections(t *testing.T) {
	f := start(t, Config{MaxConnections: 2})
	a, b := f.dial(), f.dial()
	a.do(apiVersions(0))
	b.do(apiVersions(0))
	c := f.dial()
	c.send(c.frame(apiVersions(0)))
	if _, err := c.read(200 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served with two slots")
	}
	a.c.Close()
	if _, resp := c.response(18, 0); resp.(*kmsg.ApiVersionsResponse).ErrorCode != 0 {
		t.Fatal("third connection not served after a slot freed")
	}
}

// TestSlowDecodeCloses feeds a Fetch v13 frame on which kmsg v1.15.0 spins
// in a tag loop (see wire's TestKmsgTagCountSpin, here with a count that
// costs ~0.1 s rather than minutes): the connection closes after
// DecodeTimeout, and Close waits for the decoder.
func TestSlowDecodeCloses(t *testing.T) {
	f := start(t, Config{DecodeTimeout: 20 * time.Millisecond})
	c := f.dial()
	frame := []byte("\x00\x01\x00\r0000\x00\x040000\x000000000000000000000000000\x020000000000000000" +
		"\x0200000000000000000000000000000000\x00\xdd\xdd\xdd\x02\xdd")
	c.send(binary.BigEndian.AppendUint32(nil, uint32(len(frame))))
	start := time.Now()
	c.send(frame)
	c.closed(10 * time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if !strings.Contains(f.log.String(), "takes longer than 20ms") {
		t.Errorf("log: %s", f.log)
	}
}

// TestHostFailureClosesConnections: once the machine stops, requests are
// not answered and connections close.
func TestHostFailureClosesConnections(t *testing.T) {
	f := start(t, Config{})
	c := f.dial()
	c.do(apiVersions(0))
	f.h.Close()
	c.send(c.frame(apiVersions(0)))
	c.closed(5 * time.Second)
}

// failingStore refuses every write once fail is set.
type failingStore struct {
	storage.Store
	mu   sync.Mutex
	fail bool
}

func (s *failingStore) Append(name string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("no space left on device")
	}
	return s.Store.Append(name, data)
}

// TestStorageFailureSendsNoAck: a produce whose write fails gets no
// response, its connection closes, and so does every other one.
func TestStorageFailureSendsNoAck(t *testing.T) {
	before := runtime.NumGoroutine()
	store := &failingStore{Store: storage.NewMemory()}
	n := broker.New(broker.DefaultConfig(1))
	logs := &logSink{}
	h := host.Start(n, store, host.Options{Logf: logs.logf})
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Serve(ln, h, Config{Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := &fixture{t: t, h: h, l: l, log: logs, addr: ln.Addr().String()}
	c, other := f.dial(), f.dial()
	createTopic(c, "t", 1)
	other.do(apiVersions(0))
	store.mu.Lock()
	store.fail = true
	store.mu.Unlock()
	c.send(c.frame(produceReq(-1, "t", "k", "v")))
	c.closed(5 * time.Second)
	other.closed(5 * time.Second)
	if !strings.Contains(logs.String(), "no space left on device") {
		t.Errorf("log: %s", logs)
	}
	l.Close()
	h.Close()
	waitGoroutines(t, before)
}

func TestCloseWhileBusy(t *testing.T) {
	f := start(t, Config{})
	var cs []*client
	for i := 0; i < 5; i++ {
		c := f.dial()
		createTopic(c, fmt.Sprint("t", i), 1)
		cs = append(cs, c)
	}
	// One waits in a long poll, one is half-way through a frame.
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes, req.MinBytes, req.MaxWaitMillis, req.SessionEpoch = 12, -1, 1<<20, 1, 60000, -1
	req.Topics = []kmsg.FetchRequestTopic{{Topic: "t0", Partitions: []kmsg.FetchRequestTopicPartition{
		{Partition: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
	cs[0].send(cs[0].frame(req))
	fr := cs[1].frame(apiVersions(3))
	cs[1].send(fr[:6])
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { f.l.Close(); f.h.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	for _, c := range cs {
		c.closed(5 * time.Second)
	}
}
