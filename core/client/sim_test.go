package client

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/sim"
)

// simRun produces n records through a real broker in the simulator, with a
// consumer that reads the topic from the beginning, and returns every event.
func simRun(t *testing.T, seed uint64, acks Acks, n int) ([]sim.Observed, *Producer, *Consumer) {
	t.Helper()
	s := sim.New(seed)
	bc := broker.DefaultConfig(1)
	bc.NumPartitions = 3 // topics are auto-created by the first Metadata
	s.Add(broker.New(bc), nil)
	cons := NewConsumer(ConsumerConfig{ID: core.ClientIDBase + 1, Bootstrap: []core.NodeID{1},
		Topics: []string{"orders"}, AutoOffsetReset: "earliest", Seed: seed})
	prod := NewProducer(ProducerConfig{ID: core.ClientIDBase, Bootstrap: []core.NodeID{1}, Acks: acks, Seed: seed})
	s.Add(cons, nil)
	s.Add(prod, nil)
	for i := range n {
		r := Record{Topic: "orders", Partition: AnyPartition, Value: []byte(fmt.Sprintf("v%03d", i))}
		switch i % 4 {
		case 0, 1:
			r.Key = []byte(fmt.Sprintf("customer-%d", i%7))
		case 2:
			r.Partition = int32(i % 3)
		}
		prod.Send(r)
		s.RunFor(int64(i % 3)) // a few records at once, some spaced
	}
	var events []sim.Observed
	done := s.RunUntil(func() bool {
		events = append(events, s.Events()...)
		return prod.Pending() == 0 && cons.Stats().Consumed >= int64(n)
	}, 60000)
	if !done {
		t.Fatalf("acks=%s: pending %d, consumed %d of %d", acks, prod.Pending(), cons.Stats().Consumed, n)
	}
	s.RunFor(1000) // nothing more may arrive
	events = append(events, s.Events()...)
	return events, prod, cons
}

func TestProduceConsumeThroughBroker(t *testing.T) {
	const n = 200
	for _, acks := range []Acks{AcksNone, AcksLeader, AcksAll} {
		t.Run("acks="+acks.String(), func(t *testing.T) {
			events, prod, cons := simRun(t, 7, acks, n)
			var partitioned []core.RecordPartitioned
			var acked []core.RecordAcked
			var got []core.RecordConsumed
			for _, o := range events {
				switch e := o.Event.(type) {
				case core.RecordPartitioned:
					partitioned = append(partitioned, e)
				case core.RecordAcked:
					acked = append(acked, e)
				case core.RecordConsumed:
					got = append(got, e)
				case core.ProduceFailed, core.ProduceRetried, core.ConsumeFailed:
					t.Errorf("%T %+v", e, e)
				}
			}
			if len(partitioned) != n || len(acked) != n || len(got) != n {
				t.Fatalf("partitioned %d, acked %d, consumed %d of %d", len(partitioned), len(acked), len(got), n)
			}
			// Partitions: murmur2 for keys, the explicit one, sticky otherwise.
			want := map[string]int32{} // value -> partition
			for i, p := range partitioned {
				v := fmt.Sprintf("v%03d", i)
				switch i % 4 {
				case 0, 1:
					if k := fmt.Sprintf("customer-%d", i%7); p.Reason != "murmur2" || p.Partition != KeyPartition([]byte(k), 3) {
						t.Fatalf("record %d: %+v", i, p)
					}
				case 2:
					if p.Reason != "explicit" || p.Partition != int32(i%3) {
						t.Fatalf("record %d: %+v", i, p)
					}
				case 3:
					if p.Reason != "sticky" {
						t.Fatalf("record %d: %+v", i, p)
					}
				}
				want[v] = p.Partition
			}
			// Each partition is read back in the order it was produced,
			// at offsets 0, 1, 2... with the partition the producer chose.
			perPart := map[int32][]string{}
			for i := range n {
				v := fmt.Sprintf("v%03d", i)
				perPart[want[v]] = append(perPart[want[v]], v)
			}
			readPart := map[int32][]string{}
			for _, r := range got {
				if r.Offset != int64(len(readPart[r.Partition])) {
					t.Fatalf("partition %d: offset %d after %d records", r.Partition, r.Offset, len(readPart[r.Partition]))
				}
				readPart[r.Partition] = append(readPart[r.Partition], string(r.Value))
			}
			for p := int32(0); p < 3; p++ {
				if !slices.Equal(perPart[p], readPart[p]) {
					t.Fatalf("partition %d: produced %v, consumed %v", p, perPart[p], readPart[p])
				}
			}
			// Acks name the offsets the consumer saw (-1 with acks=0).
			at := map[string]int64{}
			for _, r := range got {
				at[string(r.Value)] = r.Offset
			}
			for _, a := range acked {
				wantOff := at[string(a.Value)]
				if acks == AcksNone {
					wantOff = -1
				}
				if a.Offset != wantOff || a.Partition != want[string(a.Value)] {
					t.Fatalf("ack %+v, want partition %d offset %d", a, want[string(a.Value)], wantOff)
				}
			}
			if s := prod.Stats(); s.Acked != n || s.Failed != 0 {
				t.Fatalf("producer stats %+v", s)
			}
			for p := int32(0); p < 3; p++ {
				if pos, ok := cons.Position("orders", p); !ok || pos != int64(len(perPart[p])) {
					t.Fatalf("position of %d: %d %v", p, pos, ok)
				}
			}
		})
	}
}

