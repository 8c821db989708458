package client

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// Acks is the producer's acks setting. Its zero value means Kafka's default,
// acks=all (ProducerConfig ACKS_CONFIG default "all" since Kafka 3.0, KIP-679).
// AcksAll (-1) and AcksLeader (1) are Kafka's own numbers; acks=0 cannot be the
// number 0, which is the "unset" zero value, so it is the constant AcksNone.
type Acks int16

const (
	AcksAll    Acks = -1 // acks=all: the leader answers once every in-sync replica has the batch
	AcksLeader Acks = 1  // acks=1: the leader answers once it appended the batch to its log
	AcksNone   Acks = -2 // acks=0: the broker sends no answer at all; sent counts as delivered
)

// Wire is the acks field of the ProduceRequest: -1, 1 or 0.
func (a Acks) Wire() int16 {
	switch a {
	case AcksNone:
		return 0
	case AcksLeader:
		return 1
	}
	return -1
}

// String is the acks config value as Kafka writes it: "all", "1" or "0".
func (a Acks) String() string {
	switch a {
	case AcksNone:
		return "0"
	case AcksLeader:
		return "1"
	case AcksAll, 0:
		return "all"
	}
	return fmt.Sprintf("Acks(%d)", int16(a))
}

// ParseAcks reads Kafka's acks config values: "all", "-1", "1" or "0".
func ParseAcks(s string) (Acks, error) {
	switch s {
	case "all", "-1":
		return AcksAll, nil
	case "1":
		return AcksLeader, nil
	case "0":
		return AcksNone, nil
	}
	return 0, fmt.Errorf("invalid value %q for configuration acks: string must be one of: all, -1, 0, 1", s)
}

// Idempotence is the producer's enable.idempotence, a boolean Kafka treats
// differently when the user left it unset (AbstractConfig.originals): the zero
// value means unset.
type Idempotence int8

const (
	// IdempotenceDefault leaves enable.idempotence unset: on (Kafka's default
	// since 3.0, KIP-679) unless acks is set to something other than all,
	// which turns it off instead of failing
	// (ProducerConfig.postProcessAndValidateIdempotenceConfigs).
	IdempotenceDefault Idempotence = iota
	// IdempotenceOn is enable.idempotence=true set explicitly: a
	// configuration that conflicts with it is refused.
	IdempotenceOn
	// IdempotenceOff is enable.idempotence=false: batches carry no producer
	// id, so a retry after a lost answer can write a record twice.
	IdempotenceOff
)

// String is the config value as Kafka writes it, "" when unset.
func (i Idempotence) String() string {
	switch i {
	case IdempotenceDefault:
		return ""
	case IdempotenceOn:
		return "true"
	case IdempotenceOff:
		return "false"
	}
	return fmt.Sprintf("Idempotence(%d)", int8(i))
}

// AnyPartition in Record.Partition lets the partitioner choose.
const AnyPartition int32 = -1

// Record is what an application hands to Producer.Send (Kafka's
// ProducerRecord).
type Record struct {
	Topic string
	// Partition is an explicit partition, or AnyPartition (-1) to let the
	// partitioner choose: murmur2 of the key, or the sticky partition for a
	// null key. Note that the zero value 0 is an explicit partition 0.
	Partition int32
	Key       []byte // nil is a null key; an empty key is hashed like any other
	Value     []byte // nil is a null value (a tombstone)
	Headers   []kmsg.Header
	// Timestamp is the CreateTime in Unix ms; 0 means the producer's clock.
	Timestamp int64
}

// ProducerConfig configures a Producer. Field comments give the Kafka config
// name and its default; the zero value of a field means that default. Where
// 0 is itself a meaningful Kafka value (linger.ms=0, batch.size=0), ask for it
// with a negative number.
type ProducerConfig struct {
	ID        core.NodeID
	ClientID  string        // client.id; "" gives "producer-<ID>"
	Bootstrap []core.NodeID // bootstrap.servers

	Acks              Acks  // acks: all (see Acks for acks=0)
	LingerMs          int64 // linger.ms: 5 (Kafka 4.0, KIP-1030); negative for 0
	BatchSize         int   // batch.size: 16384; negative for 0 (one record per batch)
	RequestTimeoutMs  int64 // request.timeout.ms: 30000
	Retries           int   // retries: 2147483647 (Integer.MAX_VALUE); negative for 0
	RetryBackoffMs    int64 // retry.backoff.ms: 100; negative for 0
	RetryBackoffMaxMs int64 // retry.backoff.max.ms: 1000 (KIP-580)
	DeliveryTimeoutMs int64 // delivery.timeout.ms: 120000
	MaxRequestSize    int   // max.request.size: 1048576
	MaxBlockMs        int64 // max.block.ms: 60000, how long Send waits for metadata
	MaxInFlight       int   // max.in.flight.requests.per.connection: 5
	MetadataMaxAgeMs  int64 // metadata.max.age.ms: 300000
	// EnableIdempotence is enable.idempotence: true unless acks is set to 0
	// or 1 (see Idempotence). After withDefaults it is On or Off.
	EnableIdempotence Idempotence
	// Partitioner is partitioner.class: nil for Kafka's built-in choice
	// (explicit partition, murmur2 of the key, sticky for a null key).
	Partitioner Partitioner
	// Seed feeds the sticky partitioner's random choices and the backoff
	// jitter.
	Seed uint64
}

