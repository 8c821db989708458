package frame_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/wire"
	"github.com/streamlab/streamlab/p2p/frame"
	"github.com/streamlab/streamlab/p2p/frame/frametest"
)

func envelopes(n int) []core.Envelope {
	out := make([]core.Envelope, n)
	for i := range out {
		out[i] = frametest.Mixed(1, 2, i)
	}
	return out
}

func TestEnvelopeRoundTrip(t *testing.T) {
	envs := append(envelopes(60),
		core.Envelope{From: 3, To: -1, Raft: []byte{}},
		core.Envelope{From: core.ClientIDBase + 7, To: 2, CorrelationID: -5, ClientID: strings.Repeat("c", 1<<15-1), Request: kmsg.NewPtrApiVersionsRequest()},
	)
	for _, env := range envs {
		b, err := frame.AppendEnvelope([]byte("prefix"), env)
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		body, rest, err := wire.ReadFrame(b[len("prefix"):], 0)
		if err != nil || len(rest) != 0 {
			t.Fatalf("%v: size prefix: %v, %d bytes left", env, err, len(rest))
		}
		f, err := frame.Decode(body)
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		if d := frametest.Diff(f.Envelope, env); d != "" {
			t.Fatal(d)
		}
		if (f.Envelope.Raft != nil) != (env.Raft != nil) || f.Envelope.Key() != env.Key() {
			t.Fatalf("%v decoded as %v", env, f.Envelope)
		}
	}
}

