package check_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/check"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/sim"
)

// run produces keyed records through a lossy network and returns the lab and
// everything that happened.
func run(t *testing.T, seed uint64, drop float64) (*lab.Lab, []sim.Observed) {
	l := lab.New(lab.Config{Seed: seed, KeepEvents: 1 << 20})
	var events []sim.Observed
	prev := l.Sim.OnEvent
	l.Sim.OnEvent = func(o sim.Observed) { prev(o); events = append(events, o) }
	if !l.Sim.RunUntil(l.TopicReady, 10000) {
		t.Fatal("topic not created")
	}
	l.Sim.Net.DropRate = drop
	for i := 0; i < 200; i++ {
		l.Produce([]byte(fmt.Sprint("key-", i%17)), []byte(fmt.Sprint("value-", i)))
		l.Advance(int64(1 + i%7))
	}
	l.Advance(60000)
	l.Sim.Net.DropRate = 0
	l.Advance(130000) // past delivery.timeout.ms: every record is acked or failed
	return l, events
}

func TestInvariantsHoldUnderLoss(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		l, events := run(t, seed, 0.05)
		if v := check.Run(events, l.Broker); len(v) > 0 {
			t.Errorf("seed %d: %d violations, first: %s", seed, len(v), v[0])
		}
		acked := 0
		for _, o := range events {
			if a, ok := o.Event.(core.RecordAcked); ok && a.Offset >= 0 {
				acked++
			}
		}
		if acked < 100 {
			t.Errorf("seed %d: only %d records acknowledged: the run checks little", seed, acked)
		}
	}
}

// tampered wraps a broker and lies about one record.
type tampered struct{ *broker.Node }

func (t tampered) Records(topic string, p int32, off int64, max int) []broker.StoredRecord {
	recs := t.Node.Records(topic, p, off, max)
	for i := range recs {
		recs[i].Value = append(recs[i].Value, '!')
	}
	return recs
}

// The negative controls: each broken history must be reported.
func TestCheckerCatchesViolations(t *testing.T) {
	l, events := run(t, 1, 0)
	if v := check.Run(events, tampered{l.Broker}); len(v) == 0 || !strings.Contains(v[0], "holds") {
		t.Errorf("changed record values not reported: %v", v)
	}
	mutate := func(f func(core.Event) (core.Event, bool)) []sim.Observed {
		out := append([]sim.Observed(nil), events...)
		for i := range out {
			if ev, ok := f(out[i].Event); ok {
				out[i].Event = ev
				return out
			}
		}
		t.Fatal("nothing to mutate")
		return nil
	}
	for name, f := range map[string]func(core.Event) (core.Event, bool){
		"offset reused": func(ev core.Event) (core.Event, bool) {
			a, ok := ev.(core.RecordsAppended)
			if !ok || a.BaseOffset == 0 {
				return ev, false
			}
			a.BaseOffset--
			return a, true
		},
		"hw above log end": func(ev core.Event) (core.Event, bool) {
			h, ok := ev.(core.HighWatermarkAdvanced)
			h.HighWatermark += 5
			return h, ok
		},
		"acked offset missing": func(ev core.Event) (core.Event, bool) {
			a, ok := ev.(core.RecordAcked)
			a.Offset += 1000
			return a, ok
		},
		"consumed twice": func(ev core.Event) (core.Event, bool) {
			c, ok := ev.(core.RecordConsumed)
			if !ok || c.Offset == 0 {
				return ev, false
			}
			c.Offset = 0
			return c, true
		},
	} {
		if v := check.Run(mutate(f), l.Broker); len(v) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}

func TestLeadersCatchesTwoLeadersInOneEpoch(t *testing.T) {
	lead := func(node core.NodeID, epoch int32) sim.Observed {
		return sim.Observed{Node: node, Event: core.ReplicaRoleChanged{Topic: "t", Partition: 0, Role: "leader", Leader: int32(node), LeaderEpoch: epoch}}
	}
	good := []sim.Observed{lead(1, 0), lead(2, 1), lead(2, 1), lead(3, 2)}
	if v := check.Leaders(good); len(v) != 0 {
		t.Errorf("a leader per epoch reported: %v", v)
	}
	if v := check.Leaders(append(good, lead(1, 1))); len(v) != 1 {
		t.Errorf("two leaders in epoch 1: %v", v)
	}
}