// withDefaults fills in Kafka's defaults (ProducerConfig.java).
func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.ClientID == "" {
		c.ClientID = fmt.Sprintf("producer-%d", c.ID)
	}
	if c.Acks == 0 {
		c.Acks = AcksAll
	}
	c.LingerMs = orDefault(c.LingerMs, 5)
	c.BatchSize = orDefault(c.BatchSize, 16384)
	c.RequestTimeoutMs = orDefault(c.RequestTimeoutMs, defaultRequestTimeoutMs)
	c.Retries = orDefault(c.Retries, math.MaxInt32)
	c.RetryBackoffMs = orDefault(c.RetryBackoffMs, defaultRetryBackoffMs)
	c.RetryBackoffMaxMs = orDefault(c.RetryBackoffMaxMs, defaultRetryBackoffMaxMs)
	if c.DeliveryTimeoutMs == 0 {
		// Unset: Kafka raises the default to linger.ms + request.timeout.ms
		// if that is larger (KafkaProducer.configureDeliveryTimeout).
		c.DeliveryTimeoutMs = max(120000, c.LingerMs+c.RequestTimeoutMs)
	}
	if c.MaxRequestSize <= 0 {
		c.MaxRequestSize = 1048576
	}
	c.MaxBlockMs = orDefault(c.MaxBlockMs, 60000)
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = maxInFlightPerConnection
	}
	c.MetadataMaxAgeMs = orDefault(c.MetadataMaxAgeMs, defaultMetadataMaxAgeMs)
	if c.EnableIdempotence == IdempotenceDefault {
		// Since KIP-679 an unset enable.idempotence is true, but acks
		// other than all, or retries=0, turns it off rather than failing:
		// "Idempotence will be disabled because acks is set to 1, not set
		// to 'all'." / "... because retries is set to 0."
		// (ProducerConfig.postProcessAndValidateIdempotenceConfigs).
		c.EnableIdempotence = IdempotenceOn
		if c.Acks != AcksAll || c.Retries == 0 {
			c.EnableIdempotence = IdempotenceOff
		}
	}
	return c
}

// Validate reports a configuration Kafka would refuse.
func (c ProducerConfig) Validate() error {
	d := c.withDefaults()
	switch {
	case d.Acks != AcksAll && d.Acks != AcksLeader && d.Acks != AcksNone:
		return fmt.Errorf("invalid value %d for configuration acks", int16(c.Acks))
	case len(d.Bootstrap) == 0:
		return fmt.Errorf("no resolvable bootstrap urls given in bootstrap.servers")
	case d.DeliveryTimeoutMs < d.LingerMs+d.RequestTimeoutMs:
		// KafkaProducer.configureDeliveryTimeout
		return fmt.Errorf("delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms")
	case c.Retries > math.MaxInt32:
		// retries is a Java int (ConfigDef.Type.INT).
		return fmt.Errorf("invalid value %d for configuration retries: Not a number of type INT", c.Retries)
	case c.EnableIdempotence < IdempotenceDefault || c.EnableIdempotence > IdempotenceOff:
		return fmt.Errorf("invalid value %d for configuration enable.idempotence", int8(c.EnableIdempotence))
	// ProducerConfig.postProcessAndValidateIdempotenceConfigs (Kafka 4.x):
	// retries=0, then acks other than all, is an error with an explicit
	// enable.idempotence=true; max.in.flight > 5 is one unless
	// enable.idempotence=false, even where acks or retries turn idempotence
	// off (3.x only warned: "in v4.0.0 and onward, this will become an error").
	case c.EnableIdempotence == IdempotenceOn && d.Retries == 0:
		return fmt.Errorf("must set retries to non-zero when using the idempotent producer")
	case c.EnableIdempotence == IdempotenceOn && d.Acks != AcksAll:
		return fmt.Errorf("must set acks to all in order to use the idempotent producer. Otherwise we cannot guarantee idempotence")
	case c.EnableIdempotence != IdempotenceOff && d.MaxInFlight > maxInFlightForIdempotence:
		return fmt.Errorf("to use the idempotent producer, max.in.flight.requests.per.connection must be set to at most %d. Current value is %d",
			maxInFlightForIdempotence, d.MaxInFlight)
	}
	return nil
}

