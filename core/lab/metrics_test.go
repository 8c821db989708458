package lab

import (
	"fmt"
	"testing"
	"time"
)

// pointAt is the value of the series' point at time t, ok false if none.
func pointAt(s Series, t int64) (int64, bool) {
	for _, p := range s.Points {
		if p.Time == t {
			return p.Value, true
		}
	}
	return 0, false
}

func lastValue(t *testing.T, c Chart, i int) int64 {
	t.Helper()
	ps := c.Series[i].Points
	if len(ps) == 0 || ps[len(ps)-1].Time != c.End {
		t.Fatalf("%s has no point at the newest sample %d: %v", c.Series[i].Name, c.End, ps)
	}
	return ps[len(ps)-1].Value
}

// toNextSample runs the lab to the next sample, so what happens next falls
// in the interval that ends one sample later.
func toNextSample(l *Lab) int64 {
	next := (l.Now()/MetricsIntervalMs + 1) * MetricsIntervalMs
	l.Advance(next - l.Now())
	return next
}

// Records produced to one partition show in its throughput in the interval
// they were appended in, and on no other partition.
func TestThroughputCountsRecordsInTheirInterval(t *testing.T) {
	l := newLab(t, 11)
	l.MetricsVersion()
	key := []byte("user-1")
	p := l.PartitionFor(key)
	toNextSample(l) // the first sample: throughput counts from the second
	start := toNextSample(l)
	for i := range 7 {
		l.Produce(key, fmt.Appendf(nil, "v%d", i))
	}
	l.Advance(MetricsIntervalMs)
	c := l.Throughput()
	if c.End != start+MetricsIntervalMs {
		t.Fatalf("newest sample at %d, want %d", c.End, start+MetricsIntervalMs)
	}
	for _, s := range c.Series {
		want := int64(0)
		if s.Partition == p {
			want = 7
		}
		if got, ok := pointAt(s, c.End); !ok || got != want {
			t.Errorf("%s in the interval the records were produced in: %d records/s (point %v), want %d; points %v", s.Name, got, ok, want, s.Points)
		}
		if got, ok := pointAt(s, start); !ok || got != 0 {
			t.Errorf("%s before producing: %d (point %v), want 0", s.Name, got, ok)
		}
	}
	l.Advance(3 * MetricsIntervalMs)
	if got := lastValue(t, l.Throughput(), int(p)); got != 0 {
		t.Errorf("P%d after the burst: %d records/s, want 0", p, got)
	}
}

// A group whose only member crashes keeps its committed offsets while the
// topic grows: its lag (high watermark − committed) grows by what is
// produced. A new member resumes from the committed offsets and commits:
// the lag returns to 0.
func TestLagGrowsWhileNobodyReadsAndReturnsToZero(t *testing.T) {
	l := newLab(t, 12)
	l.MetricsVersion()
	if err := l.AddGroup(GroupConfig{Name: "billing", SessionTimeoutMs: 10000}); err != nil {
		t.Fatal(err)
	}
	g := waitSettled(t, l, "billing", 1, 30000)
	produce := func(n int) {
		for i := range n {
			l.Produce(fmt.Appendf(nil, "k%d", i), []byte("v"))
		}
	}
	produce(12)
	// Every partition committed (auto commit, every 5 s) and caught up.
	waitLag := func(what string, want int64) {
		t.Helper()
		for waited := int64(0); ; waited += MetricsIntervalMs {
			c := l.Lag()
			if n := len(c.Series[0].Points); n > 0 && c.Series[0].Points[n-1].Value == want && allCommitted(l.GroupLag("billing"), c.End) {
				return
			}
			if waited > 60000 {
				t.Fatalf("%s: lag not %d after %d ms: %v; per partition %v", what, want, waited, c.Series[0].Points, l.GroupLag("billing").Series)
			}
			l.Advance(MetricsIntervalMs)
		}
	}
	waitLag("reading", 0)

	l.CrashMember(g.Members[0].ID)
	produce(10)
	l.Advance(3 * MetricsIntervalMs)
	first := lastValue(t, l.Lag(), 0)
	produce(20)
	l.Advance(3 * MetricsIntervalMs)
	c := l.Lag()
	second := lastValue(t, c, 0)
	if first != 10 || second != 30 {
		t.Fatalf("lag after the member crashed: %d then %d, want 10 then 30 (records produced since the last commit)", first, second)
	}
	per := int64(0)
	for i := range l.GroupLag("billing").Series {
		per += lastValue(t, l.GroupLag("billing"), i)
	}
	if per != second {
		t.Errorf("per-partition lags sum to %d, the group's total is %d", per, second)
	}

	if _, err := l.AddMember("billing"); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, l, "billing", 1, 60000)
	waitLag("caught up", 0)
	peak := int64(0)
	for _, p := range l.Lag().Series[0].Points {
		peak = max(peak, p.Value)
	}
	if peak != 30 {
		t.Errorf("the window's peak lag is %d, want 30", peak)
	}
}

// allCommitted reports whether every partition has a lag point at t.
func allCommitted(c Chart, t int64) bool {
	for _, s := range c.Series {
		if _, ok := pointAt(s, t); !ok {
			return false
		}
	}
	return len(c.Series) > 0
}

// Skipping a week samples every virtual second of it without reading the
// cluster: the window is flat (no throughput, the same lag) and the skip
// stays fast.
func TestSkipKeepsSamplingCheap(t *testing.T) {
	l := newLab(t, 13)
	v := l.MetricsVersion()
	l.Produce([]byte("user-1"), []byte("v"))
	l.Advance(3000)
	start := time.Now()
	l.Skip(7 * 24 * 3600 * 1000)
	took := time.Since(start)
	l.Advance(MetricsIntervalMs)
	if got := l.MetricsVersion() - v; got < 7*24*3600 {
		t.Errorf("%d samples over a week", got)
	}
	c := l.Throughput()
	for _, s := range c.Series {
		if len(s.Points) != MetricsKeep-1 {
			t.Fatalf("%s: %d points, want %d", s.Name, len(s.Points), MetricsKeep-1)
		}
		for _, p := range s.Points {
			if p.Value != 0 {
				t.Fatalf("%s: %d records/s at %d during the skip", s.Name, p.Value, p.Time)
			}
		}
	}
	t.Logf("a week's skip took %v", took)
}