// The same seed gives the same run, event for event.
func TestSimRunReplays(t *testing.T) {
	trace := func() string {
		events, _, _ := simRun(t, 99, AcksAll, 60)
		var b strings.Builder
		for _, o := range events {
			fmt.Fprintf(&b, "%d %d %T %v\n", o.Time, o.Node, o.Event, o.Event)
		}
		return b.String()
	}
	if a, b := trace(), trace(); a != b {
		t.Fatal("two runs with the same seed differ")
	}
}

// A network cut between producer and broker: the requests in flight and
// those sent during the cut are lost, time out after request.timeout.ms, and
// are retried on a new connection once the link heals. Every record arrives
// exactly once (nothing lost reached the broker).
func TestProducerSurvivesNetworkCut(t *testing.T) {
	s := sim.New(3)
	bc := broker.DefaultConfig(1)
	s.Add(broker.New(bc), nil)
	prod := NewProducer(ProducerConfig{ID: core.ClientIDBase, Bootstrap: []core.NodeID{1}, Seed: 3})
	cons := NewConsumer(ConsumerConfig{ID: core.ClientIDBase + 1, Bootstrap: []core.NodeID{1},
		Topics: []string{"t"}, AutoOffsetReset: "earliest"})
	s.Add(prod, nil)
	s.Add(cons, nil)
	send := func(from, to int) {
		for i := from; i < to; i++ {
			prod.Send(Record{Topic: "t", Partition: AnyPartition, Value: []byte(fmt.Sprint(i))})
			s.RunFor(20)
		}
	}
	send(0, 20)
	s.Cut(prod.ID(), 1)
	send(20, 40)
	s.RunFor(3000)
	s.Heal(prod.ID(), 1)
	send(40, 60)
	var events []sim.Observed
	if !s.RunUntil(func() bool {
		events = append(events, s.Events()...)
		return prod.Pending() == 0 && cons.Stats().Consumed >= 60
	}, 120000) {
		t.Fatalf("pending %d, consumed %d", prod.Pending(), cons.Stats().Consumed)
	}
	seen := map[string]int{}
	timedOut := 0
	for _, o := range events {
		switch e := o.Event.(type) {
		case core.RecordConsumed:
			seen[string(e.Value)]++
		case core.ProduceRetried:
			if e.Error == "REQUEST_TIMED_OUT" {
				timedOut++
			}
		case core.ProduceFailed:
			t.Fatalf("failed: %+v", e)
		}
	}
	for i := range 60 {
		if seen[fmt.Sprint(i)] != 1 {
			t.Fatalf("record %d consumed %d times", i, seen[fmt.Sprint(i)])
		}
	}
	if timedOut == 0 {
		t.Fatal("no request timed out during the cut")
	}
}

