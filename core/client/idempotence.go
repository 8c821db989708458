package client

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// The idempotent producer (enable.idempotence, KIP-98), after the Java
// client's TransactionManager for a producer without transactional.id:
//
//   - Before producing, the producer asks the least loaded broker for a
//     producer id with InitProducerId (Sender.maybeSendAndPollTransactionalRequest),
//     and sends no batch until it has one.
//   - A batch gets the producer id, epoch and the partition's next sequence
//     when it is first drained; the partition's sequence then advances by
//     the batch's record count, wrapping from MaxInt32 to 0
//     (RecordAccumulator.drainBatchesForOneNode,
//     DefaultRecordBatch.incrementSequence). Retries resend the same batch
//     with the same sequence, so the broker answers a duplicate of one of
//     its last 5 batches with the original offset instead of appending it.
//   - Retried batches go back in sequence order, and one is sent only when
//     no lower sequence of its partition is in flight
//     (RecordAccumulator.insertInSequenceOrder, shouldStopDrainBatchesForPartition):
//     that keeps a partition in order with up to 5 requests in flight.
//   - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the next one
//     expected (an earlier batch is being retried) is retried as is. For
//     the next expected batch it means the broker has a gap, and
//     UNKNOWN_PRODUCER_ID means it lost the producer's state: the producer
//     then starts over (TransactionManager.canRetry, handleFailedBatch). So
//     does a batch with a sequence that fails for good, since the sequences
//     after it would leave a gap; one that expired while maybe written
//     marks its partition unresolved, and starting over waits for proof of
//     the gap (markSequenceUnresolved, isNextSequenceForUnresolvedPartition).
//
// To start over the producer bumps its epoch itself, as Java does since 2.5
// (KIP-360, bumpIdempotentProducerEpoch at the start of Sender.runOnce): the
// same producer id, the next epoch, no request; the broker takes a higher
// epoch that starts at sequence 0 (ProducerAppendInfo.checkSequence). Only
// at the last epoch (32767) does it ask InitProducerId for a fresh id
// (resetIdempotentProducerId). Several errors in one answer make one bump.
//
// Simplified: Java renumbers only the partitions that had the error and
// moves the others to the new epoch once their batches in flight are done;
// here every partition starts again at sequence 0 under the new epoch.
// Batches waiting or still to be retried get new sequences, except those
// sent under the old epoch whose fate is unknown (an attempt timed out or
// lost its connection): resending them under the new epoch could write them
// twice, so they fail. Java renumbers those too and accepts that risk.
// InitProducerId errors are all retried after retry.backoff.ms (Java makes
// some fatal).
//
// A broker that does not advertise InitProducerId is handled as franz-go
// does (kgo producer.go doInitProducerID: "continuing without a producer
// id"): the producer goes on without idempotence and says so with an
// IdempotenceDisabled event. The Java client would fail instead
// (TxnRequestHandler.onComplete makes a version mismatch a fatal error); a
// simulator that shows the consequence is more useful than one that stops.

// maxInFlightForIdempotence is ProducerConfig's
// MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE, which matches the
// 5 batches a broker keeps per producer to find duplicates.
const maxInFlightForIdempotence = 5

type pidState uint8

const (
	pidOff    pidState = iota // idempotence off, or the broker lacks InitProducerId
	pidNeeded                 // InitProducerId is due
	pidAsking                 // InitProducerId is in flight
	pidReady                  // batches get the id and sequences
)

// idempotence is the producer id and the sequence bookkeeping.
type idempotence struct {
	state    pidState
	id       int64
	epoch    int16
	gen      int    // producer ids and epochs used so far
	bump     bool   // start over with the next epoch (epochBumpRequired)
	reason   string // why the producer starts over
	attempts int    // failed InitProducerId in a row, for the backoff
	retryAt  int64
	parts    map[tp]*partSeq // TransactionManager.TopicPartitionEntry
}

// partSeq is a partition's sequence state under the current producer id.
type partSeq struct {
	next       int32 // base sequence of the next new batch
	lastAcked  int32 // last sequence the broker acknowledged, -1 none
	unresolved int32 // sequence after a batch that failed maybe written, -1 none
}

func newIdempotence(on bool) idempotence {
	if !on {
		return idempotence{state: pidOff, id: -1, epoch: -1}
	}
	return idempotence{state: pidNeeded, id: -1, epoch: -1, reason: "new producer"}
}

func (s *idempotence) on() bool { return s.state != pidOff }

func (s *idempotence) part(k tp) *partSeq {
	ps := s.parts[k]
	if ps == nil {
		ps = &partSeq{lastAcked: -1, unresolved: -1}
		s.parts[k] = ps
	}
	return ps
}

// current reports whether b carries the producer id in use.
func (s *idempotence) current(b *batch) bool {
	return b.seq != nil && b.seq.gen == s.gen && s.state == pidReady
}