func TestHelloAcceptRefuse(t *testing.T) {
	b, err := frame.AppendHello(nil, frame.Hello{ID: 3, Cluster: "classroom"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := frame.Decode(b[4:])
	if err != nil || f.Kind != frame.KindHello || f.Hello != (frame.Hello{Version: frame.Version, ID: 3, Cluster: "classroom"}) {
		t.Fatalf("%+v, %v", f, err)
	}
	if _, err := frame.AppendHello(nil, frame.Hello{Cluster: strings.Repeat("x", 1<<15)}); !errors.Is(err, frame.ErrEncode) {
		t.Fatalf("long cluster name: %v", err)
	}
	if f, err := frame.Decode(frame.AppendAccept(nil)[4:]); err != nil || f.Kind != frame.KindAccept {
		t.Fatalf("accept: %+v, %v", f, err)
	}
	b = frame.AppendRefuse(nil, strings.Repeat("r", 1<<16))
	f, err = frame.Decode(b[4:])
	if err != nil || f.Kind != frame.KindRefuse || len(f.Reason) != 1<<15-1 {
		t.Fatalf("%v, %d-byte reason, %v", f.Kind, len(f.Reason), err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, env := range []core.Envelope{
		{From: 1, To: 2},
		{From: 1, To: 2, Raft: []byte{1}, Request: kmsg.NewPtrMetadataRequest()},
		{From: 1, To: 2, ClientID: strings.Repeat("c", 1<<15), Request: kmsg.NewPtrMetadataRequest()},
	} {
		b, err := frame.AppendEnvelope([]byte("x"), env)
		if !errors.Is(err, frame.ErrEncode) || string(b) != "x" {
			t.Errorf("%+v: %q, %v", env, b, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good, _ := frame.AppendEnvelope(nil, frametest.Produce(1, 2, 3, frametest.Batch(1, 10, 0)))
	good = good[4:]
	for name, b := range map[string][]byte{
		"empty":           {},
		"unknown kind":    {9, 0, 0, 0, 1},
		"accept trailing": {byte(frame.KindAccept), 0},
		"short hello":     {byte(frame.KindHello), 1, 0, 0},
		"hello trailing":  append(must(frame.AppendHello(nil, frame.Hello{Cluster: "a"}))[4:], 0),
		"short route":     {byte(frame.KindRaft), 0, 0, 0, 1, 0},
		"truncated":       good[:len(good)-1],
		"trailing":        append(slices.Clone(good), 0),
		"response key":    {byte(frame.KindResponse), 0, 0, 0, 1, 0, 0, 0, 2, 0x7f},
		"unknown api":     {byte(frame.KindResponse), 0, 0, 0, 1, 0, 0, 0, 2, 0x7f, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1},
		"state too large": append([]byte{byte(frame.KindState)}, make([]byte, frame.MaxState+1)...),
	} {
		if _, err := frame.Decode(b); !errors.Is(err, frame.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{{}, []byte(`{"id":2}`), make([]byte, frame.MaxState)} {
		b, err := frame.AppendState([]byte("x"), payload)
		if err != nil {
			t.Fatal(err)
		}
		f, err := frame.Decode(b[5:])
		if err != nil || f.Kind != frame.KindState || !bytes.Equal(f.State, payload) {
			t.Fatalf("%d bytes: %v %v %d", len(payload), f.Kind, err, len(f.State))
		}
	}
	if b, err := frame.AppendState([]byte("x"), make([]byte, frame.MaxState+1)); !errors.Is(err, frame.ErrEncode) || string(b) != "x" {
		t.Errorf("an oversize state: %q, %v", b[:min(len(b), 8)], err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestMessagesAndAssembler(t *testing.T) {
	var frames [][]byte
	var stream []byte
	for _, env := range envelopes(300) {
		b, err := frame.AppendEnvelope(nil, env)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
		stream = append(stream, b...)
	}
	for _, size := range []int{1, 7, 1000, frame.MessageSize} {
		var joined []byte
		a := frame.NewAssembler(0)
		var got [][]byte
		for m := range frame.Messages(frames, size) {
			if len(m) == 0 || len(m) > size {
				t.Fatalf("size %d: %d-byte message", size, len(m))
			}
			joined = append(joined, m...)
			fs, err := a.Feed(m)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, fs...)
		}
		if !bytes.Equal(joined, stream) {
			t.Fatalf("size %d: messages do not join into the stream", size)
		}
		if len(got) != len(frames) {
			t.Fatalf("size %d: %d frames, want %d", size, len(got), len(frames))
		}
		for i := range got {
			if !bytes.Equal(got[i], frames[i][4:]) {
				t.Fatalf("size %d: frame %d differs", size, i)
			}
		}
	}
}

func TestAssemblerLimits(t *testing.T) {
	a := frame.NewAssembler(10)
	if fs, err := a.Feed([]byte{0, 0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0}); err != nil || len(fs) != 1 {
		t.Fatalf("%d frames, %v", len(fs), err)
	}
	if _, err := a.Feed([]byte{0, 11}); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("11-byte frame with max 10: %v", err)
	}
	if _, err := a.Feed([]byte{0}); !errors.Is(err, frame.ErrFrameTooLarge) {
		t.Fatalf("error not sticky: %v", err)
	}
	if _, err := frame.NewAssembler(0).Feed([]byte{0x80, 0, 0, 0}); !errors.Is(err, frame.ErrMalformed) {
		t.Fatalf("negative size: %v", err)
	}
}

// A peer announcing a huge frame costs memory only as it sends it.
func TestAssemblerGrowsWithData(t *testing.T) {
	a := frame.NewAssembler(frame.DefaultMaxFrame)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := a.Feed([]byte{0x03, 0xff, 0xff, 0xff, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("the 3-byte start of a 64 MiB frame allocated %d bytes", n)
	}
}

func TestAssemblerRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stream []byte
	var want [][]byte
	for _, env := range envelopes(100) {
		b, _ := frame.AppendEnvelope(nil, env)
		stream = append(stream, b...)
		want = append(want, b[4:])
	}
	a := frame.NewAssembler(0)
	var got [][]byte
	for rest := stream; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(3*frame.MessageSize))
		fs, err := a.Feed(rest[:n])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fs...)
		rest = rest[n:]
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatal("frames differ")
	}
}
