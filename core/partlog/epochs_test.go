package partlog_test

import (
	"slices"
	"testing"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/storage"
)

// addEpoch appends a one-record batch written by a leader in epoch.
func addEpoch(t *testing.T, l *partlog.Log, epoch int32) {
	t.Helper()
	raw := build(t0, 1, "v")
	record.SetPartitionLeaderEpoch(raw, epoch)
	h := header(t, raw)
	l.Append(raw, h, t0)
}

// epochLog holds offsets 0-1 in epoch 0, 2-4 in epoch 2 and 5 in epoch 5,
// one batch per segment.
func epochLog(t *testing.T) *partlog.Log {
	l := partlog.New(dir, cfg(one, -1, -1, -1))
	for _, e := range []int32{0, 0, 2, 2, 2, 5} {
		addEpoch(t, l, e)
	}
	return l
}

func TestEndOffsetForEpoch(t *testing.T) {
	l := epochLog(t)
	for _, tc := range []struct {
		requested, wantEpoch int32
		wantEnd              int64
	}{
		{-1, -1, -1},
		{0, 0, 2}, // epoch 0 ended where epoch 2 began
		{1, 0, 2}, // unknown epoch 1: the largest epoch below it, 0
		{2, 2, 5},
		{4, 2, 5},
		{5, 5, 6}, // the latest epoch ends at the log end
		{6, -1, -1},
	} {
		e, end := l.EndOffsetForEpoch(tc.requested)
		if e != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", tc.requested, e, end, tc.wantEpoch, tc.wantEnd)
		}
	}
	if l.LatestEpoch() != 5 {
		t.Errorf("latest epoch %d", l.LatestEpoch())
	}
	if e, end := partlog.New(dir, cfg(one, -1, -1, -1)).EndOffsetForEpoch(0); e != -1 || end != -1 {
		t.Errorf("empty log: (%d, %d)", e, end)
	}
}

func TestEpochsSurviveReopenAndRetention(t *testing.T) {
	s := storage.NewMemory()
	l := epochLog(t)
	persist(t, s, l)
	r, recs, err := partlog.Open(s, dir, cfg(one, -1, 0, -1))
	if err != nil || len(recs) != 0 {
		t.Fatal(err, recs)
	}
	if e, end := r.EndOffsetForEpoch(2); e != 2 || end != 5 {
		t.Fatalf("after reopen: (%d, %d)", e, end)
	}
	// retention.ms=0 with the high watermark at 3 deletes offsets 0-2: epoch 0
	// is gone, epoch 2 now starts at the log start.
	r.ApplyRetention(t0+1, 3)
	if r.LogStartOffset() != 3 {
		t.Fatalf("log start %d", r.LogStartOffset())
	}
	if e, end := r.EndOffsetForEpoch(0); e != 0 || end != 3 {
		t.Errorf("epoch 0 after retention: (%d, %d), want it to end at the log start 3", e, end)
	}
	if e, end := r.EndOffsetForEpoch(2); e != 2 || end != 5 {
		t.Errorf("epoch 2 after retention: (%d, %d)", e, end)
	}
}

func TestTruncateTo(t *testing.T) {
	for _, tc := range []struct {
		name        string
		to, wantEnd int64
		wantEpoch   int32
	}{
		{"inside the last segment", 5, 5, 2},
		{"drops whole segments", 3, 3, 2},
		{"at the end: nothing", 6, 6, 5},
		{"past the end: nothing", 9, 6, 5},
		{"to the first epoch", 2, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storage.NewMemory()
			l := epochLog(t)
			persist(t, s, l)
			if end := l.TruncateTo(tc.to); end != tc.wantEnd || l.LogEndOffset() != tc.wantEnd {
				t.Fatalf("TruncateTo(%d) = %d, log end %d, want %d", tc.to, end, l.LogEndOffset(), tc.wantEnd)
			}
			if l.LatestEpoch() != tc.wantEpoch {
				t.Fatalf("latest epoch %d, want %d", l.LatestEpoch(), tc.wantEpoch)
			}
			if got := read(t, l, 0, 1<<62, 1<<30, true); !slices.Equal(got, span(0, tc.wantEnd)) {
				t.Fatalf("records %v", got)
			}
			persist(t, s, l)
			// The store holds exactly the truncated log: a reopen agrees and
			// finds nothing to recover; the next append continues there.
			r, recs, err := partlog.Open(s, dir, cfg(one, -1, -1, -1))
			if err != nil || len(recs) != 0 || r.LogEndOffset() != tc.wantEnd || r.Size() != l.Size() {
				t.Fatalf("reopen: %v %v end %d size %d/%d", err, recs, r.LogEndOffset(), r.Size(), l.Size())
			}
			addEpoch(t, r, 7)
			if e, end := r.EndOffsetForEpoch(tc.wantEpoch); e != tc.wantEpoch || end != tc.wantEnd {
				t.Fatalf("epoch %d after truncation and a new epoch: (%d, %d)", tc.wantEpoch, e, end)
			}
		})
	}
}