// startOver makes the producer bump its epoch before it sends anything
// more (requestEpochBumpForPartition): Producer.run does it first.
func (s *idempotence) startOver(reason string) {
	if s.state == pidReady && !s.bump {
		s.bump, s.reason = true, reason
	}
}

// acked notes the broker's acknowledgement of b (handleCompletedBatch).
func (s *idempotence) acked(b *batch) {
	if !s.current(b) {
		return
	}
	ps := s.part(b.tp)
	if last := lastSequence(b); ps.lastAcked < 0 || seqDiff(last, ps.lastAcked) > 0 {
		ps.lastAcked = last
	}
	if ps.unresolved >= 0 && seqDiff(incrementSequence(ps.lastAcked, 1), ps.unresolved) >= 0 {
		ps.unresolved = -1 // the batch that expired made it after all
	}
}

// sequenceError handles OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID
// for b, which is then retried (TransactionManager.canRetry).
func (s *idempotence) sequenceError(b *batch, code int16) {
	if !s.current(b) {
		return // sent under an earlier id: it gets a new sequence on retry
	}
	ps := s.part(b.tp)
	switch {
	case code == kerr.UnknownProducerID.Code:
		s.startOver(fmt.Sprintf("UNKNOWN_PRODUCER_ID for %s: the broker has no state for producer id %d", b.tp, b.seq.id))
	case b.seq.base == incrementSequence(ps.lastAcked, 1) || b.seq.base == ps.unresolved:
		s.startOver(fmt.Sprintf("OUT_OF_ORDER_SEQUENCE_NUMBER for %s at sequence %d: the broker's log has a gap", b.tp, b.seq.base))
	}
	// Otherwise an earlier batch has not made it yet: retry after it.
}

// failed notes that b will not be retried (handleFailedBatch,
// markSequenceUnresolved).
func (s *idempotence) failed(b *batch) {
	if !s.current(b) {
		return
	}
	if b.maybeWritten {
		ps := s.part(b.tp)
		if next := incrementSequence(lastSequence(b), 1); ps.unresolved < 0 || seqDiff(next, ps.unresolved) > 0 {
			ps.unresolved = next
		}
		return
	}
	s.startOver(fmt.Sprintf("%s failed a batch of %s at sequence %d: the batches after it would leave a gap",
		errName(b.lastErr), b.tp, b.seq.base))
}

// restamp prepares b to be sent again. A batch sent under an earlier
// producer id loses its sequence and gets a new one when drained, unless it
// may already be in the log: then it cannot be resent safely and ok is false,
// with the message to fail it with.
func (s *idempotence) restamp(b *batch) (msg string, ok bool) {
	if b.seq == nil || s.state != pidReady || b.seq.gen == s.gen {
		return "", true
	}
	if b.maybeWritten {
		return fmt.Sprintf("%s: the batch was sent as producer id %d epoch %d, which the producer left after %s; "+
			"an attempt may be in the log and resending it as epoch %d would write it again", errName(b.lastErr), b.seq.id, b.seq.epoch, s.reason, s.epoch), false
	}
	b.seq = nil
	return "", true
}

// maybeInitProducerID bumps the epoch if the producer must start over, and
// sends InitProducerId when it needs an id.
func (p *Producer) maybeInitProducerID() {
	s := &p.idem
	if s.bump && s.state == pidReady {
		s.bump = false
		if s.epoch < math.MaxInt16 {
			// Told before the batches it fails, as a new id is.
			p.nc.emit(core.ProducerEpochBumped{ProducerID: s.id, Epoch: s.epoch + 1, Reason: s.reason})
			p.useProducerID(s.id, s.epoch+1)
			return
		}
		s.state, s.retryAt = pidNeeded, 0 // the last epoch: a fresh producer id
	}
	if s.state != pidNeeded || p.nc.now < s.retryAt {
		return
	}
	// An idempotent producer asks the least loaded node, not a coordinator.
	node, ok := p.nc.metadataNode()
	if !ok {
		return
	}
	key := kmsg.InitProducerID.Int16()
	v, ok := p.nc.version(node, key, clientVersions[key][1])
	if !ok {
		s.state = pidOff
		p.nc.emit(core.IdempotenceDisabled{Broker: node,
			Reason: "the broker does not support InitProducerId: continuing without a producer id, so retries may write duplicates"})
		return
	}
	req := kmsg.NewPtrInitProducerIDRequest() // producer id and epoch -1: a new producer
	req.Version = v
	req.TransactionTimeoutMillis = math.MaxInt32 // as TransactionManager for a non-transactional producer
	s.state = pidAsking
	p.nc.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
		code := int16(0)
		if err != nil {
			code = err.Code
		} else {
			code = resp.(*kmsg.InitProducerIDResponse).ErrorCode
		}
		if code != 0 {
			s.state = pidNeeded
			s.attempts++
			s.retryAt = p.nc.now + p.nc.retryBackoff(s.attempts-1)
			return
		}
		r := resp.(*kmsg.InitProducerIDResponse)
		p.newProducerID(node, r.ProducerID, r.ProducerEpoch)
	})
}

