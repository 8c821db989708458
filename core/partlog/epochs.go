package partlog

import (
	"sort"

	"github.com/streamlab/streamlab/core/storage"
)

// The leader epoch cache maps each leader epoch to the first offset written
// in it, as Kafka's LeaderEpochFileCache does (KIP-101). Kafka persists it in
// leader-epoch-checkpoint; Streamlab rebuilds it from the batches' headers
// when a log is opened, since every batch carries its partitionLeaderEpoch.
type epochStart struct {
	epoch int32
	start int64
}

// noteEpoch records that epoch starts at start, if it is newer than every
// epoch seen (LeaderEpochFileCache.assign ignores older ones).
func (l *Log) noteEpoch(epoch int32, start int64) {
	if epoch < 0 {
		return
	}
	if n := len(l.epochs); n == 0 || epoch > l.epochs[n-1].epoch {
		l.epochs = append(l.epochs, epochStart{epoch, start})
	}
}

// AssignEpoch records that a leader's epoch starts at the log end, as a
// broker does when it becomes leader, before it writes anything in that epoch
// (Partition.makeLeader, UnifiedLog.maybeAssignEpochStartOffset). Without it
// a follower that holds a later epoch of an old leader could not be told
// where its log diverges. Like every epoch entry it is rebuilt from the
// batches on open, so it lasts until the broker restarts.
func (l *Log) AssignEpoch(epoch int32) { l.noteEpoch(epoch, l.LogEndOffset()) }

// LatestEpoch is the newest leader epoch in the log, -1 if none.
func (l *Log) LatestEpoch() int32 {
	if n := len(l.epochs); n > 0 {
		return l.epochs[n-1].epoch
	}
	return -1
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-279): the
// largest epoch <= requested that the log knows and the offset where the
// epoch after it starts (the log end for the latest epoch), or (-1, -1) if
// the log knows no epoch up to requested (LeaderEpochFileCache.endOffsetFor).
func (l *Log) EndOffsetForEpoch(requested int32) (epoch int32, endOffset int64) {
	if requested < 0 || len(l.epochs) == 0 {
		return -1, -1
	}
	if requested == l.LatestEpoch() {
		return requested, l.LogEndOffset()
	}
	// The first entry with an epoch above requested.
	i := sort.Search(len(l.epochs), func(i int) bool { return l.epochs[i].epoch > requested })
	switch {
	case i == len(l.epochs): // newer than anything known
		return -1, -1
	case i == 0: // older than anything known: it ended where the log begins
		return requested, l.epochs[0].start
	}
	return l.epochs[i-1].epoch, l.epochs[i].start
}

// trimEpochsBefore drops epochs that ended before the log start and moves
// the first kept one's start up to it (LeaderEpochFileCache.truncateFromStart).
func (l *Log) trimEpochsBefore(start int64) {
	i := 0
	for i+1 < len(l.epochs) && l.epochs[i+1].start <= start {
		i++
	}
	l.epochs = l.epochs[i:]
	if len(l.epochs) > 0 && l.epochs[0].start < start {
		l.epochs[0].start = start
	}
}

// TruncateTo removes every batch holding offsets at or above offset, as a
// follower does when it finds its log diverged from the new leader's
// (UnifiedLog.truncateTo; a batch that straddles offset goes entirely, as
// LogSegment.truncateTo cuts at a batch boundary). It returns the new log end.
// Truncating below the log start empties the log and restarts it at offset
// (UnifiedLog.truncateFullyAndStartAt).
func (l *Log) TruncateTo(offset int64) int64 {
	if offset >= l.LogEndOffset() {
		// Nothing to cut, but an epoch starting here holds no record: a
		// follower that led for a moment at its log end must forget that
		// epoch, or its fetches keep naming it and the leader keeps
		// answering with the same divergence.
		l.truncateEpochs(offset)
		return l.LogEndOffset()
	}
	if offset <= l.logStart {
		for _, s := range l.segs {
			l.writes = append(l.writes, storage.Write{Op: storage.OpRemove, Name: l.segName(s.base)})
		}
		l.segs = []*segment{{base: offset, next: offset, created: -1, modified: -1}}
		l.writes = append(l.writes, storage.Write{Op: storage.OpAppend, Name: l.segName(offset)})
		l.logStart, l.size, l.epochs = offset, 0, nil
		l.truncateCheckpoint(offset)
		return offset
	}
	// Drop whole segments that start at or after offset, then cut the one
	// that holds it at the first batch reaching offset.
	for len(l.segs) > 1 && l.active().base >= offset {
		s := l.active()
		l.size -= s.size
		l.segs = l.segs[:len(l.segs)-1]
		l.writes = append(l.writes, storage.Write{Op: storage.OpRemove, Name: l.segName(s.base)})
	}
	s := l.active()
	j := sort.Search(len(s.batches), func(j int) bool { return s.batches[j].Last >= offset })
	if j < len(s.batches) {
		var cut int64
		for _, b := range s.batches[j:] {
			cut += int64(len(b.Raw))
		}
		s.batches = s.batches[:j]
		s.size -= cut
		l.size -= cut
		s.next = s.base
		if j > 0 {
			s.next = s.batches[j-1].Last + 1
		}
		l.writes = append(l.writes, storage.Write{Op: storage.OpTruncate, Name: l.segName(s.base), Size: s.size})
	}
	end := l.LogEndOffset()
	l.truncateEpochs(end)
	l.truncateCheckpoint(end)
	return end
}

// truncateEpochs drops the epochs that start at or after end
// (LeaderEpochFileCache.truncateFromEnd).
func (l *Log) truncateEpochs(end int64) {
	k := sort.Search(len(l.epochs), func(k int) bool { return l.epochs[k].start >= end })
	l.epochs = l.epochs[:k]
}
