//go:build !js

package host

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/storage"
)

// trace is a log of what happened, shared by a fake machine, a store and
// callbacks.
type trace struct {
	mu    sync.Mutex
	lines []string
}

func (tr *trace) add(format string, args ...any) {
	tr.mu.Lock()
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
	tr.mu.Unlock()
}

func (tr *trace) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.lines, "\n")
}

// echo answers every request with one write, one message back to the sender
// and one event; it records ticks and the goroutine-free calls it gets.
type echo struct {
	tr    *trace
	rd    core.Ready
	ticks []int64
	panic bool
}

func (e *echo) ID() core.NodeID { return 1 }
func (e *echo) Step(env core.Envelope) {
	if e.panic {
		panic("boom")
	}
	name := fmt.Sprintf("obj-%d", env.CorrelationID)
	e.rd.Writes = append(e.rd.Writes, storage.Write{Op: storage.OpPut, Name: name, Data: []byte("x")})
	e.rd.Messages = append(e.rd.Messages, core.Envelope{From: 1, To: env.From, CorrelationID: env.CorrelationID,
		Response: kmsg.NewPtrApiVersionsResponse()})
	e.rd.Events = append(e.rd.Events, core.TopicCreated{Topic: name})
}
func (e *echo) Tick(now int64)    { e.ticks = append(e.ticks, now) }
func (e *echo) Ready() core.Ready { return e.rd }
func (e *echo) Advance()          { e.tr.add("advance"); e.rd = core.Ready{} }

// tracingStore records Puts and fails them when fail is set.
type tracingStore struct {
	storage.Store
	tr   *trace
	fail bool
}

func (s *tracingStore) Put(name string, data []byte) error {
	s.tr.add("put %s", name)
	if s.fail {
		return errors.New("disk on fire")
	}
	return s.Store.Put(name, data)
}

func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadyOrder(t *testing.T) {
	before := runtime.NumGoroutine()
	tr := &trace{}
	m := &echo{tr: tr}
	store := &tracingStore{Store: storage.NewMemory(), tr: tr}
	h := Start(m, store, Options{Events: func(evs []core.Event) {
		for _, ev := range evs {
			tr.add("event %s", ev.(core.TopicCreated).Topic)
		}
	}})
	got := make(chan core.Envelope, 1)
	h.Register(core.ClientIDBase, func(env core.Envelope) {
		tr.add("deliver %d", env.CorrelationID)
		got <- env
	})
	if err := h.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: 7, Request: kmsg.NewPtrApiVersionsRequest()}); err != nil {
		t.Fatal(err)
	}
	select {
	case env := <-got:
		if env.CorrelationID != 7 {
			t.Fatalf("got %v", env)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if want := "put obj-7\ndeliver 7\nevent obj-7\nadvance"; tr.String() != want {
		t.Fatalf("order:\n%s\nwant:\n%s", tr, want)
	}
	if len(m.ticks) == 0 {
		t.Fatal("never ticked")
	}
	if h.Step(core.Envelope{}) == nil || h.Do(func(core.Machine) {}) == nil {
		t.Fatal("a closed host accepts work")
	}
	checkNoLeak(t, before)
}

func TestTicksFollowTheClock(t *testing.T) {
	m := &echo{tr: &trace{}}
	var mu sync.Mutex
	now := int64(1000)
	h := Start(m, storage.NewMemory(), Options{TickInterval: time.Millisecond, Now: func() int64 {
		mu.Lock()
		defer mu.Unlock()
		now += 5
		return now
	}})
	time.Sleep(50 * time.Millisecond)
	var ticks []int64
	if err := h.Do(func(core.Machine) { ticks = append(ticks, m.ticks...) }); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if len(ticks) < 3 || ticks[0] != 1005 {
		t.Fatalf("ticks %v", ticks)
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i] <= ticks[i-1] {
			t.Fatalf("ticks not increasing: %v", ticks)
		}
	}
}

