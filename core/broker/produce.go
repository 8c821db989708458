package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// produce appends one batch per partition. With acks=0 the broker sends no
// response at all (KafkaApis.handleProduceRequest); with acks=1 it answers
// once the leader appended (in this Ready, so persisted before the response
// leaves); with acks=all it waits until the high watermark, the smallest log
// end offset in the ISR, passes the batch (DelayedProduce).
func (n *Node) produce(env core.Envelope, req *kmsg.ProduceRequest) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	waiting := map[*partition]int64{}
	validAcks := req.Acks == 0 || req.Acks == 1 || req.Acks == -1
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			var err *kerr.Error
			var msg string
			switch {
			case !validAcks:
				err = kerr.InvalidRequiredAcks
			case isInternal(rt.Topic):
				// Only the coordinators write there (ReplicaManager:
				// internalTopicsAllowed is false for clients).
				err, msg = kerr.InvalidTopicException, fmt.Sprintf("Cannot append to internal topic %s", rt.Topic)
			default:
				var next int64
				next, err, msg = n.appendTo(rt.Topic, rp, &sp, req.Acks, env.Owned)
				if p := n.partition(rt.Topic, rp.Partition); err == nil && req.Acks == -1 && p.hw < next {
					waiting[p] = next
				}
			}
			if err != nil {
				sp.ErrorCode = n.fail("Produce", rt.Topic, rp.Partition, err)
				if msg != "" && req.Version >= 8 {
					sp.ErrorMessage = kmsg.StringPtr(msg)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	n.serveParked()
	switch {
	case req.Acks == 0:
	case len(waiting) > 0:
		n.produces = append(n.produces, &parkedProduce{env: env, resp: resp, waiting: waiting,
			deadline: n.now + int64(max(req.TimeoutMillis, 0))})
		n.completeProduces()
	default:
		n.reply(env, resp)
	}
}

// appendTo validates a partition's records as Kafka's LogValidator does and
// appends them. next is the offset after the batch: what the high watermark
// must reach before an acks=all produce is answered.
func (n *Node) appendTo(topic string, rp kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, acks int16, owned bool) (next int64, _ *kerr.Error, _ string) {
	p := n.partition(topic, rp.Partition)
	if p == nil {
		return 0, kerr.UnknownTopicOrPartition, ""
	}
	if !n.isLeader(p) {
		return 0, kerr.NotLeaderForPartition, ""
	}
	if acks == -1 && len(p.isr) < n.minInsync(p) {
		// Refused before the append (Partition.appendRecordsToLeader).
		return 0, kerr.NotEnoughReplicas, fmt.Sprintf("the ISR %v has fewer than min.insync.replicas=%d replicas", p.isr, n.minInsync(p))
	}
	tc := n.topics[topic].cfg
	if len(rp.Records) == 0 {
		return 0, kerr.InvalidRecord, "no record batch"
	}
	h, size, err := record.ParseBatch(rp.Records)
	if err != nil {
		return 0, kafkaError(err), err.Error()
	}
	if size != len(rp.Records) {
		// Produce v3+ must carry exactly one v2 batch per partition
		// (LogValidator.validateOneBatchRecords).
		return 0, kerr.InvalidRecord, "a produce request must contain exactly one record batch per partition"
	}
	if size > int(tc.maxMessageBytes) {
		return 0, kerr.MessageTooLarge, fmt.Sprintf("the batch is %d bytes, more than max.message.bytes=%d", size, tc.maxMessageBytes)
	}
	if h.Attributes&0x20 != 0 {
		return 0, kerr.InvalidRecord, "clients must not send control batches"
	}
	if h.Attributes&0x10 != 0 {
		return 0, kerr.InvalidTxnState, "transactions are not implemented yet"
	}
	if h.ProducerID >= 0 {
		dup, err, msg := p.checkProducer(h)
		if err != nil {
			return 0, err, msg
		}
		if dup != nil {
			// A retry of a batch already in the log: answer with where it
			// went, append nothing (Kafka returns NONE with the original
			// offsets; the producer cannot tell it was a duplicate).
			sp.BaseOffset, sp.LogStartOffset = dup.firstOffset, p.log.LogStartOffset()
			next = dup.lastOffset + 1
			n.events = append(n.events, core.DuplicateIgnored{Topic: topic, Partition: p.index,
				ProducerID: h.ProducerID, FirstSequence: h.FirstSequence, BaseOffset: dup.firstOffset})
			return next, nil, ""
		}
	}
	// LogValidator.validateBatch: the header must agree with itself whatever
	// the codec, or offsets would go backwards or skip.
	if h.NumRecords <= 0 || int64(h.LastOffsetDelta)+1 != int64(h.NumRecords) {
		return 0, kerr.InvalidRecord, fmt.Sprintf("inconsistent batch: %d records, lastOffsetDelta %d", h.NumRecords, h.LastOffsetDelta)
	}
	maxTs := h.MaxTimestamp
	switch codec := record.CompressionOf(h.Attributes); codec {
	case record.None, record.Gzip, record.Snappy, record.LZ4, record.Zstd:
		// Every codec is read record by record, as LogValidator's
		// validateMessagesAndAssignOffsetsCompressed does. The first
		// record that fails a check below decides the answer, unless the
		// batch itself is invalid (Each's error comes first).
		var bad *kerr.Error
		var badMsg string
		compacts := tc.log.CleanupPolicy.Compacts()
		maxTs = -1
		err := record.Each(h, func(r *kmsg.Record) {
			if bad != nil {
				return
			}
			if r.Key == nil && compacts {
				// LogValidator.validateKey: compaction keeps the latest
				// record per key; a record without one cannot be kept.
				bad, badMsg = kerr.InvalidRecord, fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d.", topic, rp.Partition)
				return
			}
			ts := record.RecordTimestamp(h, *r)
			maxTs = max(maxTs, ts)
			if !tc.logAppendTime {
				if e := n.checkTimestamp(tc, ts); e != "" {
					bad, badMsg = kerr.InvalidTimestamp, e
				}
			}
		})
		if err != nil {
			return 0, kafkaError(err), err.Error()
		}
		if bad != nil {
			return 0, bad, badMsg
		}
	default:
		// CompressionType.forId rejects ids above 4.
		return 0, kerr.CorruptMessage, fmt.Sprintf("unknown compression type id %d", codec)
	}

	raw := rp.Records // the log keeps it, and sets its offsets in place
	if !owned {
		raw = append([]byte(nil), raw...)
	}
	record.SetPartitionLeaderEpoch(raw, p.leaderEpoch)
	h.PartitionLeaderEpoch = p.leaderEpoch
	switch {
	case tc.logAppendTime:
		record.SetLogAppendTime(raw, n.now)
		h.MaxTimestamp = n.now
		sp.LogAppendTime = n.now
	case maxTs != h.MaxTimestamp:
		// Retention and ListOffsets trust the header: make it the truth.
		record.SetMaxTimestamp(raw, maxTs)
		h.MaxTimestamp = maxTs
	}
	base, last, rolled := p.log.Append(raw, h, n.now)
	p.noteProducer(h, base, last)
	if rolled {
		n.events = append(n.events, core.SegmentRolled{Topic: topic, Partition: p.index, BaseOffset: base})
	}
	n.writes = append(n.writes, p.log.Writes()...)
	n.events = append(n.events, core.RecordsAppended{Topic: topic, Partition: p.index, BaseOffset: base,
		LastOffset: last, Records: h.NumRecords, Bytes: len(raw), LeaderEpoch: p.leaderEpoch})
	n.maybeAdvanceHW(p)
	sp.BaseOffset = base
	next = last + 1
	sp.LogStartOffset = p.log.LogStartOffset()
	return next, nil, ""
}

// checkTimestamp applies message.timestamp.before/after.max.ms (KIP-937).
func (n *Node) checkTimestamp(tc topicConfig, ts int64) string {
	if ts < 0 {
		return ""
	}
	if ts > n.now && ts-n.now > tc.afterMaxMs {
		return fmt.Sprintf("timestamp %d is more than message.timestamp.after.max.ms=%d ahead of the broker clock %d", ts, tc.afterMaxMs, n.now)
	}
	if ts < n.now && n.now-ts > tc.beforeMaxMs {
		return fmt.Sprintf("timestamp %d is more than message.timestamp.before.max.ms=%d behind the broker clock %d", ts, tc.beforeMaxMs, n.now)
	}
	return ""
}

// kafkaError maps a record validation error to its Kafka error.
func kafkaError(err error) *kerr.Error {
	var re *record.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return kerr.CorruptMessage
}
