package client

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamlab/streamlab/core"
)

// The application, modelled explicitly: it polls (KafkaConsumer.poll
// returns up to max.poll.records buffered records and moves the positions
// past them), processes each record for ProcessingDelayMs of simulated
// time, and commits as its CommitMode says; then it polls again. The group
// rejoins only inside poll, so processing delays a rebalance, and an
// application that does not poll for max.poll.interval.ms is put out of the
// group (groupconsumer.go). A crash loses the batch being processed and
// every position: a restarted consumer starts from the committed offsets,
// which is where at-least-once and at-most-once come from.

// processedKept is how many processed records Processed remembers.
const processedKept = 10000

// appState is the application thread.
type appState struct {
	started   bool
	closed    bool
	batch     []core.RecordConsumed // returned by the last poll, not processed yet
	nextDone  int64                 // when batch[0] is processed
	waiting   bool                  // in a commitSync
	commitDue bool                  // CommitAfterProcessing: commit before the next poll
	lastPoll  int64
	ready     []TopicPartition // partitions with buffered records, in arrival order
	processed []processedAt
	topics    []string // processedAt.topic indexes it
	onProcess func(core.RecordConsumed)
}

// processedAt is a processed record as Processed remembers it. It holds no
// pointers, so it keeps neither the record's key and value nor the fetch
// answer they point into. In wasm Go's GC marks on the page's only thread
// and its cost is the heap it must scan: 10,000 records per consumer with
// three pointers each were two thirds of it under issue 6's load (see
// core/lab's BenchmarkLabGC).
type processedAt struct {
	topic     int32
	Partition int32
	Offset    int64
}

// ProcessedRecord is a record the application processed.
type ProcessedRecord struct {
	TopicPartition
	Offset int64
}

// at is r as processed keeps it.
func (a *appState) at(r core.RecordConsumed) processedAt {
	i := slices.Index(a.topics, r.Topic)
	if i < 0 {
		i = len(a.topics)
		a.topics = append(a.topics, r.Topic)
	}
	return processedAt{topic: int32(i), Partition: r.Partition, Offset: r.Offset}
}

// busy reports whether the application is processing or committing, so
// not polling.
func (a *appState) busy() bool { return len(a.batch) > 0 || a.waiting }

// SetProcessor sets the application's processing: fn is called for each
// record once it has been processed (ProcessingDelayMs after the previous
// one). What fn does outside the consumer (a database, a score) survives
// a crash of the consumer; the consumer's own state does not.
func (c *Consumer) SetProcessor(fn func(core.RecordConsumed)) { c.app.onProcess = fn }

// Processed lists the last records (up to 10000) this consumer processed
// since it started; Stats().Processed counts them all.
func (c *Consumer) Processed() []ProcessedRecord {
	out := make([]ProcessedRecord, len(c.app.processed))
	for i, p := range c.app.processed {
		out[i] = ProcessedRecord{TopicPartition{c.app.topics[p.topic], p.Partition}, p.Offset}
	}
	return out
}

// Processing lists the records of the last poll still to be processed.
func (c *Consumer) Processing() []core.RecordConsumed { return slices.Clone(c.app.batch) }

// buffered takes note of a fetch answer put in the partition's buffer; an
// answer with no record (only transaction markers) moves the position.
func (c *Consumer) buffered(ps *partState) {
	if len(ps.buffer) == 0 {
		ps.position = max(ps.position, ps.bufEnd)
		return
	}
	if !slices.Contains(c.app.ready, ps.TopicPartition) {
		c.app.ready = append(c.app.ready, ps.TopicPartition)
	}
}

func (c *Consumer) clearBuffer(ps *partState) {
	ps.buffer, ps.bufEnd = nil, ps.position
}

// runApp lets the application do what it can now: process records whose
// time has come, commit, poll.
func (c *Consumer) runApp() {
	a := &c.app
	for !a.closed && !a.waiting {
		if len(a.batch) > 0 {
			if c.nc.now < a.nextDone {
				return
			}
			r := a.batch[0]
			a.batch = a.batch[1:]
			if len(a.processed) == processedKept {
				a.processed = slices.Delete(a.processed, 0, processedKept/10)
			}
			a.processed = append(a.processed, a.at(r))
			c.stats.Processed++
			if a.onProcess != nil {
				a.onProcess(r)
			}
			if len(a.batch) > 0 {
				a.nextDone += c.cfg.ProcessingDelayMs
			} else {
				a.batch = nil
				a.commitDue = c.cfg.Commit == CommitAfterProcessing
			}
			continue
		}
		if a.commitDue {
			a.commitDue = false
			if offsets := c.consumedOffsets(); len(offsets) > 0 {
				a.waiting = true
				c.commit(offsets, true, func(*kerr.Error) { a.waiting = false })
			}
			continue
		}
		if !c.poll() {
			return
		}
	}
}

// poll is KafkaConsumer.poll: the group's work first, then the buffered
// records. It reports whether it returned any.
func (c *Consumer) poll() bool {
	a := &c.app
	a.lastPoll = c.nc.now
	if c.grp != nil && !c.grp.poll() {
		return false
	}
	recs := c.takeRecords()
	if len(recs) == 0 {
		return false
	}
	a.batch = recs
	a.nextDone = c.nc.now + c.cfg.ProcessingDelayMs
	if c.cfg.Commit == CommitBeforeProcessing {
		// At-most-once: commit the new positions before processing; if the
		// commit fails, the records are skipped, never processed twice.
		a.waiting = true
		c.commit(c.consumedOffsets(), true, func(err *kerr.Error) {
			a.waiting = false
			if err != nil {
				a.batch = nil
			}
			a.nextDone = c.nc.now + c.cfg.ProcessingDelayMs
		})
	}
	return true
}

// takeRecords returns up to max.poll.records buffered records, partition
// after partition in the order their fetches completed (FetchCollector),
// moves the positions past them and reports them as consumed.
func (c *Consumer) takeRecords() []core.RecordConsumed {
	a := &c.app
	var out []core.RecordConsumed
	kept := a.ready[:0]
	for _, k := range a.ready {
		ps := c.parts[k]
		if ps == nil || len(ps.buffer) == 0 {
			continue
		}
		if ps.paused || len(out) >= c.cfg.MaxPollRecords {
			kept = append(kept, k)
			continue
		}
		n := min(len(ps.buffer), c.cfg.MaxPollRecords-len(out))
		for _, r := range ps.buffer[:n] {
			out = append(out, r.RecordConsumed)
			ps.consumed++
			c.stats.Consumed++
			c.nc.emit(r.RecordConsumed)
		}
		last := ps.buffer[n-1]
		ps.position, ps.epoch = last.Offset+1, last.epoch
		ps.seenEpoch = max(ps.seenEpoch, last.epoch)
		ps.buffer = ps.buffer[n:]
		if len(ps.buffer) > 0 {
			kept = append(kept, k)
		} else {
			ps.buffer = nil
			ps.position = max(ps.position, ps.bufEnd)
		}
	}
	a.ready = kept
	return out
}
