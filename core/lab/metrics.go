package lab

import (
	"strconv"
)

// Metrics: throughput and consumer lag over time, sampled on the sim's
// virtual clock (never the wall clock, so runs replay), for the page's
// charts. Every MetricsIntervalMs the lab reads, per partition, the log end
// offset and high watermark of its leader, and per group its committed
// offsets (as its coordinator reported them); the last MetricsKeep samples
// are kept.
//
// Consumer lag is Kafka's, as kafka-consumer-groups --describe shows it:
// LAG = LOG-END-OFFSET − CURRENT-OFFSET, where the tool's LOG-END-OFFSET is
// what ListOffsets(latest) answers a read_uncommitted client, the high
// watermark, and CURRENT-OFFSET is the group's committed offset. It is not
// the consumer's position: a group that reads but has not committed yet
// still lags. A partition the group never committed has no lag (the tool
// prints "-") and is left out of the group's total.

const (
	MetricsIntervalMs = 1000 // one sample per virtual second
	MetricsKeep       = 300  // 5 virtual minutes
)

// Series is one line of a chart, oldest point first.
type Series struct {
	Name      string // "P3" for a partition, the group.id for a group's total
	Partition int32  // -1 for a group's total
	Points    []Point
}

// Point is one sample of a series.
type Point struct {
	Time  int64 // virtual Unix ms
	Value int64
}

// Chart is a set of series over the metrics window: the MetricsKeep
// samples up to End, the newest sample's time (0 before the first).
type Chart struct {
	End    int64
	Series []Series
}

type metrics struct {
	started bool
	samples []sample // bounded by keepLast
	taken   uint64   // samples so far
	// moved: an event happened since the last sample. idle: the last
	// sample saw none, so sampling stopped until the next event.
	moved, idle bool
}

type sample struct {
	time int64
	// Per partition, on its leader; while it has none, the last known
	// value (-1 before any).
	leo, hw []int64
	// Per group (in the order added), per partition: hw − committed, -1
	// where the group has no committed offset.
	lag [][]int64
}

// startMetrics starts sampling, at the next whole interval of the clock.
// The metrics views call it, so a headless lab that never charts (the
// simulation tests) pays nothing.
func (l *Lab) startMetrics() {
	if l.metrics.started {
		return
	}
	l.metrics.started = true
	l.Sim.At(nextSampleTime(l.Sim.Now()), l.sampleMetrics)
}

// nextSampleTime is the first whole interval at or after t.
func nextSampleTime(t int64) int64 {
	return (t + MetricsIntervalMs - 1) / MetricsIntervalMs * MetricsIntervalMs
}

// Offsets, leaders and commits only change with events, so a sample with
// no event since the previous one repeats it, and sampling then sleeps
// until the next event. Sim.Jump ("Skip 7 days") runs every action on the
// way without ticking a machine: without this, a skipped week would cost
// 604,800 samples on the page's main thread.
func (l *Lab) metricsEvent() {
	m := &l.metrics
	m.moved = true
	if !m.idle {
		return
	}
	m.idle = false
	// The state held until now: repeat it at each interval slept through
	// (the newest MetricsKeep are all that is kept).
	now := l.Sim.Now()
	lastT := m.samples[len(m.samples)-1].time
	next := max(nextSampleTime(now), lastT+MetricsIntervalMs)
	missed := (next-lastT)/MetricsIntervalMs - 1
	m.taken += uint64(missed)
	for t := max(lastT+MetricsIntervalMs, next-MetricsKeep*MetricsIntervalMs); t < next; t += MetricsIntervalMs {
		m.repeat(t)
	}
	l.Sim.At(next, l.sampleMetrics)
}

// repeat adds a copy of the newest sample, at time t.
func (m *metrics) repeat(t int64) {
	s := m.samples[len(m.samples)-1]
	s.time = t
	m.samples = keepLast(append(m.samples, s), MetricsKeep)
}