// pending is a record on its way: waiting for metadata, in a batch, or in a
// request.
type pending struct {
	Record
	sentAt int64
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

func (k tp) String() string { return k.topic + "-" + strconv.Itoa(int(k.partition)) }

func (a tp) compare(b tp) int {
	if a.topic != b.topic {
		if a.topic < b.topic {
			return -1
		}
		return 1
	}
	return int(a.partition - b.partition)
}

// batch is a ProducerBatch: records of one partition sent together.
type batch struct {
	tp
	recs       []*pending
	size       int // exact encoded size, header included (uncompressed)
	writeLimit int // max(batch.size, the first record's batch)
	baseTs     int64
	createdMs  int64
	attempts   int   // times it was re-enqueued after a failure
	retryAt    int64 // not sent again before this time
	closed     bool  // takes no more records
	inflight   bool
	done       bool
	no         int64 // creation order; split parts share their batch's

	// Idempotence: the producer id, epoch and base sequence the batch was
	// given when first drained (ProducerBatch.setProducerState), kept by
	// every retry so that the broker can recognise a duplicate.
	seq          *batchSeq
	maybeWritten bool  // an attempt ended without an answer: it may be in the log
	lastErr      int16 // the error of the last attempt
}

// batchSeq is an idempotent batch's producer state; gen counts the producer
// ids the producer was given, to tell a batch of an earlier one.
type batchSeq struct {
	gen   int
	id    int64
	epoch int16
	base  int32
}

// full is ProducerBatch.isFull: closed for appends, or at its write limit.
func (b *batch) full() bool { return b.closed || b.size >= b.writeLimit }

// recordSize is the encoded size of a record at offsetDelta with tsDelta
// (DefaultRecord.sizeInBytes).
func recordSize(offsetDelta int32, tsDelta int64, r *Record) int {
	body := 1 + varlongLen(tsDelta) + varlongLen(int64(offsetDelta)) +
		bytesLen(r.Key) + bytesLen(r.Value) + varlongLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		body += varlongLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return varlongLen(int64(body)) + body
}

func bytesLen(b []byte) int {
	if b == nil {
		return 1 // varint -1
	}
	return varlongLen(int64(len(b))) + len(b)
}

// varlongLen is the length of a zigzag varint.
func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// fits is ProducerBatch.tryAppend's room check (MemoryRecordsBuilder.hasRoomFor).
func (b *batch) fits(r *pending) bool {
	return !b.full() && b.size+recordSize(int32(len(b.recs)), r.Timestamp-b.baseTs, &r.Record) <= b.writeLimit
}

// add appends r and returns the bytes the batch grew by.
func (b *batch) add(r *pending) int {
	if len(b.recs) == 0 {
		b.baseTs = r.Timestamp
	}
	n := recordSize(int32(len(b.recs)), r.Timestamp-b.baseTs, &r.Record)
	b.recs = append(b.recs, r)
	b.size += n
	return n
}

// Producer is a Kafka producer as a deterministic state machine: Kafka's
// KafkaProducer, RecordAccumulator and Sender in one.
//
// With enable.idempotence (the default with acks=all) batches carry a
// producer id and sequence numbers, so the broker drops retries it already
// has and partitions stay in order with up to 5 requests in flight
// (idempotence.go). Without it a retry after a lost answer can write a
// record twice, and with max.in.flight > 1 a retried batch can land after a
// later one, as Kafka documents for enable.idempotence=false. Not
// implemented: transactions; compression (compression.type) is none.
type Producer struct {
	cfg    ProducerConfig
	nc     netClient
	sticky stickyPartitioner

	waiting  []*pending // waiting for metadata (max.block.ms)
	queues   map[tp][]*batch
	order    []tp // keys of queues, sorted: a deterministic iteration order
	inflight []*batch
	muted    map[tp]bool // max.in.flight=1: one batch in flight per partition
	drainIdx map[core.NodeID]int
	flushing bool
	batchNo  int64
	idem     idempotence

	stats ProducerStats
}

// ProducerStats counts what a producer did, for a UI.
type ProducerStats struct {
	Waiting  int // records waiting for their topic's metadata
	Buffered int // records in batches not yet sent
	InFlight int // records in requests that await an answer
	Sent     int64
	Acked    int64
	Failed   int64
	Retries  int64 // batches re-enqueued after a retriable error
	Batches  int64 // batches sent (retries included)
	Requests int64 // ProduceRequests sent
}

// BatchInfo describes a batch in the accumulator or in flight.
type BatchInfo struct {
	Topic     string
	Partition int32
	Records   int
	Bytes     int
	CreatedMs int64
	Attempts  int
	InFlight  bool
	// ProducerID and BaseSequence identify an idempotent batch once it
	// has been sent; -1 before, or without idempotence.
	ProducerID   int64
	BaseSequence int32
}

// NewProducer returns a producer. It panics on a configuration that Validate
// rejects, as KafkaProducer's constructor throws ConfigException.
func NewProducer(cfg ProducerConfig) *Producer {
	if err := cfg.Validate(); err != nil {
		panic("client: " + err.Error())
	}
	cfg = cfg.withDefaults()
	return &Producer{
		cfg: cfg,
		nc: newNetClient(cfg.ID, cfg.ClientID, cfg.Bootstrap, cfg.Seed, cfg.RequestTimeoutMs,
			cfg.RetryBackoffMs, cfg.RetryBackoffMaxMs, cfg.MetadataMaxAgeMs, defaultAllowAutoTopicCreate),
		sticky:   stickyPartitioner{batchSize: max(1, cfg.BatchSize)},
		queues:   map[tp][]*batch{},
		muted:    map[tp]bool{},
		drainIdx: map[core.NodeID]int{},
		idem:     newIdempotence(cfg.EnableIdempotence == IdempotenceOn),
	}
}

// Config is the effective configuration, defaults filled in.
func (p *Producer) Config() ProducerConfig { return p.cfg }

func (p *Producer) ID() core.NodeID { return p.cfg.ID }

// Step takes a response from a broker.
func (p *Producer) Step(env core.Envelope) {
	p.nc.step(env)
	p.run()
}

// Tick moves the clock: lingers end, requests time out, batches expire.
func (p *Producer) Tick(now int64) {
	p.nc.tick(now)
	p.run()
}

func (p *Producer) Ready() core.Ready { return p.nc.ready() }

func (p *Producer) Advance() { p.nc.advance() }

// Send queues a record (KafkaProducer.send). The outcome arrives as a
// RecordAcked or a ProduceFailed event. Error strings are Kafka error names,
// followed by the Java client's message where the client itself decided.
func (p *Producer) Send(r Record) {
	if r.Timestamp == 0 {
		r.Timestamp = p.nc.now
	}
	pr := &pending{Record: r, sentAt: p.nc.now}
	p.stats.Sent++
	switch {
	case r.Topic == "":
		p.failRecord(pr, kerr.InvalidTopicException.Message+": a record needs a topic")
		return
	case r.Partition < AnyPartition:
		p.failRecord(pr, fmt.Sprintf("%s: Invalid partition given with record: %d", "INVALID_REQUEST", r.Partition))
		return
	case r.Timestamp < 0:
		p.failRecord(pr, fmt.Sprintf("%s: Invalid timestamp: %d. Timestamp should always be non-negative or null.", "INVALID_TIMESTAMP", r.Timestamp))
		return
	}
	// KafkaProducer.ensureValidRecordSize.
	if n := record.HeaderSize + recordSize(0, 0, &r); n > p.cfg.MaxRequestSize {
		p.failRecord(pr, fmt.Sprintf("%s: The message is %d bytes when serialized which is larger than %d, which is the value of the max.request.size configuration.",
			kerr.MessageTooLarge.Message, n, p.cfg.MaxRequestSize))
		return
	}
	p.waiting = append(p.waiting, pr)
	p.nc.meta.want(r.Topic)
	p.run()
}

// Flush makes every buffered batch sendable now, without waiting for
// linger.ms (KafkaProducer.flush), until nothing is pending.
func (p *Producer) Flush() {
	p.flushing = true
	p.run()
}

// Pending is the number of records sent but neither acknowledged nor failed.
func (p *Producer) Pending() int {
	s := p.Stats()
	return s.Waiting + s.Buffered + s.InFlight
}

// Stats returns counters for a UI.
func (p *Producer) Stats() ProducerStats {
	s := p.stats
	s.Waiting = len(p.waiting)
	for _, k := range p.order {
		for _, b := range p.queues[k] {
			s.Buffered += len(b.recs)
		}
	}
	for _, b := range p.inflight {
		s.InFlight += len(b.recs)
	}
	return s
}

// Batches lists the batches being filled, waiting and in flight, by partition.
func (p *Producer) Batches() []BatchInfo {
	var out []BatchInfo
	info := func(b *batch) BatchInfo {
		bi := BatchInfo{Topic: b.topic, Partition: b.partition, Records: len(b.recs), Bytes: b.size,
			CreatedMs: b.createdMs, Attempts: b.attempts, InFlight: b.inflight, ProducerID: -1, BaseSequence: -1}
		if b.seq != nil {
			bi.ProducerID, bi.BaseSequence = b.seq.id, b.seq.base
		}
		return bi
	}
	for _, b := range p.inflight {
		out = append(out, info(b))
	}
	for _, k := range p.order {
		for _, b := range p.queues[k] {
			out = append(out, info(b))
		}
	}
	slices.SortStableFunc(out, func(a, b BatchInfo) int {
		return tp{a.Topic, a.Partition}.compare(tp{b.Topic, b.Partition})
	})
	return out
}

// PartitionCount is the topic's number of partitions as the producer knows
// it, -1 if unknown.
func (p *Producer) PartitionCount(topic string) int32 { return p.nc.meta.partitions(topic) }

// run does whatever is due, like one pass of the Java Sender thread
// (Sender.runOnce): place records whose metadata arrived, expire batches, send
// ready batches, refresh metadata.
func (p *Producer) run() {
	p.placeWaiting()
	p.expire()
	p.maybeInitProducerID()
	p.sendReady()
	p.nc.maybeUpdateMetadata()
	if p.flushing && p.Pending() == 0 {
		p.flushing = false
	}
}

// placeWaiting partitions the records whose topic metadata is known, in
// send order. KafkaProducer.waitOnMetadata blocks send() for up to
// max.block.ms; here the record waits instead and fails after that time.
func (p *Producer) placeWaiting() {
	kept := p.waiting[:0]
	for _, r := range p.waiting {
		n := p.nc.meta.partitions(r.Topic)
		if n < 0 {
			if code := p.nc.meta.topicErr(r.Topic); code != 0 && !retriable(code) {
				p.failRecord(r, errName(code)) // e.g. INVALID_TOPIC_EXCEPTION
				continue
			}
		}
		if n <= 0 || r.Partition >= n {
			if n > 0 {
				p.nc.meta.requestUpdate() // maybe partitions were added
			}
			if p.nc.now-r.sentAt >= p.cfg.MaxBlockMs {
				msg := fmt.Sprintf("Topic %s not present in metadata after %d ms.", r.Topic, p.cfg.MaxBlockMs)
				if n >= 0 {
					msg = fmt.Sprintf("Partition %d of topic %s with partition count %d is not present in metadata after %d ms.",
						r.Partition, r.Topic, n, p.cfg.MaxBlockMs)
				}
				p.failRecord(r, kerr.RequestTimedOut.Message+": "+msg)
				continue
			}
			kept = append(kept, r)
			continue
		}
		p.place(r, n)
	}
	clear(p.waiting[len(kept):])
	p.waiting = kept
}

// place chooses the record's partition and appends it to a batch
// (KafkaProducer.doSend, RecordAccumulator.append).
func (p *Producer) place(r *pending, n int32) {
	reason := "explicit"
	if s := p.cfg.Partitioner; s != nil && r.Partition < 0 {
		switch got := s.Partition(r.Topic, r.Key, r.Value, n); {
		case got >= 0 && got < n:
			r.Partition, reason = got, s.Name()
		case got != AnyPartition:
			// Kafka's KafkaProducer.partition throws for this.
			p.failRecord(r, partitionerError(s, got, n))
			return
		}
	}
	switch {
	case r.Partition >= 0:
	case r.Key != nil:
		r.Partition, reason = KeyPartition(r.Key, n), "murmur2"
	default:
		r.Partition, reason = p.placeSticky(r, n), "sticky"
		p.nc.emit(core.RecordPartitioned{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Reason: reason})
		return
	}
	p.nc.emit(core.RecordPartitioned{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Reason: reason})
	p.appendTo(tp{r.Topic, r.Partition}, r)
}

// placeSticky appends a null-key record to the topic's sticky partition,
// following RecordAccumulator.append: the partition may switch before the
// append when every batch of the current one is full (partitionChanged), and
// the appended bytes count towards the next switch.
func (p *Producer) placeSticky(r *pending, n int32) int32 {
	pick := func() int32 {
		return pickPartition(toPositive(int32(p.nc.rng.Uint32())), p.nc.meta.available(r.Topic), n)
	}
	for {
		info := p.sticky.current(r.Topic, pick)
		k := tp{r.Topic, info.partition}
		if p.allBatchesFull(k) && p.sticky.update(r.Topic, info, 0, true, pick) {
			continue
		}
		q := p.queues[k]
		if len(q) > 0 && !q[len(q)-1].full() {
			last := q[len(q)-1]
			if last.fits(r) {
				grown := last.add(r)
				p.sticky.update(r.Topic, info, grown, p.allBatchesFull(k), pick)
				return k.partition
			}
			last.closed = true
			if p.sticky.update(r.Topic, info, 0, true, pick) {
				continue
			}
		}
		b := p.newBatch(k, r)
		p.sticky.update(r.Topic, info, b.size, p.allBatchesFull(k), pick)
		return k.partition
	}
}

// allBatchesFull is RecordAccumulator.allBatchesFull: the last batch of the
// partition, if any, takes no more records.
func (p *Producer) allBatchesFull(k tp) bool {
	q := p.queues[k]
	return len(q) == 0 || q[len(q)-1].full()
}

// appendTo adds r to the partition's open batch or to a new one.
func (p *Producer) appendTo(k tp, r *pending) {
	if q := p.queues[k]; len(q) > 0 {
		last := q[len(q)-1]
		if last.fits(r) {
			last.add(r)
			return
		}
		last.closed = true
	}
	p.newBatch(k, r)
}

func (p *Producer) newBatch(k tp, r *pending) *batch {
	p.batchNo++
	b := &batch{tp: k, size: record.HeaderSize, createdMs: p.nc.now, no: p.batchNo}
	b.add(r)
	b.writeLimit = max(p.cfg.BatchSize, b.size)
	p.enqueue(b, false)
	return b
}

// enqueue adds a batch at the end of its partition's queue, or at the front
// for a retry (RecordAccumulator.reenqueue: deque.addFirst).
func (p *Producer) enqueue(b *batch, front bool) {
	q, ok := p.queues[b.tp]
	if !ok {
		i, _ := slices.BinarySearchFunc(p.order, b.tp, tp.compare)
		p.order = slices.Insert(p.order, i, b.tp)
	}
	switch {
	case front && p.idem.on():
		// An idempotent producer puts a retried batch back in sequence
		// order, not first (RecordAccumulator.insertInSequenceOrder):
		// sequences are given in creation order, so creation order it is.
		i := 0
		for i < len(q) && q[i].no <= b.no {
			i++
		}
		q = slices.Insert(q, i, b)
	case front:
		q = slices.Insert(q, 0, b)
	default:
		q = append(q, b)
	}
	p.queues[b.tp] = q
}

// expire fails batches whose delivery.timeout.ms has passed, queued or in
// flight (RecordAccumulator.expiredBatches, Sender.getExpiredInflightBatches,
// KIP-91). An expired in-flight batch may still be written by the broker.
func (p *Producer) expire() {
	deadline := func(b *batch) bool { return p.nc.now >= b.createdMs+p.cfg.DeliveryTimeoutMs }
	for _, k := range p.order {
		q := p.queues[k]
		i := 0
		for i < len(q) && deadline(q[i]) {
			p.failBatch(q[i], p.expiryMessage(q[i]))
			i++
		}
		if i > 0 {
			p.queues[k] = q[i:]
		}
	}
	kept := p.inflight[:0]
	for _, b := range p.inflight {
		if deadline(b) {
			b.inflight = false
			b.maybeWritten = true
			delete(p.muted, b.tp)
			p.failBatch(b, p.expiryMessage(b))
			continue
		}
		kept = append(kept, b)
	}
	clear(p.inflight[len(kept):])
	p.inflight = kept
}

func (p *Producer) expiryMessage(b *batch) string {
	return fmt.Sprintf("%s: Expiring %d record(s) for %s:%d ms has passed since batch creation",
		kerr.RequestTimedOut.Message, len(b.recs), b.tp, p.nc.now-b.createdMs)
}

// sendReady sends the batches that are ready (RecordAccumulator.ready, then
// drain, then Sender.sendProduceRequests). A batch is ready when it is full,
// its linger.ms has passed, its retry backoff has passed, or a flush is on;
// once a broker has a ready batch, batches of its other partitions ride
// along in the same request up to max.request.size.
func (p *Producer) sendReady() {
	var nodes []core.NodeID
	unknownLeader := false
	for _, k := range p.order {
		q := p.queues[k]
		if len(q) == 0 || p.muted[k] {
			continue
		}
		leader, _, ok := p.nc.meta.leader(k.topic, k.partition)
		if !ok {
			unknownLeader = true
			continue
		}
		first := q[0]
		var sendable bool
		if first.attempts > 0 {
			sendable = p.nc.now >= first.retryAt
		} else {
			sendable = len(q) > 1 || first.full() || p.flushing || p.nc.now-first.createdMs >= p.cfg.LingerMs
		}
		if sendable && !slices.Contains(nodes, leader) {
			nodes = append(nodes, leader)
		}
	}
	if unknownLeader {
		p.nc.meta.requestUpdate()
	}
	slices.Sort(nodes)
	for _, node := range nodes {
		if !p.nc.canSend(node, p.cfg.MaxInFlight) {
			continue
		}
		if batches := p.drain(node); len(batches) > 0 {
			p.produce(node, batches)
		}
	}
}

// drain takes at most one batch per partition led by node, starting where the
// previous drain for that node stopped (RecordAccumulator.drainBatchesForOneNode).
func (p *Producer) drain(node core.NodeID) []*batch {
	var parts []tp
	for _, k := range p.order {
		if leader, _, ok := p.nc.meta.leader(k.topic, k.partition); ok && leader == node && len(p.queues[k]) > 0 {
			parts = append(parts, k)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	start := p.drainIdx[node] % len(parts)
	p.drainIdx[node] = start + 1
	var out []*batch
	size := 0
	for i := range parts {
		k := parts[(start+i)%len(parts)]
		q := p.queues[k]
		first := q[0]
		if p.muted[k] || first.attempts > 0 && p.nc.now < first.retryAt {
			continue
		}
		if size+first.size > p.cfg.MaxRequestSize && len(out) > 0 {
			break
		}
		if !p.sequence(first) {
			continue
		}
		p.queues[k] = q[1:]
		first.closed = true
		size += first.size
		out = append(out, first)
	}
	return out
}

// produce sends one ProduceRequest with the batches to node.
func (p *Producer) produce(node core.NodeID, batches []*batch) {
	v, ok := p.nc.version(node, kmsg.Produce.Int16(), clientVersions[kmsg.Produce.Int16()][1])
	if !ok {
		for _, b := range batches {
			p.failBatch(b, kerr.UnsupportedVersion.Message)
		}
		return
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = v
	req.Acks = p.cfg.Acks.Wire()
	req.TimeoutMillis = int32(p.cfg.RequestTimeoutMs) // Sender uses request.timeout.ms
	for _, b := range batches {
		recs := make([]record.Record, len(b.recs))
		for i, r := range b.recs {
			recs[i] = record.Record{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, Headers: r.Headers}
		}
		rb := record.Batch{Records: recs}
		if s := b.seq; s != nil {
			rb.Producer = &record.Producer{ID: s.id, Epoch: s.epoch, BaseSequence: s.base}
		}
		part := kmsg.ProduceRequestTopicPartition{Partition: b.partition, Records: record.Build(rb)}
		if n := len(req.Topics); n > 0 && req.Topics[n-1].Topic == b.topic {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, part)
		} else {
			req.Topics = append(req.Topics, kmsg.ProduceRequestTopic{Topic: b.topic, Partitions: []kmsg.ProduceRequestTopicPartition{part}})
		}
		p.stats.Batches++
	}
	p.stats.Requests++
	if p.cfg.Acks == AcksNone {
		// No answer will come: the Java client completes each batch when
		// the request is sent, with offset -1 (Sender.handleProduceResponse,
		// ProduceResponse.INVALID_OFFSET).
		p.nc.send(node, req, nil)
		for _, b := range batches {
			p.ackBatch(b, -1)
		}
		return
	}
	for _, b := range batches {
		b.inflight = true
		p.inflight = append(p.inflight, b)
		if p.cfg.MaxInFlight == 1 {
			// Kafka mutes a partition while a batch is in flight when
			// max.in.flight.requests.per.connection is 1 (guaranteeMessageOrder).
			p.muted[b.tp] = true
		}
	}
	p.nc.send(node, req, func(resp kmsg.Response, err *kerr.Error) {
		var parts map[tp]*kmsg.ProduceResponseTopicPartition
		if err == nil {
			parts = map[tp]*kmsg.ProduceResponseTopicPartition{}
			r := resp.(*kmsg.ProduceResponse)
			for i := range r.Topics {
				for j := range r.Topics[i].Partitions {
					pr := &r.Topics[i].Partitions[j]
					parts[tp{r.Topics[i].Topic, pr.Partition}] = pr
				}
			}
		}
		for _, b := range batches {
			switch {
			case err != nil:
				b.maybeWritten = true // no answer: the broker may have appended it
				p.completeBatch(b, err.Code, -1)
			case parts[b.tp] == nil:
				p.completeBatch(b, kerr.UnknownServerError.Code, -1) // a broker that forgot a partition
			default:
				p.completeBatch(b, parts[b.tp].ErrorCode, parts[b.tp].BaseOffset)
			}
		}
		p.run()
	})
}

// completeBatch handles a batch's answer (Sender.completeBatch): ack it,
// split it, retry it or fail it.
func (p *Producer) completeBatch(b *batch, code int16, baseOffset int64) {
	if b.done {
		if code == 0 {
			p.idem.acked(b) // expired while in flight, yet written
		}
		return
	}
	b.inflight = false
	b.lastErr = code
	delete(p.muted, b.tp)
	if i := slices.Index(p.inflight, b); i >= 0 {
		p.inflight = slices.Delete(p.inflight, i, i+1)
	}
	if invalidMetadata(code) {
		p.nc.meta.requestUpdate()
	}
	switch code {
	case kerr.RequestTimedOut.Code, kerr.NotEnoughReplicasAfterAppend.Code, kerr.NetworkException.Code, kerr.NotLeaderForPartition.Code:
		// The batch may be in the log, unacknowledged: the leader appended
		// it but did not hear from enough replicas in time, or lost its
		// leadership while it waited for them (a delayed acks=all produce
		// then answers NOT_LEADER_OR_FOLLOWER, and the new leader has the
		// batch if it had replicated it), or the request was sent and its
		// connection broke before the answer.
		b.maybeWritten = true
	}
	switch {
	case code == 0:
		p.idem.acked(b)
		p.ackBatch(b, baseOffset)
	case code == kerr.DuplicateSequenceNumber.Code && b.seq != nil:
		// Old brokers answer a duplicate older than the batches they keep
		// with this error; the batch is in the log at an unknown offset,
		// and Sender.completeBatch treats it as a success.
		p.idem.acked(b)
		p.ackBatch(b, -1)
	case (code == kerr.OutOfOrderSequenceNumber.Code || code == kerr.UnknownProducerID.Code) && b.seq != nil:
		p.idem.sequenceError(b, code)
		if p.canRetry(b) {
			p.retry(b, code)
		} else {
			p.failBatch(b, errName(code))
		}
	case code == kerr.MessageTooLarge.Code && len(b.recs) > 1:
		// The broker's message.max.bytes is smaller than our batch: split
		// it into batches of batch.size and retry (Sender.completeBatch ->
		// RecordAccumulator.splitAndReenqueue). The parts keep the original
		// creation time, so delivery.timeout.ms still counts from it; the
		// split is not a retry, so it happens whatever retries says.
		p.split(b)
	case retriable(code) && p.canRetry(b):
		// Request timeouts and lost connections come here too, with
		// REQUEST_TIMED_OUT or NETWORK_EXCEPTION (NetworkClient answers
		// them as disconnects): they count against retries like any error.
		p.retry(b, code)
	default:
		p.failBatch(b, errName(code))
	}
}

// canRetry is Sender.canRetry less the error check, done by the caller: a
// batch goes back only before its delivery.timeout.ms and while it was
// re-enqueued fewer than retries times. Otherwise it fails with the last
// error, which is what the application's callback sees.
func (p *Producer) canRetry(b *batch) bool {
	return p.nc.now < b.createdMs+p.cfg.DeliveryTimeoutMs && b.attempts < p.cfg.Retries
}

// retry puts a batch back for another attempt after the retry backoff
// (Sender.reenqueueBatch), unless it belongs to an earlier producer id and
// cannot be resent safely (see idempotence.restamp).
func (p *Producer) retry(b *batch, code int16) {
	if msg, ok := p.idem.restamp(b); !ok {
		p.failBatch(b, msg)
		return
	}
	b.attempts++
	b.retryAt = p.nc.now + p.nc.retryBackoff(b.attempts-1)
	p.enqueue(b, true)
	p.stats.Retries++
	p.nc.emit(core.ProduceRetried{Topic: b.topic, Partition: b.partition, Records: len(b.recs), Attempt: b.attempts, Error: errName(code)})
}

func (p *Producer) split(b *batch) {
	var parts []*batch
	var cur *batch
	for _, r := range b.recs {
		if cur == nil || !cur.fits(r) {
			cur = &batch{tp: b.tp, size: record.HeaderSize, createdMs: b.createdMs, no: b.no,
				maybeWritten: b.maybeWritten, lastErr: b.lastErr}
			cur.add(r)
			cur.writeLimit = max(p.cfg.BatchSize, cur.size)
			parts = append(parts, cur)
			continue
		}
		cur.add(r)
	}
	if msg, ok := p.idem.restamp(b); !ok {
		p.failBatch(b, msg)
		return
	}
	if s := b.seq; s != nil {
		// The parts take the sequences of the batch they split, in order
		// (RecordAccumulator.splitAndReenqueue).
		seq := s.base
		for _, part := range parts {
			part.seq = &batchSeq{gen: s.gen, id: s.id, epoch: s.epoch, base: seq}
			seq = incrementSequence(seq, int32(len(part.recs)))
		}
	}
	if p.idem.on() {
		for _, part := range parts { // in order: enqueue keeps sequence order
			part.closed = true
			p.enqueue(part, true)
		}
		return
	}
	for i := len(parts) - 1; i >= 0; i-- {
		parts[i].closed = true
		p.enqueue(parts[i], true)
	}
}

func (p *Producer) ackBatch(b *batch, baseOffset int64) {
	b.done = true
	for i, r := range b.recs {
		off := int64(-1)
		if baseOffset >= 0 {
			off = baseOffset + int64(i)
		}
		p.stats.Acked++
		p.nc.emit(core.RecordAcked{Topic: b.topic, Partition: b.partition, Offset: off, Key: r.Key, Value: r.Value})
	}
}

func (p *Producer) failBatch(b *batch, msg string) {
	b.done = true
	p.idem.failed(b)
	for _, r := range b.recs {
		p.failRecord(r, msg)
	}
}

func (p *Producer) failRecord(r *pending, msg string) {
	p.stats.Failed++
	p.nc.emit(core.ProduceFailed{Topic: r.Topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Error: msg})
}
