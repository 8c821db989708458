//go:build !js

package mesh

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlab/streamlab/core"
)

// TestTeacherFaults is what a classroom's teacher does to the broker that
// is the active controller, seen by kgo through the node as Kafka would
// show it: killed, a new controller takes over and fences it (and only it:
// the others' heartbeats go to the new controller at once), and acks=all
// goes on with the two others; restarted, it recovers its log and rejoins
// every ISR; cut off from the others, it is fenced again; healed, it
// rejoins. Nothing acknowledged is lost.
func TestTeacherFaults(t *testing.T) {
	members, seed := startCluster(t, 3000)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seed), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeTopics("faults"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordDeliveryTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	createTopic(ctx, t, adm, "faults", 3)
	acked := 0
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "faults", Value: fmt.Appendf(nil, "%d", acked)}).FirstErr(); err != nil {
				md, merr := adm.Metadata(context.Background(), "faults")
				t.Fatalf("record %d: %v (metadata %+v %v)", acked, err, md, merr)
			}
			acked++
		}
	}
	var victim core.NodeID // the active controller
	// state reports whether the victim is listed in the metadata and
	// whether every ISR has all three brokers.
	state := func() (listed, fullISR, ok bool) {
		md, err := adm.Metadata(ctx, "faults")
		if err != nil {
			return false, false, false // asked a dead broker: ask again
		}
		listed, fullISR = slices.Contains(md.Brokers.NodeIDs(), int32(victim)), true
		for _, p := range md.Topics["faults"].Partitions {
			fullISR = fullISR && len(p.ISR) == 3
		}
		return listed, fullISR, true
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		start := time.Now()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
	}
	// set gives the victim its faults, and the others theirs.
	set := func(own, others Faults) {
		t.Helper()
		for _, m := range members {
			f := others
			if m.ID() == victim {
				f = own
			}
			if err := m.SetFaults(f); err != nil {
				t.Fatalf("broker %d: %v", m.ID(), err)
			}
		}
	}
	fenced := func() bool { listed, _, ok := state(); return ok && !listed }
	back := func() bool { listed, full, ok := state(); return ok && listed && full }

	produce(100)
	waitFor("every ISR full", func() bool {
		md, err := adm.Metadata(ctx, "faults")
		victim = core.NodeID(md.Controller)
		return err == nil && victim > 0 && back()
	})
	t.Logf("the victim is broker %d, the active controller", victim)
	vm := members[victim-1]
	var others []core.NodeID
	for _, m := range members {
		if m != vm {
			others = append(others, m.ID())
		}
	}

	killed := vm.Host()
	set(Faults{Down: true}, Faults{PeersDown: []core.NodeID{victim}})
	select {
	case <-killed.Done():
	default:
		t.Fatal("the killed broker still runs")
	}
	if err := members[0].Proxy(victim).Step(core.Envelope{To: victim}); err == nil {
		t.Error("the node's proxy to a killed broker accepted an envelope")
	}
	waitFor("the victim fenced after the kill", fenced)
	produce(100)
	select {
	case <-vm.Done():
		t.Fatalf("killing the broker stopped the member: %v", vm.Err())
	default:
	}

	set(Faults{}, Faults{})
	if vm.Host() == killed {
		t.Fatal("the restarted broker has its old host")
	}
	waitFor("the victim back in every ISR after the restart", back)
	produce(100)

	set(Faults{Blocked: others}, Faults{Blocked: []core.NodeID{victim}})
	waitFor("the victim fenced when cut off", fenced)
	produce(100)
	set(Faults{}, Faults{})
	waitFor("the victim back in every ISR after the heal", back)

	seen := map[string]bool{}
	for len(seen) < acked {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d acknowledged records: %v", len(seen), acked, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
}