func TestTruncateBelowLogStartRestarts(t *testing.T) {
	s := storage.NewMemory()
	l := epochLog(t)
	l.ApplyRetention(t0, 3) // retention.ms=-1: nothing goes
	l.TruncateTo(0)
	persist(t, s, l)
	if l.LogStartOffset() != 0 || l.LogEndOffset() != 0 || l.Size() != 0 || l.LatestEpoch() != -1 {
		t.Fatalf("after truncating everything: [%d, %d) %d bytes epoch %d", l.LogStartOffset(), l.LogEndOffset(), l.Size(), l.LatestEpoch())
	}
	if names, _ := s.List(dir + "/"); len(names) != 1 {
		t.Fatalf("objects left: %v", names)
	}
}

func TestAppendReplicatedKeepsLeaderOffsets(t *testing.T) {
	leader := epochLog(t)
	follower := partlog.New(dir, cfg(one, -1, -1, -1))
	leader.Batches(0, func(b partlog.Batch) bool {
		raw := append([]byte(nil), b.Raw...)
		if _, err := follower.AppendReplicated(raw, header(t, raw), t0); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if follower.LogEndOffset() != 6 || follower.LatestEpoch() != 5 {
		t.Fatalf("follower end %d epoch %d", follower.LogEndOffset(), follower.LatestEpoch())
	}
	raw := build(t0, 1, "v")
	record.SetBaseOffset(raw, 5)
	if _, err := follower.AppendReplicated(raw, header(t, raw), t0); err == nil {
		t.Fatal("a batch below the log end was appended")
	}
	// A compacted leader's log has gaps, and so has the follower's then.
	record.SetBaseOffset(raw, 9)
	if _, err := follower.AppendReplicated(raw, header(t, raw), t0); err != nil || follower.LogEndOffset() != 10 {
		t.Fatalf("a batch after a gap: %v, log end %d", err, follower.LogEndOffset())
	}
}

// A new leader records its epoch at the log end before writing anything, so
// a follower that holds an old leader's later epoch learns where it diverges.
func TestAssignEpochBeforeWriting(t *testing.T) {
	l := partlog.New(dir, cfg(one, -1, -1, -1))
	addEpoch(t, l, 2)
	addEpoch(t, l, 2)
	if e, end := l.EndOffsetForEpoch(4); e != -1 || end != -1 {
		t.Fatalf("before: (%d, %d)", e, end)
	}
	l.AssignEpoch(5)
	if e, end := l.EndOffsetForEpoch(4); e != 2 || end != 2 {
		t.Fatalf("epoch 4 after AssignEpoch(5): (%d, %d), want (2, 2)", e, end)
	}
	if l.LatestEpoch() != 5 {
		t.Fatalf("latest %d", l.LatestEpoch())
	}
}

// A follower that led for a moment at its log end, writing nothing, must
// forget that epoch when the new leader tells it their logs agree up to
// there; otherwise every fetch names the empty epoch again.
func TestTruncateAtLogEndForgetsEmptyEpoch(t *testing.T) {
	l := partlog.New(dir, cfg(one, -1, -1, -1))
	for range 3 {
		addEpoch(t, l, 1)
	}
	l.AssignEpoch(5) // led in epoch 5, wrote nothing
	if got := l.LatestEpoch(); got != 5 {
		t.Fatalf("latest epoch %d, want 5", got)
	}
	if end := l.TruncateTo(l.LogEndOffset()); end != 3 || l.LatestEpoch() != 1 {
		t.Errorf("after truncating at the log end: end %d, latest epoch %d, want 3 and 1", end, l.LatestEpoch())
	}
}
