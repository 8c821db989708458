// Package check verifies invariants on what a simulation run did: the events
// machines emitted and the state brokers ended in. Simulation tests run it
// after every run; its own tests feed it broken histories to prove it fails.
package check

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/sim"
)

type tp struct {
	topic     string
	partition int32
}

// replica is one broker's copy of a partition.
type replica struct {
	node core.NodeID
	tp
}

// Log is what a checker needs from a broker (broker.Node satisfies it).
type Log interface {
	Partition(topic string, partition int32) (broker.PartitionInfo, bool)
	Records(topic string, partition int32, offset int64, max int) []broker.StoredRecord
}

// Run returns every invariant violation found in a run's events and the
// final state of log:
//   - on each replica, offsets are assigned once, contiguously: each append
//     starts where the previous one ended (one value per offset, offsets
//     never reused), unless a follower truncated its uncommitted tail first;
//   - a replica's high watermark never passes its log end and never goes
//     back, except when a truncation cuts below it;
//   - every record acknowledged with an offset is in the log at that offset
//     with the same key and value, unless retention removed it;
//   - a consumer reads each partition in increasing offset order, never the
//     same offset twice.
func Run(events []sim.Observed, log Log) []string {
	var out []string
	bad := func(o sim.Observed, format string, args ...any) {
		out = append(out, fmt.Sprintf("t=%d node %d: ", o.Time, o.Node)+fmt.Sprintf(format, args...))
	}
	end := map[replica]int64{}
	hw := map[replica]int64{}
	read := map[[2]any]int64{}                       // (consumer, tp) -> last offset read
	stored := map[tp]map[int64]broker.StoredRecord{} // the final log, read once per partition
	at := func(t tp, offset int64) (broker.StoredRecord, bool) {
		m, ok := stored[t]
		if !ok {
			m = map[int64]broker.StoredRecord{}
			for _, r := range log.Records(t.topic, t.partition, 0, 1<<31-1) {
				m[r.Offset] = r
			}
			stored[t] = m
		}
		r, ok := m[offset]
		return r, ok
	}
	for _, o := range events {
		switch e := o.Event.(type) {
		case core.FaultHealed:
			// A restarted broker starts its high watermarks over.
			if e.Kind == core.FaultCrash || e.Kind == core.FaultPowerLoss {
				for k := range hw {
					if slices.Contains(e.Nodes, k.node) {
						delete(hw, k)
					}
				}
			}
		case core.LogTruncated:
			k := replica{o.Node, tp{e.Topic, e.Partition}}
			end[k] = e.To
			hw[k] = min(hw[k], e.To)
		case core.RecordsAppended:
			k := replica{o.Node, tp{e.Topic, e.Partition}}
			if want, ok := end[k]; ok && e.BaseOffset != want {
				bad(o, "%s-%d: append at offset %d, log end was %d", e.Topic, e.Partition, e.BaseOffset, want)
			}
			if e.LastOffset < e.BaseOffset {
				bad(o, "%s-%d: append of offsets %d..%d", e.Topic, e.Partition, e.BaseOffset, e.LastOffset)
			}
			end[k] = e.LastOffset + 1
		case core.HighWatermarkAdvanced:
			k := replica{o.Node, tp{e.Topic, e.Partition}}
			if e.HighWatermark > end[k] {
				bad(o, "%s-%d: high watermark %d above log end %d", e.Topic, e.Partition, e.HighWatermark, end[k])
			}
			if e.HighWatermark < hw[k] {
				bad(o, "%s-%d: high watermark went back from %d to %d", e.Topic, e.Partition, hw[k], e.HighWatermark)
			}
			hw[k] = e.HighWatermark
		case core.RecordConsumed:
			k := [2]any{o.Node, tp{e.Topic, e.Partition}}
			if last, ok := read[k]; ok && e.Offset <= last {
				bad(o, "%s-%d: consumed offset %d after %d", e.Topic, e.Partition, e.Offset, last)
			}
			read[k] = e.Offset
		case core.RecordAcked:
			if e.Offset < 0 {
				continue // acks=0: no offset to check
			}
			info, ok := log.Partition(e.Topic, e.Partition)
			if !ok {
				bad(o, "%s-%d: acknowledged, but the partition does not exist", e.Topic, e.Partition)
				continue
			}
			if e.Offset < info.LogStartOffset {
				continue // removed by retention
			}
			r, ok := at(tp{e.Topic, e.Partition}, e.Offset)
			if !ok {
				bad(o, "%s-%d: acknowledged offset %d is not in the log", e.Topic, e.Partition, e.Offset)
				continue
			}
			if !bytes.Equal(r.Key, e.Key) || !bytes.Equal(r.Value, e.Value) {
				bad(o, "%s-%d: offset %d holds %q=%q, acknowledged %q=%q", e.Topic, e.Partition, e.Offset,
					r.Key, r.Value, e.Key, e.Value)
			}
		}
	}
	return out
}

// Leaders returns a violation for every partition epoch that two brokers
// led: a leader epoch names one leader (the controller bumps it on every
// election), so two brokers acting as leader in the same epoch means the
// metadata diverged.
func Leaders(events []sim.Observed) []string {
	var out []string
	type key struct {
		tp
		epoch int32
	}
	leader := map[key]core.NodeID{}
	for _, o := range events {
		e, ok := o.Event.(core.ReplicaRoleChanged)
		if !ok || e.Role != "leader" {
			continue
		}
		k := key{tp{e.Topic, e.Partition}, e.LeaderEpoch}
		if prev, ok := leader[k]; ok && prev != o.Node {
			out = append(out, fmt.Sprintf("t=%d node %d: %s-%d: leader in epoch %d, which broker %d led", o.Time, o.Node, e.Topic, e.Partition, e.LeaderEpoch, prev))
			continue
		}
		leader[k] = o.Node
	}
	return out
}
