// Package frametest builds envelopes for tests and benchmarks of the peer
// wire format and transports, and compares envelopes by their encoding.
package frametest

import (
	"bytes"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/p2p/frame"
)

// Batch is a record batch of n records with values of valueSize bytes;
// seed makes the contents differ between batches.
func Batch(n, valueSize, seed int) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte(seed + i + j)
		}
		recs[i] = record.Record{Timestamp: int64(seed), Key: fmt.Appendf(nil, "k%d-%d", seed, i), Value: v}
	}
	return record.Build(record.Batch{Records: recs})
}

// Produce is a Produce v9 request (flexible, header v2) carrying batch to
// partition 0 of "orders".
func Produce(from, to core.NodeID, corr int32, batch []byte) core.Envelope {
	r := kmsg.NewPtrProduceRequest()
	r.Version = 9
	r.Acks = -1
	r.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "orders"
	p := kmsg.NewProduceRequestTopicPartition()
	p.Records = batch
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return core.Envelope{From: from, To: to, CorrelationID: corr, ClientID: "producer-1", Request: r}
}

// FetchResponse is a Fetch v12 response (flexible) returning batch from
// partition 0 of "orders".
func FetchResponse(from, to core.NodeID, corr int32, batch []byte) core.Envelope {
	r := kmsg.NewPtrFetchResponse()
	r.Version = 12
	t := kmsg.NewFetchResponseTopic()
	t.Topic = "orders"
	p := kmsg.NewFetchResponseTopicPartition()
	p.HighWatermark = int64(corr)
	p.LastStableOffset = int64(corr)
	p.RecordBatches = batch
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return core.Envelope{From: from, To: to, CorrelationID: corr, Response: r}
}

// ApiVersionsResponse is a v3 ApiVersions response: flexible, yet with
// response header v0.
func ApiVersionsResponse(from, to core.NodeID, corr int32) core.Envelope {
	r := kmsg.NewPtrApiVersionsResponse()
	r.Version = 3
	k := kmsg.NewApiVersionsResponseApiKey()
	k.ApiKey, k.MaxVersion = 0, 11
	r.ApiKeys = append(r.ApiKeys, k)
	return core.Envelope{From: from, To: to, CorrelationID: corr, Response: r}
}

// Metadata is a Metadata v1 request (header v1, not flexible).
func Metadata(from, to core.NodeID, corr int32) core.Envelope {
	r := kmsg.NewPtrMetadataRequest()
	r.Version = 1
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr("orders")
	r.Topics = append(r.Topics, t)
	return core.Envelope{From: from, To: to, CorrelationID: corr, ClientID: "admin", Request: r}
}

// Raft is a raft envelope of n bytes.
func Raft(from, to core.NodeID, n, seed int) core.Envelope {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed * (i + 1))
	}
	return core.Envelope{From: from, To: to, Raft: b}
}

// Mixed is the i-th envelope of a varied stream from one node to another:
// Produce requests with small and large batches, Fetch responses, raft
// messages, non-flexible requests, ApiVersions responses.
func Mixed(from, to core.NodeID, i int) core.Envelope {
	corr := int32(i)
	switch i % 6 {
	case 0:
		return Produce(from, to, corr, Batch(1+i%5, 100, i))
	case 1:
		return FetchResponse(from, to, corr, Batch(3, 1024, i))
	case 2:
		return Raft(from, to, i%300, i)
	case 3:
		return Metadata(from, to, corr)
	case 4:
		if i%60 == 4 { // now and then a frame spanning several messages
			return Produce(from, to, corr, Batch(40, 1024, i))
		}
		return ApiVersionsResponse(from, to, corr)
	default:
		return FetchResponse(from, to, corr, Batch(10, 100, i))
	}
}

// Diff describes how got differs from want ("" when they are equal): route,
// correlation id, client id (requests only), and encoding.
func Diff(got, want core.Envelope) string {
	if got.From != want.From || got.To != want.To || got.CorrelationID != want.CorrelationID {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	if want.Request != nil && got.ClientID != want.ClientID {
		return fmt.Sprintf("client id %q, want %q", got.ClientID, want.ClientID)
	}
	g, err1 := frame.AppendEnvelope(nil, got)
	w, err2 := frame.AppendEnvelope(nil, want)
	if err1 != nil || err2 != nil {
		return fmt.Sprintf("encoding: %v / %v", err1, err2)
	}
	if !bytes.Equal(g, w) {
		return fmt.Sprintf("%v: encodings differ\n got %x\nwant %x", want, g, w)
	}
	return ""
}