// TestStorageFailureStopsTheMachine: the message whose write failed never
// leaves, the host reports the failure, and Step refuses further work.
func TestStorageFailureStopsTheMachine(t *testing.T) {
	before := runtime.NumGoroutine()
	tr := &trace{}
	store := &tracingStore{Store: storage.NewMemory(), tr: tr, fail: true}
	var events []core.Event
	var mu sync.Mutex
	var logged []string
	h := Start(&echo{tr: tr}, store, Options{
		Events: func(evs []core.Event) { mu.Lock(); events = append(events, evs...); mu.Unlock() },
		Logf:   func(f string, args ...any) { mu.Lock(); logged = append(logged, fmt.Sprintf(f, args...)); mu.Unlock() },
	})
	h.Register(core.ClientIDBase, func(env core.Envelope) { tr.add("deliver %d", env.CorrelationID) })
	if err := h.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the host runs on after a failed write")
	}
	if err := h.Err(); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Err() = %v", err)
	}
	if err := h.Step(core.Envelope{From: core.ClientIDBase, To: 1, CorrelationID: 2}); err == nil {
		t.Fatal("Step after a storage failure")
	}
	if strings.Contains(tr.String(), "deliver") || strings.Contains(tr.String(), "advance") {
		t.Fatalf("acted after the failed write:\n%s", tr)
	}
	mu.Lock()
	if len(events) != 1 || len(logged) != 1 {
		t.Fatalf("events %v, log %v", events, logged)
	}
	if _, ok := events[0].(core.StorageFailed); !ok {
		t.Fatalf("event %v", events[0])
	}
	mu.Unlock()
	if err := h.Close(); err == nil {
		t.Fatal("Close hides the storage failure")
	}
	checkNoLeak(t, before)
}

func TestMachinePanicStopsIt(t *testing.T) {
	h := Start(&echo{tr: &trace{}, panic: true}, storage.NewMemory(), Options{Logf: func(string, ...any) {}})
	h.Step(core.Envelope{From: core.ClientIDBase, To: 1})
	<-h.Done()
	if err := h.Close(); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Close() = %v", err)
	}
}

// TestBrokerRoundTrip runs the real broker: recovery writes are handled at
// Start, requests get responses, and Do sees the broker's state.
func TestBrokerRoundTrip(t *testing.T) {
	store := storage.NewMemory()
	n, err := broker.Open(broker.DefaultConfig(1), store)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []core.Event
	h := Start(n, store, Options{Events: func(evs []core.Event) { mu.Lock(); events = append(events, evs...); mu.Unlock() }})
	defer h.Close()
	id := h.NewClientID()
	if id != core.ClientIDBase {
		t.Fatalf("first client id %d", id)
	}
	resp := make(chan core.Envelope, 1)
	h.Register(id, func(env core.Envelope) { resp <- env })
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "t", NumPartitions: 3, ReplicationFactor: 1}}
	if err := h.Step(core.Envelope{From: id, To: 1, CorrelationID: 3, Request: req}); err != nil {
		t.Fatal(err)
	}
	env := <-resp
	if ct := env.Response.(*kmsg.CreateTopicsResponse); ct.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %d", ct.Topics[0].ErrorCode)
	}
	if names, _ := store.List("meta/topics/"); len(names) != 1 {
		t.Fatalf("the topic is not in the store: %v", names)
	}
	var topics []broker.TopicInfo
	h.Do(func(m core.Machine) { topics = m.(*broker.Node).Topics() })
	if len(topics) != 1 || topics[0].Partitions != 3 {
		t.Fatalf("topics %v", topics)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) == 0 {
		t.Fatal("no events")
	}
}

func TestNewClientIDSkipsRegistered(t *testing.T) {
	h := Start(&echo{tr: &trace{}}, storage.NewMemory(), Options{})
	defer h.Close()
	h.Register(core.ClientIDBase, func(core.Envelope) {})
	h.Register(core.ClientIDBase+1, func(core.Envelope) {})
	if id := h.NewClientID(); id != core.ClientIDBase+2 {
		t.Fatalf("id %d", id)
	}
	h.nextClient.Store(int64(1<<31) - int64(core.ClientIDBase) - 1)
	if id := h.NewClientID(); id != 1<<31-1 {
		t.Fatalf("last id %d", id)
	}
	if id := h.NewClientID(); id != core.ClientIDBase+2 {
		t.Fatalf("wrapped id %d", id) // the registered ones are skipped
	}
}
