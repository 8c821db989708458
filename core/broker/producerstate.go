package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
)

// Idempotent producers (KIP-98): each partition remembers, per producer id,
// the epoch and the last batches it appended, so that a retried batch is
// recognised and answered with its original offsets instead of being written
// twice, and a gap in sequence numbers is refused. This follows Kafka's
// ProducerStateManager / ProducerAppendInfo / ProducerStateEntry.

// retainedBatches is how many batches per producer are kept for duplicate
// detection (ProducerStateEntry.NUM_BATCHES_TO_RETAIN), which is why a
// producer may have at most 5 requests in flight.
const retainedBatches = 5

type producerBatch struct {
	firstSeq, lastSeq       int32
	firstOffset, lastOffset int64
}

type producerEntry struct {
	epoch   int16
	batches []producerBatch // oldest first, at most retainedBatches
}

// lastSeq is the sequence of the producer's last appended record.
func (e *producerEntry) lastSeq() int32 { return e.batches[len(e.batches)-1].lastSeq }

// batchLastSeq is the batch's last sequence; sequences wrap from MaxInt32 to
// 0 (DefaultRecordBatch.incrementSequence).
func batchLastSeq(h kmsg.RecordBatch) int32 {
	return int32((int64(h.FirstSequence) + int64(h.LastOffsetDelta)) % (1 << 31))
}

// checkProducer validates an idempotent batch against the partition's
// producer state (ProducerAppendInfo.checkProducerEpoch and checkSequence).
// A duplicate of a retained batch returns it, and the caller answers with its
// offsets instead of appending.
func (p *partition) checkProducer(h kmsg.RecordBatch) (dup *producerBatch, err *kerr.Error, msg string) {
	e := p.producers[h.ProducerID]
	if e == nil {
		if h.FirstSequence != 0 {
			// The producer's state is gone (never seen, or expired with
			// the log): it must start again (UnknownProducerIdException).
			return nil, kerr.UnknownProducerID, fmt.Sprintf("no state for producer %d: a new producer must start at sequence 0, not %d", h.ProducerID, h.FirstSequence)
		}
		return nil, nil, ""
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, kerr.InvalidProducerEpoch, fmt.Sprintf("epoch %d of producer %d is older than its current epoch %d", h.ProducerEpoch, h.ProducerID, e.epoch)
	case h.ProducerEpoch > e.epoch:
		if h.FirstSequence != 0 {
			return nil, kerr.OutOfOrderSequenceNumber, fmt.Sprintf("a new epoch %d must start at sequence 0, not %d", h.ProducerEpoch, h.FirstSequence)
		}
		return nil, nil, ""
	}
	last := batchLastSeq(h)
	for i := range e.batches {
		if b := e.batches[i]; b.firstSeq == h.FirstSequence && b.lastSeq == last {
			return &b, nil, ""
		}
	}
	if want := int32((int64(e.lastSeq()) + 1) % (1 << 31)); h.FirstSequence != want {
		return nil, kerr.OutOfOrderSequenceNumber, fmt.Sprintf("producer %d sent sequence %d, expected %d", h.ProducerID, h.FirstSequence, want)
	}
	return nil, nil, ""
}

// noteProducer records an appended idempotent batch.
func (p *partition) noteProducer(h kmsg.RecordBatch, base, last int64) {
	if h.ProducerID < 0 {
		return
	}
	if p.producers == nil {
		p.producers = map[int64]*producerEntry{}
	}
	e := p.producers[h.ProducerID]
	if e == nil || h.ProducerEpoch != e.epoch {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = e
	}
	e.batches = append(e.batches, producerBatch{h.FirstSequence, batchLastSeq(h), base, last})
	if len(e.batches) > retainedBatches {
		e.batches = e.batches[len(e.batches)-retainedBatches:]
	}
}

// rebuildProducers forgets the producer state and reads it again from the
// log, as Kafka does on open and after a truncation (after its last
// snapshot; UnifiedLog.rebuildProducerState): state about batches a
// truncation removed would answer a retry with offsets that now hold other
// records.
func (p *partition) rebuildProducers() {
	p.producers = nil
	p.log.Batches(p.log.LogStartOffset(), func(b partlog.Batch) bool {
		if h, _, err := record.ParseBatch(b.Raw); err == nil {
			p.noteProducer(h, b.Base, b.Last)
		}
		return true
	})
}
