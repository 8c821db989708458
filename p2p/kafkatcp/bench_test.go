//go:build !js

package kafkatcp

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/core/wire"
	"github.com/streamlab/streamlab/p2p/host"
)

// BenchmarkRoundTrip is one small acks=1 Produce and its response on one
// loopback connection, again and again: the fixed cost of a request in the
// listener, the host and the broker (memory store).
func BenchmarkRoundTrip(b *testing.B) {
	store := storage.NewMemory()
	n := broker.New(broker.DefaultConfig(1))
	h := host.Start(n, store, host.Options{Logf: func(string, ...any) {}})
	defer h.Close()
	h.Do(func(m core.Machine) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}
		m.Step(core.Envelope{From: core.ClientIDBase - 1, To: 1, Request: req})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l, err := Serve(ln, h, Config{Logf: func(string, ...any) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	frame := wire.AppendRequest(nil, wire.RequestHeader{CorrelationID: 1}, produceReq(1, "t", "k", "v"))
	var body []byte
	for b.Loop() {
		if _, err := c.Write(frame); err != nil {
			b.Fatal(err)
		}
		var prefix [4]byte
		if _, err := io.ReadFull(br, prefix[:]); err != nil {
			b.Fatal(err)
		}
		body = append(body[:0], make([]byte, binary.BigEndian.Uint32(prefix[:]))...)
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
	}
}
