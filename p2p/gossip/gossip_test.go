//go:build !js

package gossip

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage"
	"github.com/streamlab/streamlab/p2p/mesh"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// TestShare runs three members over loopback WebRTC, each sharing its
// broker every 100 ms: member 1 learns the replicas the others hold of a
// topic created later, with their offsets, and stops hearing a member cut
// off from it (the negative control: states come from the peers, not from
// member 1's own metadata).
func TestShare(t *testing.T) {
	hub := rtc.NewMemSignaling()
	var mu sync.Mutex
	heard := map[core.NodeID][]State{} // at member 1
	var members []*mesh.Member
	for id := core.NodeID(1); id <= 3; id++ {
		cfg := server.Config{Broker: broker.DefaultConfig(id)}
		cfg.Controller.Voters = []core.NodeID{1, 2, 3}
		cfg.Controller.DefaultReplicationFactor = 3
		store := storage.NewMemory()
		srv, err := server.Open(cfg, store)
		if err != nil {
			t.Fatal(err)
		}
		mc := mesh.Config{ID: id, Cluster: "gossip", MaxBrokers: 3, Signaler: hub.Node(id),
			Platform: rtc.PlatformConfig{API: rtc.LoopbackAPI()}, Logf: t.Logf}
		if id == 1 {
			mc.PeerState = func(from core.NodeID, b []byte) {
				st, err := Decode(b, from)
				if err != nil {
					t.Errorf("from %d: %v", from, err)
					return
				}
				mu.Lock()
				heard[from] = append(heard[from], st)
				mu.Unlock()
			}
		}
		m, err := mesh.Start(mc, srv, store)
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, m)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); Share(ctx, m, 100*time.Millisecond, nil) }()
		t.Cleanup(func() { cancel(); <-done; m.Close() })
	}
	for _, a := range members {
		for _, b := range members {
			if a.ID() < b.ID() {
				a.Connect(b.ID())
			}
		}
	}
	last := func(id core.NodeID) (State, int) {
		mu.Lock()
		defer mu.Unlock()
		h := heard[id]
		if len(h) == 0 {
			return State{}, 0
		}
		return h[len(h)-1], len(h)
	}
	// The topic, once every broker is registered and unfenced (as they
	// share it), by an admin client in member 1, tried again until it
	// succeeds.
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("brokers 2 and 3 unfenced", func() bool {
		s2, _ := last(2)
		s3, _ := last(3)
		return s2.BrokerEpoch >= 0 && !s2.Fenced && s3.BrokerEpoch >= 0 && !s3.Fenced
	})
	req := kmsg.NewCreateTopicsRequestTopic()
	req.Topic, req.NumPartitions, req.ReplicationFactor = "shared", 2, 3
	wait("the topic created", func() bool {
		c, err := members[0].AddClient(func(id core.NodeID) core.Machine { return client.NewAdmin(id, []core.NodeID{1, 2, 3}, req) })
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range 100 {
			var done bool
			var aerr error
			c.Do(func(mc core.Machine) { a := mc.(*client.Admin); done, aerr = a.Done(), a.Err() })
			if done {
				if aerr != nil {
					t.Logf("creating the topic: %v", aerr)
				}
				return aerr == nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return false
	})
	deadline := time.Now().Add(time.Minute)
	for _, id := range []core.NodeID{2, 3} {
		for {
			st, _ := last(id)
			if len(st.Replicas) == 2 && st.BrokerEpoch >= 0 && !st.Fenced && slices.ContainsFunc(st.Sent, fetchToLeader) {
				for _, r := range st.Replicas {
					if r.Topic != "shared" || r.LEO < 0 || r.HW < 0 {
						t.Errorf("broker %d shared %+v", id, r)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("broker %d's last state: %+v", id, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Cut member 3 off from 1: no more states from it.
	members[0].SetFaults(mesh.Faults{Blocked: []core.NodeID{3}})
	members[2].SetFaults(mesh.Faults{Blocked: []core.NodeID{1}})
	time.Sleep(200 * time.Millisecond) // what was under way
	_, n3 := last(3)
	_, n2 := last(2)
	time.Sleep(time.Second)
	if _, m3 := last(3); m3 != n3 {
		t.Errorf("%d states from a member cut off", m3-n3)
	}
	if _, m2 := last(2); m2 <= n2 {
		t.Error("no state from member 2 in a second: the check above proves nothing")
	}
}

// fetchToLeader: a follower's fetch requests to the leader of the other
// partition, counted by the follower's member.
func fetchToLeader(l Link) bool {
	return l.API == "Fetch" && l.Kind == "request" && l.To != l.From && l.N > 0
}

func TestDecode(t *testing.T) {
	good := State{Broker: 2, Time: 1, BrokerEpoch: 4, Replicas: []Replica{{Topic: "t", Partition: 1, LogStart: 0, HW: 3, LEO: 5,
		Tail: []Record{{Offset: 3, Key: []byte("k")}, {Offset: 4, Value: []byte("v")}}}},
		Producer: &Producer{Sent: 3, Acked: 2}, Consumer: &Consumer{Group: "g", Topic: "t", Read: 2, Assignment: []int32{0, 1}}}
	b, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b, 2)
	if err != nil || !reflect.DeepEqual(got.Replicas, good.Replicas) || len(got.Consumer.Assignment) != 2 || got.Producer.Sent != 3 {
		t.Fatalf("%+v, %v", got, err)
	}
	many := State{Broker: 2, Replicas: make([]Replica, maxReplicas+1)}
	for i := range many.Replicas {
		many.Replicas[i] = Replica{Topic: "t", Partition: int32(i)}
	}
	manyB, _ := many.Encode()
	for name, tc := range map[string]struct {
		b    []byte
		from core.NodeID
	}{
		"not json":           {[]byte("{"), 2},
		"another broker":     {b, 3},
		"too many replicas":  {manyB, 2},
		"negative offset":    {[]byte(`{"broker":2,"replicas":[{"topic":"t","hw":-2}]}`), 2},
		"no topic":           {[]byte(`{"broker":2,"replicas":[{"topic":""}]}`), 2},
		"long topic":         {[]byte(`{"broker":2,"replicas":[{"topic":"` + strings.Repeat("t", 250) + `"}]}`), 2},
		"negative partition": {[]byte(`{"broker":2,"replicas":[{"topic":"t","partition":-1}]}`), 2},
		"negative counts":    {[]byte(`{"broker":2,"producer":{"sent":-1}}`), 2},
		"long group":         {[]byte(`{"broker":2,"consumer":{"group":"` + strings.Repeat("g", 250) + `"}}`), 2},
		"tail past the LEO":  {[]byte(`{"broker":2,"replicas":[{"topic":"t","leo":2,"tail":[{"o":2}]}]}`), 2},
		"tail before start":  {[]byte(`{"broker":2,"replicas":[{"topic":"t","logStart":3,"leo":5,"tail":[{"o":2}]}]}`), 2},
		"tail out of order":  {[]byte(`{"broker":2,"replicas":[{"topic":"t","leo":5,"tail":[{"o":3},{"o":3}]}]}`), 2},
		"tail key too long":  {[]byte(`{"broker":2,"replicas":[{"topic":"t","leo":5,"tail":[{"o":3,"k":"` + base64.StdEncoding.EncodeToString(make([]byte, maxKey+1)) + `"}]}]}`), 2},
		"too many events":    {[]byte(`{"broker":2,"events":[` + strings.TrimSuffix(strings.Repeat(`{"seq":1},`, maxEvents+1), ",") + `]}`), 2},
		"long event text":    {[]byte(`{"broker":2,"events":[{"seq":1,"text":"` + strings.Repeat("x", maxText+1) + `"}]}`), 2},
		"negative link":      {[]byte(`{"broker":2,"sent":[{"f":1,"t":2,"api":"Fetch","n":-1}]}`), 2},
		"bad link kind":      {[]byte(`{"broker":2,"sent":[{"f":1,"t":2,"api":"Fetch","kind":"x","n":1}]}`), 2},
		"tail too long":      {[]byte(`{"broker":2,"replicas":[{"topic":"t","leo":20,"tail":[` + strings.TrimSuffix(strings.Repeat(`{"o":1},`, tailRecords+1), ",") + `]}]}`), 2},
	} {
		if _, err := Decode(tc.b, tc.from); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzDecode: whatever a peer sends, Decode returns a state within the
// bounds or ErrMalformed, and a decoded state encodes and decodes the same.
func FuzzDecode(f *testing.F) {
	b, _ := State{Broker: 2, Replicas: []Replica{{Topic: "t", HW: 1, LEO: 2}}, Consumer: &Consumer{Group: "g", Assignment: []int32{1}}}.Encode()
	f.Add(b, int32(2))
	f.Add([]byte(`{"broker":1,"killed":true}`), int32(1))
	f.Add([]byte(`{"broker":1,"replicas":null}`), int32(1))
	f.Fuzz(func(t *testing.T, b []byte, from int32) {
		st, err := Decode(b, core.NodeID(from))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(st.Replicas) > maxReplicas || st.Broker != core.NodeID(from) {
			t.Fatalf("out of bounds: %d replicas, broker %d", len(st.Replicas), st.Broker)
		}
		again, err := st.Encode()
		if err != nil {
			return // larger than a frame once re-encoded: never sent
		}
		if _, err := Decode(again, core.NodeID(from)); err != nil {
			t.Fatalf("a decoded state does not decode again: %v", err)
		}
	})
}
