//go:build !js

package rtc

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/frame"
	"github.com/streamlab/streamlab/p2p/frame/frametest"
)

// BenchmarkRawDataChannel is the ceiling: 16 KiB messages on a bare pion
// data channel over loopback, with the transport's flow control.
func BenchmarkRawDataChannel(b *testing.B) {
	send, recv := rawPair(b)
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	recv.OnMessage(func(webrtc.DataChannelMessage) {
		if got.Add(1) == target {
			close(done)
		}
	})
	low := make(chan struct{}, 1)
	send.SetBufferedAmountLowThreshold(lowWater)
	send.OnBufferedAmountLow(func() { signal(low) })
	msg := make([]byte, frame.MessageSize)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for range b.N {
		for send.BufferedAmount() > highWater {
			<-low
		}
		if err := send.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	<-done
}

// rawPair connects two pion peer connections directly (no trickle: the
// offer and answer carry the gathered candidates).
func rawPair(b *testing.B) (send, recv *webrtc.DataChannel) {
	api := LoopbackAPI()
	var dcs [2]*webrtc.DataChannel
	var pcs [2]*webrtc.PeerConnection
	yes, zero := true, uint16(0)
	for i := range pcs {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { pc.Close() })
		dc, err := pc.CreateDataChannel("raw", &webrtc.DataChannelInit{Ordered: &yes, Negotiated: &yes, ID: &zero})
		if err != nil {
			b.Fatal(err)
		}
		pcs[i], dcs[i] = pc, dc
	}
	open := make(chan struct{})
	dcs[0].OnOpen(func() { close(open) })
	describe := func(pc *webrtc.PeerConnection, create func(*webrtc.PeerConnection) (webrtc.SessionDescription, error)) webrtc.SessionDescription {
		sd, err := create(pc)
		if err != nil {
			b.Fatal(err)
		}
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(sd); err != nil {
			b.Fatal(err)
		}
		<-gathered
		return *pc.LocalDescription()
	}
	offer := describe(pcs[0], func(pc *webrtc.PeerConnection) (webrtc.SessionDescription, error) { return pc.CreateOffer(nil) })
	if err := pcs[1].SetRemoteDescription(offer); err != nil {
		b.Fatal(err)
	}
	answer := describe(pcs[1], func(pc *webrtc.PeerConnection) (webrtc.SessionDescription, error) { return pc.CreateAnswer(nil) })
	if err := pcs[0].SetRemoteDescription(answer); err != nil {
		b.Fatal(err)
	}
	select {
	case <-open:
	case <-time.After(30 * time.Second):
		b.Fatal("raw data channel did not open")
	}
	return dcs[0], dcs[1]
}

// BenchmarkProduce sends Produce requests from one transport to another
// over loopback, each op one request carrying one batch of records:
// encoding, chunking, the data channel, reassembly and decoding.
func BenchmarkProduce(b *testing.B) {
	for _, c := range []struct{ size, records int }{{100, 1}, {100, 150}, {1024, 1}, {1024, 15}} {
		b.Run(fmt.Sprintf("%dB-x%d", c.size, c.records), func(b *testing.B) {
			benchProduce(b, frametest.Produce(1, 2, 0, frametest.Batch(c.records, c.size, 0)), c.records)
		})
	}
}

func benchProduce(b *testing.B, env core.Envelope, records int) {
	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	hub := NewMemSignaling()
	a := startNode(b, hub, 1, "bench")
	startNode(b, hub, 2, "bench", func(c *Config) {
		c.Receive = func(core.NodeID, core.Envelope) {
			if got.Add(1) == target {
				close(done)
			}
		}
	})
	a.Connect(2)
	a.waitUp(b, 2)
	enc, _ := frame.AppendEnvelope(nil, env)
	b.SetBytes(int64(len(enc)))
	b.ResetTimer()
	for range b.N {
		for {
			err := a.Send(2, env)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrSendQueueFull) {
				b.Fatal(err)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	<-done
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
}