// lostAnswersRun produces 60 records through a real broker while, for 3 s in
// the middle, every answer from the broker to the producer is lost
// (sim.CutOneWay): the requests arrive and are appended, the producer times
// out after request.timeout.ms and retries once the link heals. It returns
// how many copies of each record the log holds, and the run's events.
func lostAnswersRun(t *testing.T, idem Idempotence) (map[string]int, []sim.Observed) {
	t.Helper()
	s := sim.New(5)
	bc := broker.DefaultConfig(1)
	bc.NumPartitions = 3
	b := broker.New(bc)
	s.Add(b, nil)
	prod := NewProducer(ProducerConfig{ID: core.ClientIDBase, Bootstrap: []core.NodeID{1}, EnableIdempotence: idem, Seed: 5})
	s.Add(prod, nil)
	var events []sim.Observed
	send := func(from, to int) {
		for i := from; i < to; i++ {
			prod.Send(Record{Topic: "t", Partition: AnyPartition, Key: []byte(fmt.Sprint("k", i%5)), Value: []byte(fmt.Sprint(i))})
			s.RunFor(20)
			events = append(events, s.Events()...)
		}
	}
	send(0, 20)
	s.CutOneWay(1, prod.ID())
	send(20, 40)
	s.RunFor(3000)
	s.Heal(1, prod.ID())
	send(40, 60)
	if !s.RunUntil(func() bool {
		events = append(events, s.Events()...)
		return prod.Pending() == 0
	}, 120000) {
		t.Fatalf("pending %d", prod.Pending())
	}
	copies := map[string]int{}
	for p := int32(0); p < 3; p++ {
		for _, r := range b.Records("t", p, 0, 1<<20) {
			copies[string(r.Value)]++
		}
	}
	return copies, events
}

// The proof: answers lost after the broker appended the records.
// Without idempotence the retries write duplicates; with it, the broker
// recognises each retry by producer id and sequence, and the log holds every
// record exactly once.
func TestIdempotenceAgainstLostAnswers(t *testing.T) {
	for _, c := range []struct {
		name string
		idem Idempotence
	}{{"enable.idempotence=false", IdempotenceOff}, {"enable.idempotence=true", IdempotenceDefault}} {
		t.Run(c.name, func(t *testing.T) {
			copies, events := lostAnswersRun(t, c.idem)
			var retried, acked, dupIgnored, bumps int
			var pids []core.ProducerIDAssigned
			for _, o := range events {
				switch e := o.Event.(type) {
				case core.ProduceRetried:
					retried++
				case core.RecordAcked:
					acked++
				case core.DuplicateIgnored:
					dupIgnored++
				case core.ProducerIDAssigned:
					pids = append(pids, e)
				case core.ProducerEpochBumped:
					bumps++
				case core.IdempotenceDisabled:
					t.Skipf("the broker does not support InitProducerId: %s", e.Reason)
				case core.ProduceFailed:
					t.Fatalf("failed: %+v", e)
				}
			}
			if retried == 0 || acked != 60 {
				t.Fatalf("%d retries, %d acks: the cut lost no answer", retried, acked)
			}
			dups := 0
			for i := range 60 {
				switch n := copies[fmt.Sprint(i)]; {
				case n == 0:
					t.Fatalf("record %d is not in the log", i)
				case n > 1:
					dups += n - 1
				}
			}
			if c.idem == IdempotenceOff {
				if dups == 0 || len(pids) != 0 {
					t.Fatalf("%d duplicates, producer ids %v: the retries should have written copies", dups, pids)
				}
				t.Logf("%d retries wrote %d duplicates", retried, dups)
				return
			}
			if dups != 0 || dupIgnored == 0 {
				t.Fatalf("%d duplicates in the log, %d retries recognised by the broker", dups, dupIgnored)
			}
			if len(pids) != 1 || bumps != 0 {
				t.Fatalf("producer ids %+v and %d epoch bumps, want one id and no bump", pids, bumps)
			}
			t.Logf("%d retries, %d recognised as duplicates by the broker", retried, dupIgnored)
		})
	}
}
