package lab

import (
	"slices"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/client"
)

// AckCheck is what became of the records producers saw acknowledged, by
// acks setting: Kafka promises that a record acknowledged with acks=all,
// while min.insync.replicas replicas were in sync, survives the loss of any
// one broker; acks=1 promises only that the leader appended it.
type AckCheck struct {
	Acks client.Acks
	// Acked records with an offset (acks=0 gets none).
	Acked int
	// Present: at their offset in the leader's log, with the same key and
	// value. Deleted: below the log start offset (retention deleted them).
	// Unknown: their partition has no running leader now.
	Present, Deleted, Unknown int
	// Lost: the leader's log has something else at that offset, or ends
	// before it.
	Lost []core.RecordAcked
}

// The check is incremental, so that a page with records flowing pays for
// the new records only, not for every record acknowledged so far at each
// redraw. Per partition the lab keeps what it read of the leader's log (a
// hash of each record's key and value, by offset) and the verdict on each
// acknowledged record of that partition. A leader's log only grows while
// the same process leads in the same leader epoch from the same log start:
// then only the new records are read, and only the new acknowledgements,
// and those that were past the log's end, are judged. Anything else (a new
// leader, a new epoch, retention moving the log start, a log that got
// shorter or whose last record changed) reads the log again and judges
// every acknowledgement of the partition again.

// partCheck is the check's state for one partition.
type partCheck struct {
	acks []int32 // indexes in Lab.acked of the partition's records, in order

	// What the verdicts were made against: the leader (nil: none),
	// its epoch and log start, the log end read up to, and the hash of
	// the record at end-1 (to notice a log cut and regrown).
	srv     any
	epoch   int32
	start   int64
	end     int64
	tail    uint64
	hashes  []uint64 // by offset - start; 0: no record there
	judged  int      // acks[:judged] have a verdict
	present [3]int   // by acks setting (ackSlot)
	deleted [3]int
	unknown [3]int
	lost    []int32 // indexes in Lab.acked, in order
	past    []int32 // lost because the log ended before them: judged again when it grows
}

// recordHash is a hash of a record's key and value (64-bit FNV-1a of
// their lengths and bytes), never 0; a null key or value counts as an
// empty one, as the check always did.
func recordHash(key, value []byte) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, b := range [2][]byte{key, value} {
		for n := uint64(len(b)) | 1<<32; n > 0; n >>= 8 {
			h = (h ^ n&0xff) * prime
		}
		for _, c := range b {
			h = (h ^ uint64(c)) * prime
		}
	}
	return h | 1
}

// ackSlot orders the acks settings as CheckAcked reports them.
func ackSlot(a client.Acks) int {
	switch a {
	case client.AcksAll:
		return 0
	case client.AcksLeader:
		return 1
	}
	return 2
}

var slotAcks = [3]client.Acks{client.AcksAll, client.AcksLeader, client.AcksNone}

// noteAcked adds l.acked[i] to its partition's check.
func (l *Lab) noteAcked(i int) {
	p := l.acked[i].Partition
	if l.checks == nil {
		l.checks = map[int32]*partCheck{}
	}
	pc := l.checks[p]
	if pc == nil {
		pc = &partCheck{}
		l.checks[p] = pc
	}
	pc.acks = append(pc.acks, int32(i))
	l.ackedBy[ackSlot(l.acked[i].acks)]++
}

// reset forgets every verdict, against a new log (srv nil: no leader).
func (pc *partCheck) reset(srv any, epoch int32, start int64) {
	pc.srv, pc.epoch, pc.start, pc.end, pc.tail = srv, epoch, start, start, 0
	pc.hashes = pc.hashes[:0]
	pc.judged = 0
	pc.present, pc.deleted, pc.unknown = [3]int{}, [3]int{}, [3]int{}
	pc.lost, pc.past = pc.lost[:0], pc.past[:0]
}

