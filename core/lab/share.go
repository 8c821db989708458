package lab

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/topicname"
)

// Session is what a share link or a saved session holds: the lab's
// configuration (with its seed), the moment shown and the action log up to
// it. Replay(Config, Actions, Now) rebuilds that state exactly.
//
// The text form is base64url (no padding) of a small binary: a version
// byte, the config as varints, Now, then each action as the time since the
// previous one, its kind and its arguments. Decoding checks every field
// and refuses what the page could not have written.
type Session struct {
	Config  Config
	Now     int64
	Actions []Action
}

// Session is the lab's current session.
func (l *Lab) Session() Session { return Session{Config: l.cfg, Now: l.Now(), Actions: l.Actions()} }

// sessionVersion is the first byte of an encoded session; a new layout
// takes a new version and DecodeSession keeps reading the old ones.
const sessionVersion = 1

// Limits of a session a page accepts: what the page can run, with room.
const (
	MaxSessionText = 1 << 20 // characters of the text form
	maxActions     = 100000
	maxBrokers     = 9
	maxPartitions  = 64
	maxLatencyMs   = 10000
	maxTimeoutMs   = 600000
	maxKeep        = 100000
	maxSlowMs      = 60000
	maxSkipMs      = 365 * 24 * 3600 * 1000
	maxGroupMs     = 3600 * 1000
	maxTextLen     = 255
	// maxRunMs bounds the time a session ran, skips left out: a page
	// replays it step by step.
	maxRunMs = 7 * 24 * 3600 * 1000
)

