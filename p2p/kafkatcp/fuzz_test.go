//go:build !js

package kafkatcp

import (
	"encoding/binary"
	"github.com/streamlab/streamlab/core/wire/wiretest"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/wire"
	"github.com/streamlab/streamlab/p2p/host"
)

// noListener is a net.Listener that accepts nothing: FuzzConn hands its
// connections to ServeConn directly.
type noListener struct {
	once   sync.Once
	closed chan struct{}
}

func (l *noListener) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *noListener) Close() error              { l.once.Do(func() { close(l.closed) }); return nil }
func (l *noListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092} }

// fuzzSeeds are mostly non-flexible requests: -1 fields and record bytes in
// a flexible request look like a tag bomb to wiretest.MayHitKmsgTagSpin, which skips
// the input.
func fuzzSeeds() [][]byte {
	c := &client{}
	frame := func(reqs ...kmsg.Request) []byte {
		var b []byte
		for _, r := range reqs {
			b = append(b, c.frame(r)...)
		}
		return b
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version, md.AllowAutoTopicCreation = 8, true
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("auto")}}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version = 4
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "new", NumPartitions: 2, ReplicationFactor: 1}}
	p1, p0 := produceReq(1, "t", "k", "v"), produceReq(0, "t", "k", "v")
	p1.Version, p0.Version = 8, 8
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.ReplicaID, fetch.MaxBytes, fetch.MinBytes, fetch.MaxWaitMillis, fetch.SessionEpoch = 11, -1, 1<<20, 1, 10, -1
	fetch.Topics = []kmsg.FetchRequestTopic{{Topic: "t", Partitions: []kmsg.FetchRequestTopicPartition{
		{Partition: 0, PartitionMaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LogStartOffset: -1}}}}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version, lo.ReplicaID = 5, -1
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "t", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, Timestamp: -1, CurrentLeaderEpoch: -1}}}}
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.Version, dt.TopicNames = 3, []string{"t"}
	future := frame(apiVersions(3))
	binary.BigEndian.PutUint16(future[6:], 77)
	return [][]byte{
		frame(apiVersions(3), md, ct),
		frame(p1, p0, fetch, lo),
		frame(dt, md),
		future,
		{0, 0, 0, 0},
		{0x7f, 0xff, 0xff, 0xff, 0, 18},
		{0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff},
	}
}

// FuzzConn feeds arbitrary bytes to one connection of a listener in front of
// a real broker: the listener must not panic or hang, must close the
// connection cleanly, and must leave no goroutine behind; the broker must
// not panic (the host would report it).
//
// Run: go test -run=^$ -fuzz=FuzzConn -fuzztime=60s ./p2p/kafkatcp
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		if inputMayHitKmsgTagSpin(input) {
			t.Skip("input may trigger kmsg v1.15.0's tag-count spin (wire's TestKmsgTagCountSpin)")
		}
		before := runtime.NumGoroutine()
		n := broker.New(broker.DefaultConfig(1))
		h := host.Start(n, storage.NewMemory(), host.Options{Logf: func(string, ...any) {}})
		// A topic for the fuzzed requests to find.
		h.Do(func(m core.Machine) {
			req := kmsg.NewPtrCreateTopicsRequest()
			req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 2, ReplicationFactor: 1}}
			m.Step(core.Envelope{From: core.ClientIDBase - 1, To: 1, Request: req})
		})
		l, err := Serve(&noListener{closed: make(chan struct{})}, h, Config{
			MaxFrameBytes: 1 << 20, IdleTimeout: 5 * time.Millisecond, FrameTimeout: 5 * time.Millisecond,
			DecodeTimeout: time.Second, Logf: func(string, ...any) {},
		})
		if err != nil {
			t.Fatal(err)
		}
		srv, cli := net.Pipe()
		served := make(chan struct{})
		go func() { l.ServeConn(srv); close(served) }()
		drained := make(chan struct{})
		go func() { io.Copy(io.Discard, cli); close(drained) }()
		cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
		cli.Write(input) // fails once the listener closes the connection
		select {
		case <-served: // closed by the listener (bad input, or idle)
		case <-time.After(50 * time.Millisecond): // a long poll, say
		}
		cli.Close()
		closed := make(chan error, 1)
		go func() { l.Close(); closed <- h.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("the machine stopped: %v", err)
			}
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("Close hangs:\n%s", buf[:runtime.Stack(buf, true)])
		}
		<-served
		<-drained
		waitGoroutines(t, before)
	})
}

func TestFuzzConnSeeds(t *testing.T) {
	for _, s := range fuzzSeeds() {
		if inputMayHitKmsgTagSpin(s) {
			t.Fatalf("seed %x would be skipped", s)
		}
	}
}

// inputMayHitKmsgTagSpin applies wiretest.MayHitKmsgTagSpin to every whole frame of
// a connection's input.
func inputMayHitKmsgTagSpin(b []byte) bool {
	for {
		frame, rest, err := wire.ReadFrame(b, 0)
		if err != nil {
			return false
		}
		if wiretest.MayHitKmsgTagSpin(frame) {
			return true
		}
		b = rest
	}
}
