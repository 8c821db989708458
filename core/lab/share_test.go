package lab

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
)

func sampleSession() Session {
	at := sim.Epoch + 3000
	return Session{Config: pageConfig.withDefaults(), Now: at + 90000, Actions: []Action{
		{At: at, Kind: ActProduce, Key: []byte("alice"), Value: []byte("v")},
		{At: at, Kind: ActProduce, Value: []byte("null key")},
		{At: at + 1, Kind: ActProduce, Key: []byte{}, Value: []byte{}},
		{At: at + 5, Kind: ActSetAcks, N: int64(client.AcksNone)},
		{At: at + 5, Kind: ActSetStrategy, Text: StrategyByMatch},
		{At: at + 10, Kind: ActKillBroker, Node: 2},
		{At: at + 20, Kind: ActSlowBroker, Node: 3, N: 800},
		{At: at + 30, Kind: ActHealAll},
		{At: at + 40, Kind: ActAddGroup, Group: GroupConfig{Name: "g", Assignor: "sticky", Commit: client.CommitBeforeProcessing,
			ProcessingDelayMs: 50, SessionTimeoutMs: 45000, Members: 2}},
		{At: at + 40, Kind: ActAddMember, Text: "g"},
		{At: at + 41, Kind: ActCrashMember, Node: MemberIDBase + 1},
		{At: at + 45, Kind: ActAddProducer, Producer: ProducerSpec{Name: "once", Acks: client.AcksAll, Retries: -1,
			Partitioner: StrategyDefault, Generator: GenManual}},
		{At: at + 45, Kind: ActAddProducer, Producer: ProducerSpec{Name: "few", Acks: client.AcksLeader, Retries: 7,
			Idempotence: client.IdempotenceOff, Partitioner: StrategyRoundRobin, Generator: GenClickstream, Rate: 3}},
		{At: at + 45, Kind: ActAddProducer, Producer: ProducerSpec{Name: "dflt", Acks: client.AcksAll,
			Idempotence: client.IdempotenceOn, Partitioner: StrategyDefault, Generator: GenManual}},
		{At: at + 50, Kind: ActSkip, N: 7 * 24 * 3600 * 1000},
	}}
}

func TestSessionRoundTrip(t *testing.T) {
	s := sampleSession()
	s.Now += 7 * 24 * 3600 * 1000
	text := s.Encode()
	got, err := DecodeSession(text)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got  %+v\n want %+v", got, s)
	}
	if got.Actions[1].Key != nil || got.Actions[2].Key == nil {
		t.Error("a null key and an empty key must stay apart")
	}
	t.Logf("%d actions in %d characters", len(s.Actions), len(text))
}

// The link of a real session rebuilds it.
func TestSessionOfALabReplays(t *testing.T) {
	l := New(pageConfig)
	l.Produce([]byte("alice"), []byte("v"))
	play(l, 1000)
	l.KillBroker(1)
	play(l, 2000)
	s, err := DecodeSession(l.Session().Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !sameDigest(t, "from the link", digest(Replay(s.Config, s.Actions, s.Now)), digest(l)) {
		t.Error("the session's link does not rebuild it")
	}
}

func TestDecodeSessionRefusesGarbage(t *testing.T) {
	good := sampleSession().Encode()
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	enc := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	v2 := append([]byte{2}, raw[1:]...)
	for name, text := range map[string]string{
		"empty":      "",
		"not base64": "%%%",
		"version":    enc(v2),
		"truncated":  enc(raw[:len(raw)-3]),
		"extra":      enc(append(append([]byte{}, raw...), 0)),
		"long":       strings.Repeat("A", MaxSessionText+1),
		"zero":       enc(make([]byte, 40)),
	} {
		if _, err := DecodeSession(text); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeSession(f *testing.F) {
	f.Add(sampleSession().Encode())
	f.Add(New(Config{Seed: 1, NoWarmup: true}).Session().Encode())
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := DecodeSession(text)
		if err != nil {
			return
		}
		again, err := DecodeSession(s.Encode())
		if err != nil {
			t.Fatalf("re-encoded session refused: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the session:\n %+v\n %+v", again, s)
		}
	})
}

// A link written before retries was a producer setting still reads the
// same: a producer with Kafka's default retries encodes as it did then.
func TestSessionProducerLinkBeforeRetries(t *testing.T) {
	const old = "AQMDBgMCAAD0A6wCsOoBBmV2ZW50cwAKAQUUAXACAgdkZWZhdWx0Bm1hbnVhbAA"
	s, err := DecodeSession(old)
	if err != nil {
		t.Fatal(err)
	}
	want := ProducerSpec{Name: "p", Acks: client.AcksLeader, Idempotence: client.IdempotenceOff, Partitioner: StrategyDefault, Generator: GenManual}
	if len(s.Actions) != 1 || s.Actions[0].Producer != want {
		t.Fatalf("actions %+v, want one adding %+v", s.Actions, want)
	}
	if got := s.Encode(); got != old {
		t.Errorf("re-encoded as %s", got)
	}
	s.Actions[0].Producer.Retries = -1
	if got, err := DecodeSession(s.Encode()); err != nil || got.Actions[0].Producer.Retries != -1 {
		t.Errorf("retries=0 round trip: %+v, %v", got.Actions, err)
	}
}