// updateCheck brings a partition's verdicts up to date with its leader's log.
func (l *Lab) updateCheck(p int32, pc *partCheck) {
	var b *broker.Node
	var info broker.PartitionInfo
	var srv any
	if id := l.leaderNode(p); id >= 0 {
		if i, ok := l.servers[id].Broker().Partition(l.cfg.Topic, p); ok {
			srv, b, info = l.servers[id], l.servers[id].Broker(), i
		}
	}
	switch {
	case srv == nil:
		if pc.srv != nil {
			pc.reset(nil, 0, 0)
		}
	case srv != pc.srv || info.LeaderEpoch != pc.epoch || info.LogStartOffset != pc.start || info.LogEndOffset < pc.end ||
		pc.end > pc.start && l.hashAt(b, p, pc.end-1) != pc.tail:
		pc.reset(srv, info.LeaderEpoch, info.LogStartOffset)
	}
	grown := false
	if srv != nil && info.LogEndOffset > pc.end {
		for _, r := range b.Records(l.cfg.Topic, p, pc.end, int(info.LogEndOffset-pc.end)) {
			if r.Offset < pc.start {
				continue
			}
			for int64(len(pc.hashes)) < r.Offset-pc.start {
				pc.hashes = append(pc.hashes, 0) // a gap (compaction)
			}
			pc.hashes = append(pc.hashes, recordHash(r.Key, r.Value))
		}
		pc.end = info.LogEndOffset
		pc.tail = pc.hashAt(pc.end - 1)
		grown = true
	}
	if grown && len(pc.past) > 0 {
		past := pc.past
		pc.past = nil
		again := make(map[int32]bool, len(past))
		for _, i := range past {
			again[i] = true
		}
		keep := pc.lost[:0]
		for _, i := range pc.lost {
			if !again[i] {
				keep = append(keep, i)
			}
		}
		pc.lost = keep
		for _, i := range past {
			l.judge(pc, i)
		}
		slices.Sort(pc.lost)
	}
	for ; pc.judged < len(pc.acks); pc.judged++ {
		l.judge(pc, pc.acks[pc.judged])
	}
}

// judge gives l.acked[i] its verdict against pc's log.
func (l *Lab) judge(pc *partCheck, i int32) {
	a := &l.acked[i]
	s := ackSlot(a.acks)
	switch {
	case pc.srv == nil:
		pc.unknown[s]++
	case a.Offset < pc.start:
		pc.deleted[s]++
	case a.Offset >= pc.end:
		pc.lost = append(pc.lost, i)
		pc.past = append(pc.past, i)
	case pc.hashAt(a.Offset) == a.hash:
		pc.present[s]++
	default:
		pc.lost = append(pc.lost, i)
	}
}

// hashAt is the hash of the record read at offset, 0 if none.
func (pc *partCheck) hashAt(offset int64) uint64 {
	if i := offset - pc.start; i >= 0 && i < int64(len(pc.hashes)) {
		return pc.hashes[i]
	}
	return 0
}

// hashAt reads the record at offset from b's log, 0 if there is none.
func (l *Lab) hashAt(b *broker.Node, p int32, offset int64) uint64 {
	for _, r := range b.Records(l.cfg.Topic, p, offset, 1) {
		if r.Offset == offset {
			return recordHash(r.Key, r.Value)
		}
	}
	return 0
}

// CheckAcked checks every record acknowledged so far (up to 100,000)
// against the current leaders' logs, by acks setting (acks=all first).
func (l *Lab) CheckAcked() []AckCheck {
	acked := l.ackedBy
	var lost []int32
	out := [3]AckCheck{}
	for p := int32(0); p < l.cfg.Partitions; p++ {
		pc := l.checks[p]
		if pc == nil {
			continue
		}
		l.updateCheck(p, pc)
		for s := range 3 {
			out[s].Present += pc.present[s]
			out[s].Deleted += pc.deleted[s]
			out[s].Unknown += pc.unknown[s]
		}
		lost = append(lost, pc.lost...)
	}
	slices.Sort(lost)
	for _, i := range lost {
		a := l.acked[i]
		out[ackSlot(a.acks)].Lost = append(out[ackSlot(a.acks)].Lost, l.ackedRecord(a))
	}
	var res []AckCheck
	for s := range 3 {
		if acked[s] > 0 {
			out[s].Acks, out[s].Acked = slotAcks[s], acked[s]
			res = append(res, out[s])
		}
	}
	return res
}