// Encode writes the session's text form.
func (s Session) Encode() string {
	c := s.Config
	b := []byte{sessionVersion}
	b = binary.AppendUvarint(b, c.Seed)
	for _, n := range []int64{int64(c.Brokers), int64(c.Partitions), int64(c.ReplicationFactor), int64(c.MinInsyncReplicas),
		c.MinLatencyMs, c.MaxLatencyMs, int64(c.KeepEvents), int64(c.KeepWire), c.ClientRequestTimeoutMs} {
		b = binary.AppendUvarint(b, uint64(max(n, 0)))
	}
	b = appendString(b, c.Topic)
	b = append(b, configFlags(c))
	b = binary.AppendUvarint(b, uint64(max(s.Now-sim.Epoch, 0)))
	b = binary.AppendUvarint(b, uint64(len(s.Actions)))
	prev := sim.Epoch
	for _, a := range s.Actions {
		b = binary.AppendUvarint(b, uint64(max(a.At-prev, 0)))
		prev = max(a.At, prev)
		b = append(b, byte(a.Kind))
		switch a.Kind {
		case ActProduce:
			b = appendBool(b, a.Key != nil)
			if a.Key != nil {
				b = appendBytes(b, a.Key)
			}
			b = appendBytes(b, a.Value)
		case ActSetAcks:
			b = binary.AppendVarint(b, a.N)
		case ActSetStrategy, ActAddMember:
			b = appendString(b, a.Text)
		case ActKillBroker, ActRestartBroker, ActPauseBroker, ActResumeBroker, ActIsolate, ActHeal, ActRemoveMember, ActCrashMember:
			b = binary.AppendUvarint(b, uint64(a.Node))
		case ActSlowBroker:
			b = binary.AppendUvarint(b, uint64(a.Node))
			b = binary.AppendUvarint(b, uint64(a.N))
		case ActSkip, ActSetLoss, ActSetDuplication, ActPartitionBrokers:
			b = binary.AppendUvarint(b, uint64(a.N))
		case ActAddGroup:
			g := a.Group
			b = appendString(b, g.Name)
			b = appendString(b, g.Assignor)
			b = append(b, byte(g.Commit))
			b = binary.AppendUvarint(b, uint64(g.ProcessingDelayMs))
			b = binary.AppendUvarint(b, uint64(g.SessionTimeoutMs))
			b = binary.AppendUvarint(b, uint64(g.Members))
		case ActAddProducer:
			p := a.Producer
			b = appendString(b, p.Name)
			b = binary.AppendVarint(b, int64(p.Acks))
			if p.Retries != 0 {
				b = append(b, byte(p.Idempotence)|producerRetriesSet)
				b = binary.AppendVarint(b, int64(max(p.Retries, -1)))
			} else {
				b = append(b, byte(p.Idempotence))
			}
			b = appendString(b, p.Partitioner)
			b = appendString(b, p.Generator)
			b = binary.AppendUvarint(b, uint64(max(p.Rate, 0)))
		case ActRemoveProducer:
			b = appendString(b, a.Text)
		case ActSetRate:
			b = appendString(b, a.Text)
			b = binary.AppendUvarint(b, uint64(max(a.N, 0)))
		case ActProduceTo:
			b = appendString(b, a.Text)
			b = appendBool(b, a.Key != nil)
			if a.Key != nil {
				b = appendBytes(b, a.Key)
			}
			b = appendBytes(b, a.Value)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// The config's flags share a byte that was NoWarmup's bool (0 or 1) in
// the first links: those read the same, no new version needed.
const (
	flagNoWarmup = 1 << iota
	flagUnclean
)

// producerRetriesSet in an added producer's enable.idempotence byte (0 to
// 2 in the first links) says that retries follows as a varint: a producer
// with Kafka's default retries encodes as before, so old links read the
// same and need no new version.
const producerRetriesSet = 0x80

func configFlags(c Config) byte {
	var f byte
	if c.NoWarmup {
		f |= flagNoWarmup
	}
	if c.UncleanLeaderElection {
		f |= flagUnclean
	}
	return f
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, s string) []byte { return appendBytes(b, []byte(s)) }

// DecodeSession reads a session's text form. It never panics; its errors
// say what is wrong for the page to show.
func DecodeSession(text string) (Session, error) {
	var s Session
	if len(text) > MaxSessionText {
		return s, fmt.Errorf("the session is %d characters long, more than %d", len(text), MaxSessionText)
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return s, errors.New("the session is not base64url text")
	}
	if len(raw) == 0 || raw[0] != sessionVersion {
		if len(raw) == 0 {
			return s, errors.New("the session is empty")
		}
		return s, fmt.Errorf("session format version %d is not one this page reads (it reads %d)", raw[0], sessionVersion)
	}
	r := reader{b: raw[1:]}
	c := &s.Config
	c.Seed = r.uvarint()
	c.Brokers = int(r.upTo(maxBrokers, "brokers"))
	c.Partitions = int32(r.upTo(maxPartitions, "partitions"))
	c.ReplicationFactor = int16(r.upTo(int64(c.Brokers), "replication factor"))
	c.MinInsyncReplicas = int(r.upTo(int64(c.ReplicationFactor), "min.insync.replicas"))
	c.MinLatencyMs = r.upTo(maxLatencyMs, "latency")
	c.MaxLatencyMs = r.upTo(maxLatencyMs, "latency")
	c.KeepEvents = int(r.upTo(maxKeep, "events kept"))
	c.KeepWire = int(r.upTo(maxKeep, "messages kept"))
	c.ClientRequestTimeoutMs = r.upTo(maxTimeoutMs, "request.timeout.ms")
	c.Topic = r.text("topic")
	flags := r.byte()
	c.NoWarmup, c.UncleanLeaderElection = flags&flagNoWarmup != 0, flags&flagUnclean != 0
	if flags&^(flagNoWarmup|flagUnclean) != 0 {
		r.fail("unknown config flags")
	}
	switch {
	case r.err != nil:
	case c.Brokers < 1 || c.Partitions < 1 || c.ReplicationFactor < 1:
		r.fail("the cluster needs at least one broker, partition and replica")
	case c.MaxLatencyMs > 0 && c.MinLatencyMs > c.MaxLatencyMs:
		r.fail("the latency range is upside down")
	case c.Topic != "" && topicname.Validate(c.Topic) != nil:
		r.fail(fmt.Sprintf("topic %q: %v", c.Topic, topicname.Validate(c.Topic)))
	}
	// The time it ran, skips aside, is checked once the skips are known.
	s.Now = sim.Epoch + r.upTo(math.MaxInt64-sim.Epoch, "time")
	n := r.upTo(maxActions, "actions")
	if n > int64(len(r.b))/2 { // an action takes at least two bytes
		r.fail("the action count is larger than the session")
	}
	if r.err != nil {
		return Session{}, r.err
	}
	s.Actions = make([]Action, 0, n)
	at, skipped := sim.Epoch, int64(0)
	for range n {
		at += r.upTo(s.Now-at, "action time (past the session's moment)")
		a := Action{At: at, Kind: Kind(r.byte())}
		switch a.Kind {
		case ActProduce:
			if r.bool() {
				a.Key = r.bytes()
			}
			a.Value = r.bytes()
		case ActSetAcks:
			if a.N = r.varint(); r.err == nil && !validAcks(a.N) {
				r.fail(fmt.Sprintf("acks %d", a.N))
			}
		case ActSetStrategy, ActAddMember:
			a.Text = r.text("name")
		case ActKillBroker, ActRestartBroker, ActPauseBroker, ActResumeBroker, ActIsolate, ActHeal, ActRemoveMember, ActCrashMember:
			a.Node = core.NodeID(r.upTo(math.MaxInt32, "node id"))
		case ActHealAll:
		case ActSlowBroker:
			a.Node = core.NodeID(r.upTo(math.MaxInt32, "node id"))
			a.N = r.upTo(maxSlowMs, "added latency")
		case ActSkip:
			a.N = r.upTo(maxSkipMs, "skip")
			skipped += a.N
		case ActSetLoss, ActSetDuplication:
			a.N = r.upTo(MaxFaultPct, "percent of messages")
		case ActPartitionBrokers:
			a.N = r.upTo(1<<(maxBrokers+1)-1, "brokers")
		case ActAddGroup:
			g := &a.Group
			g.Name = r.text("group.id")
			g.Assignor = r.text("assignor")
			if g.Commit = client.CommitMode(r.byte()); g.Commit > client.CommitBeforeProcessing {
				r.fail("unknown commit mode")
			}
			g.ProcessingDelayMs = r.upTo(maxGroupMs, "processing time")
			g.SessionTimeoutMs = int32(r.upTo(maxGroupMs, "session.timeout.ms"))
			g.Members = int(r.upTo(MaxMembersPerGroup, "members"))
		case ActAddProducer:
			p := &a.Producer
			p.Name = r.text("client.id")
			if p.Acks = client.Acks(r.varint()); r.err == nil && !validAcks(int64(p.Acks)) {
				r.fail(fmt.Sprintf("acks %d", p.Acks))
			}
			idem := r.byte()
			if p.Idempotence = client.Idempotence(idem &^ producerRetriesSet); p.Idempotence > client.IdempotenceOff {
				r.fail("unknown enable.idempotence")
			}
			if idem&producerRetriesSet != 0 {
				// -1 is retries=0 (ProducerSpec.withDefaults); 0, the
				// default, is never written here.
				n := r.varint()
				if r.err == nil && (n < -1 || n == 0 || n > math.MaxInt32) {
					r.fail(fmt.Sprintf("retries %d", n))
				}
				p.Retries = int(n)
			}
			if p.Partitioner = r.text("partitioner"); r.err == nil && !slices.Contains(Strategies, p.Partitioner) {
				r.fail(fmt.Sprintf("unknown partitioner %q", p.Partitioner))
			}
			if p.Generator = r.text("generator"); r.err == nil && !slices.Contains(Generators, p.Generator) {
				r.fail(fmt.Sprintf("unknown generator %q", p.Generator))
			}
			p.Rate = r.upTo(MaxRate, "rate")
		case ActRemoveProducer:
			a.Text = r.text("client.id")
		case ActSetRate:
			a.Text = r.text("client.id")
			a.N = r.upTo(MaxRate, "rate")
		case ActProduceTo:
			a.Text = r.text("client.id")
			if r.bool() {
				a.Key = r.bytes()
			}
			a.Value = r.bytes()
		default:
			r.fail(fmt.Sprintf("unknown action kind %d", a.Kind))
		}
		if r.err != nil {
			return Session{}, r.err
		}
		s.Actions = append(s.Actions, a)
	}
	switch {
	case len(r.b) > 0:
		return Session{}, fmt.Errorf("the session has %d bytes too many", len(r.b))
	case s.Now-sim.Epoch-skipped > maxRunMs:
		return Session{}, fmt.Errorf("the session ran %s, more than this page replays (%s)", Duration(s.Now-sim.Epoch-skipped), Duration(maxRunMs))
	}
	return s, nil
}

// reader reads the binary form; its first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = errors.New("the session is damaged: " + what)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("a number is cut short or too long")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("a number is cut short or too long")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// upTo reads a number in [0, limit].
func (r *reader) upTo(limit int64, what string) int64 {
	v := r.uvarint()
	if r.err == nil && v > uint64(max(limit, 0)) {
		r.fail(fmt.Sprintf("%s %d is out of range (at most %d)", what, v, limit))
		return 0
	}
	return int64(v)
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("it ends too soon")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bool() bool {
	switch v := r.byte(); v {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("a flag is neither 0 nor 1")
	return false
}

// bytes reads a length-prefixed byte string; never nil on success, so
// that an empty key stays apart from a null one.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.fail("a length runs past the end")
	}
	if r.err != nil {
		return nil
	}
	v := append([]byte{}, r.b[:n]...)
	r.b = r.b[n:]
	return v
}

func (r *reader) text(what string) string {
	v := r.bytes()
	if r.err == nil && len(v) > maxTextLen {
		r.fail(fmt.Sprintf("%s is longer than %d bytes", what, maxTextLen))
	}
	return string(v)
}