// newProducerID starts using the producer id InitProducerId gave.
func (p *Producer) newProducerID(node core.NodeID, id int64, epoch int16) {
	p.nc.emit(core.ProducerIDAssigned{ProducerID: id, Epoch: epoch, Broker: node, Reason: p.idem.reason})
	p.useProducerID(id, epoch)
}

// useProducerID starts using a producer id and epoch: every partition
// starts at sequence 0, and batches waiting with a sequence of the earlier
// id or epoch get a new one or, if they may be in the log already, fail.
func (p *Producer) useProducerID(id int64, epoch int16) {
	s := &p.idem
	s.state, s.id, s.epoch, s.attempts = pidReady, id, epoch, 0
	s.gen++
	s.parts = map[tp]*partSeq{}
	for _, k := range p.order {
		q := p.queues[k]
		kept := q[:0]
		for _, b := range q {
			if msg, ok := s.restamp(b); !ok {
				p.failBatch(b, msg)
				continue
			}
			kept = append(kept, b)
		}
		clear(q[len(kept):])
		p.queues[k] = kept
	}
}

// sequence decides whether b, the first batch of its partition, may be
// drained now, and gives it a sequence if it has none
// (RecordAccumulator.shouldStopDrainBatchesForPartition and
// drainBatchesForOneNode).
func (p *Producer) sequence(b *batch) bool {
	s := &p.idem
	switch s.state {
	case pidOff:
		b.seq = nil // after a fallback, even a batch stamped before it goes without
		return true
	case pidReady:
	default:
		return false // no producer id: nothing is drained
	}
	if b.seq != nil {
		// A retry goes only as the lowest sequence of its partition in
		// flight; later ones would be out of order.
		for _, o := range p.inflight {
			if o.tp == b.tp && o.seq != nil && o.seq.gen == b.seq.gen && seqDiff(o.seq.base, b.seq.base) < 0 {
				return false
			}
		}
		return true
	}
	// No sequence of the new id while batches of an earlier one are in
	// flight to the partition: sequence 0 could overtake them.
	unresolved := 0
	for _, o := range p.inflight {
		if o.tp == b.tp && o.seq != nil && o.seq.gen != s.gen {
			return false
		}
		if o.tp == b.tp && o.seq != nil {
			unresolved++
		}
	}
	// Nor more than max.in.flight batches of a partition whose outcome is
	// unknown, wherever they went: the broker remembers the last 5 batches
	// of a producer, and a retry older than those would be refused as out
	// of order although it is in the log. In flight to an old leader
	// counts too (the per-connection limit alone lets a new leader get 5
	// more while the old ones are unanswered).
	for _, o := range p.queues[b.tp] {
		if o.seq != nil && o.seq.gen == s.gen {
			unresolved++
		}
	}
	if unresolved >= min(p.cfg.MaxInFlight, maxInFlightForIdempotence) {
		return false
	}
	ps := s.part(b.tp)
	b.seq = &batchSeq{gen: s.gen, id: s.id, epoch: s.epoch, base: ps.next}
	ps.next = incrementSequence(ps.next, int32(len(b.recs)))
	return true
}

// Idempotent reports whether the producer uses a producer id: enabled, and
// not fallen back for a broker without InitProducerId.
func (p *Producer) Idempotent() bool { return p.idem.on() }

// ProducerID is the producer id and epoch in use; ok is false while there
// is none.
func (p *Producer) ProducerID() (id int64, epoch int16, ok bool) {
	if p.idem.state != pidReady {
		return -1, -1, false
	}
	return p.idem.id, p.idem.epoch, true
}

// incrementSequence is DefaultRecordBatch.incrementSequence: sequences wrap
// from MaxInt32 to 0.
func incrementSequence(seq, n int32) int32 {
	if seq > math.MaxInt32-n {
		return n - (math.MaxInt32 - seq) - 1
	}
	return seq + n
}

// lastSequence is the sequence of the batch's last record.
func lastSequence(b *batch) int32 { return incrementSequence(b.seq.base, int32(len(b.recs))-1) }

// seqDiff is a - b on the circle of sequences (0..MaxInt32), in
// [-2^30, 2^30): its sign tells which comes first.
func seqDiff(a, b int32) int32 {
	d := (int64(a) - int64(b)) & math.MaxInt32
	if d >= 1<<30 {
		d -= 1 << 31
	}
	return int32(d)
}