func (l *Lab) sampleMetrics() {
	m := &l.metrics
	now := l.Sim.Now()
	m.taken++
	if len(m.samples) > 0 && !m.moved {
		m.repeat(now)
		m.idle = true
		return
	}
	m.moved = false
	l.Sim.At(now+MetricsIntervalMs, l.sampleMetrics)
	parts := int(l.cfg.Partitions)
	s := sample{time: now, leo: make([]int64, parts), hw: make([]int64, parts)}
	var prev *sample
	if n := len(m.samples); n > 0 {
		prev = &m.samples[n-1]
	}
	for p := range parts {
		s.leo[p], s.hw[p] = -1, -1
		if prev != nil {
			s.leo[p], s.hw[p] = prev.leo[p], prev.hw[p]
		}
		if id := l.leaderNode(int32(p)); id >= 0 {
			if info, ok := l.servers[id].Broker().Partition(l.cfg.Topic, int32(p)); ok {
				s.leo[p], s.hw[p] = info.LogEndOffset, info.HighWatermark
			}
		}
	}
	for _, g := range l.grp.list {
		lag := make([]int64, parts)
		for p := range parts {
			lag[p] = -1
			if c, ok := g.committed[int32(p)]; ok && s.hw[p] >= 0 {
				// Below zero only if a truncation took back what was
				// committed: nothing is left to read.
				lag[p] = max(0, s.hw[p]-c)
			}
		}
		s.lag = append(s.lag, lag)
	}
	m.samples = keepLast(append(m.samples, s), MetricsKeep)
}

// MetricsVersion counts the samples taken so far: a chart redraws only
// when it moves. The first call starts sampling.
func (l *Lab) MetricsVersion() uint64 {
	l.startMetrics()
	return l.metrics.taken
}

func (l *Lab) window() []sample {
	l.startMetrics()
	return last(l.metrics.samples, MetricsKeep)
}

func chartEnd(ss []sample) int64 {
	if len(ss) == 0 {
		return 0
	}
	return ss[len(ss)-1].time
}

// Throughput is one series per partition: records/s appended to the
// partition's leader (its log end offset's rise over each interval, what
// Kafka's MessagesInPerSec counts). A new leader with a shorter log (it
// truncated) counts 0, not less.
func (l *Lab) Throughput() Chart {
	ss := l.window()
	c := Chart{End: chartEnd(ss)}
	for p := range int(l.cfg.Partitions) {
		sr := Series{Name: "P" + strconv.Itoa(p), Partition: int32(p)}
		for i := 1; i < len(ss); i++ {
			if a, b := ss[i-1].leo[p], ss[i].leo[p]; a >= 0 && b >= 0 {
				sr.Points = append(sr.Points, Point{ss[i].time, max(0, b-a) * 1000 / MetricsIntervalMs})
			}
		}
		c.Series = append(c.Series, sr)
	}
	return c
}

// Lag is one series per group, in the order added: its consumer lag
// summed over the partitions it committed (see the top of this file).
func (l *Lab) Lag() Chart {
	ss := l.window()
	c := Chart{End: chartEnd(ss)}
	for i, g := range l.grp.list {
		sr := Series{Name: g.cfg.Name, Partition: -1}
		for _, s := range ss {
			if i >= len(s.lag) {
				continue // the group did not exist yet
			}
			total, known := int64(0), false
			for _, v := range s.lag[i] {
				if v >= 0 {
					total, known = total+v, true
				}
			}
			if known {
				sr.Points = append(sr.Points, Point{s.time, total})
			}
		}
		c.Series = append(c.Series, sr)
	}
	return c
}

// GroupLag is a group's consumer lag per partition, one series each (no
// points where the group has no committed offset); no series for a group
// the lab does not have.
func (l *Lab) GroupLag(group string) Chart {
	ss := l.window()
	c := Chart{End: chartEnd(ss)}
	i := -1
	for j, g := range l.grp.list {
		if g.cfg.Name == group {
			i = j
		}
	}
	if i < 0 {
		return c
	}
	for p := range int(l.cfg.Partitions) {
		sr := Series{Name: "P" + strconv.Itoa(p), Partition: int32(p)}
		for _, s := range ss {
			if i < len(s.lag) && s.lag[i][p] >= 0 {
				sr.Points = append(sr.Points, Point{s.time, s.lag[i][p]})
			}
		}
		c.Series = append(c.Series, sr)
	}
	return c
}
