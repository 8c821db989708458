package lab

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// Named producers: besides the default producer that Produce and SetAcks
// drive, a learner adds producers of their own, each a client.Producer
// machine with its own configuration, fed by hand or by a built-in
// scenario generating records at a rate on the virtual clock.

// Generators feed a named producer.
var Generators = []string{GenManual, GenMatchEvents, GenClickstream}

const (
	// GenManual: the learner types each record (ProduceTo).
	GenManual = "manual"
	// GenMatchEvents: live match events keyed by match id, JSON values
	// such as {"match":"m3","seq":4,"minute":12,"event":"goal","team":"home"}.
	GenMatchEvents = "live match events"
	// GenClickstream: page views keyed by user id.
	GenClickstream = "clickstream"
)

// Limits that keep the page light: every producer is a machine in the tab.
const (
	MaxProducers = 8    // named producers at once
	MaxRate      = 1000 // records per virtual second: one producer can carry the 1,000/s of issue 6 (the frame budget slows the clock, not the tab)
	maxNameLen   = 32
	// DefaultProducerName names the default producer (Produce, SetAcks)
	// in Producers.
	DefaultProducerName = "producer"
)

// ProducerIDBase: the n-th named producer of a lab (1, 2, ...) is
// ProducerIDBase+n, above the ids in lab.go and below MemberIDBase. Ids are
// never reused, so a removed producer's late events stay its own.
const ProducerIDBase = core.ClientIDBase + 10

// maxProducerIDs is how many named producers a session can ever add.
const maxProducerIDs = int(MemberIDBase-ProducerIDBase) - 1

// Matches and users of the scenarios.
const (
	scenarioMatches = 8
	scenarioUsers   = 20
)

// ProducerSpec is what a learner chooses for a named producer; the field
// comments give Kafka's config names.
type ProducerSpec struct {
	Name        string             // client.id
	Acks        client.Acks        // acks (0: all)
	Idempotence client.Idempotence // enable.idempotence (unset: true, or false with acks≠all or retries=0)
	Retries     int                // retries (0: 2147483647; negative for 0, as in client.ProducerConfig)
	Partitioner string             // partitioner.class: one of Strategies ("": default)
	Generator   string             // one of Generators ("": manual)
	Rate        int64              // records per virtual second (a scenario's; 0 pauses it)
}

func (s ProducerSpec) withDefaults() ProducerSpec {
	if s.Acks == 0 {
		s.Acks = client.AcksAll
	}
	if s.Retries < 0 {
		s.Retries = -1 // one spelling of retries=0, for the action log
	}
	if s.Partitioner == "" {
		s.Partitioner = StrategyDefault
	}
	if s.Generator == "" {
		s.Generator = GenManual
	}
	return s
}

// named is a named producer and its generator.
type named struct {
	spec  ProducerSpec
	p     *client.Producer
	rnd   *rand.Rand
	gen   uint64 // bumped to stop the scheduled generator
	sent  int64  // records generated since the rate was set
	from  int64  // when the rate was set
	seq   []int  // per match or user: records generated so far
	state []int  // per match: the minute
}

// producers is the lab's named producers.
type producers struct {
	list []*named               // in the order added
	byID map[core.NodeID]*named // removed ones too: their acks still count
	next int                    // ids handed out
}

// AddProducer starts a named producer. A configuration Kafka refuses
// (enable.idempotence=true with acks≠all or retries=0) is refused with
// Kafka's message.
func (l *Lab) AddProducer(s ProducerSpec) error {
	s = s.withDefaults()
	if err := l.checkSpec(s); err != nil {
		return err
	}
	id := ProducerIDBase + core.NodeID(l.prods.next+1)
	cfg := client.ProducerConfig{ID: id, ClientID: s.Name, Bootstrap: l.ids, Acks: s.Acks, EnableIdempotence: s.Idempotence,
		Retries: s.Retries, RequestTimeoutMs: l.cfg.ClientRequestTimeoutMs, Partitioner: strategyPartitioner(s.Partitioner)}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	l.record(Action{Kind: ActAddProducer, Producer: s})
	l.prods.next++
	cfg.Seed = l.Sim.Rand().Uint64()
	n := &named{spec: s, p: client.NewProducer(cfg), rnd: rand.New(rand.NewPCG(l.Sim.Rand().Uint64(), uint64(id)))}
	if l.prods.byID == nil {
		l.prods.byID = map[core.NodeID]*named{}
	}
	l.prods.list = append(l.prods.list, n)
	l.prods.byID[id] = n
	l.startClients()
	l.Sim.Add(n.p, nil)
	l.startGenerator(n)
	return nil
}

func (l *Lab) checkSpec(s ProducerSpec) error {
	switch {
	case len(l.prods.list) >= MaxProducers:
		return fmt.Errorf("%d producers at most in this page", MaxProducers)
	case l.prods.next >= maxProducerIDs:
		return fmt.Errorf("this session already made %d producers", maxProducerIDs)
	case !validName(s.Name):
		return fmt.Errorf("client.id %q: use 1 to %d letters, digits, '.', '_' or '-'", s.Name, maxNameLen)
	case s.Name == DefaultProducerName || l.named(s.Name) != nil:
		return fmt.Errorf("a producer named %q exists", s.Name)
	case !slices.Contains(Strategies, s.Partitioner):
		return fmt.Errorf("unknown partitioner %q", s.Partitioner)
	case !slices.Contains(Generators, s.Generator):
		return fmt.Errorf("unknown generator %q", s.Generator)
	case s.Rate < 0 || s.Rate > MaxRate:
		return fmt.Errorf("rate %d: from 0 to %d records/s", s.Rate, MaxRate)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// strategyPartitioner is a named producer's partitioner.class, fixed when
// it is made, as in Kafka (the default producer's follows SetStrategy).
func strategyPartitioner(name string) client.Partitioner {
	switch name {
	case StrategyRoundRobin:
		return client.RoundRobinPartitioner()
	case StrategyByMatch:
		return client.ValueFieldPartitioner("match")
	}
	return nil
}

func (l *Lab) named(name string) *named {
	for _, n := range l.prods.list {
		if n.spec.Name == name {
			return n
		}
	}
	return nil
}

// RemoveProducer stops a named producer as KafkaProducer.close does: its
// generator stops at once and the records it holds are still sent; the
// machine stays until they are answered. Unknown names are ignored.
func (l *Lab) RemoveProducer(name string) {
	n := l.named(name)
	if n == nil {
		return
	}
	l.record(Action{Kind: ActRemoveProducer, Text: name})
	n.gen++
	n.p.Flush()
	l.prods.list = slices.DeleteFunc(l.prods.list, func(x *named) bool { return x == n })
}

// SetRate changes a scenario producer's rate in records per virtual second
// (0 pauses it). A manual producer, an unknown name or a rate out of
// [0, MaxRate] is ignored.
func (l *Lab) SetRate(name string, rate int64) {
	n := l.named(name)
	if n == nil || n.spec.Generator == GenManual || rate < 0 || rate > MaxRate || rate == n.spec.Rate {
		return
	}
	l.record(Action{Kind: ActSetRate, Text: name, N: rate})
	n.spec.Rate = rate
	l.startGenerator(n)
}

// ProduceTo hands a typed record to a named manual producer; a nil key
// uses the sticky partitioner. It reports false (and logs nothing) if
// there is no such producer.
func (l *Lab) ProduceTo(name string, key, value []byte) bool {
	n := l.named(name)
	if n == nil || n.spec.Generator != GenManual {
		return false
	}
	l.record(Action{Kind: ActProduceTo, Text: name, Key: key, Value: value})
	n.p.Send(client.Record{Topic: l.cfg.Topic, Partition: client.AnyPartition, Key: key, Value: value})
	return true
}

// startGenerator (re)starts a scenario on the sim's clock: the k-th record
// after the rate was set goes out at from + k*1000/rate ms, so any rate
// keeps its average exactly.
func (l *Lab) startGenerator(n *named) {
	n.gen++
	if n.spec.Generator == GenManual || n.spec.Rate <= 0 {
		return
	}
	n.sent, n.from = 0, l.Now()
	l.scheduleNext(n, n.gen)
}

func (l *Lab) scheduleNext(n *named, gen uint64) {
	at := n.from + (n.sent+1)*1000/n.spec.Rate
	l.Sim.At(at, func() {
		if n.gen != gen {
			return // removed or rate changed
		}
		n.sent++
		key, value := n.generate()
		n.p.Send(client.Record{Topic: l.cfg.Topic, Partition: client.AnyPartition, Key: key, Value: value})
		l.scheduleNext(n, gen)
	})
}

var (
	matchEvents = []string{"pass", "pass", "shot", "foul", "corner", "yellow card", "goal", "red card"}
	teams       = []string{"home", "away"}
	pages       = []string{"/", "/search", "/product/42", "/product/7", "/cart", "/checkout"}
)

// generate makes the scenario's next record from the producer's own seeded
// randomness.
func (n *named) generate() (key, value []byte) {
	switch n.spec.Generator {
	case GenMatchEvents:
		if n.seq == nil {
			n.seq, n.state = make([]int, scenarioMatches), make([]int, scenarioMatches)
		}
		m := n.rnd.IntN(scenarioMatches)
		n.seq[m]++
		n.state[m] = min(90, n.state[m]+n.rnd.IntN(3))
		id := strconv.AppendInt([]byte{'m'}, int64(m+1), 10)
		// As fmt.Appendf(`{"match":%q,"seq":%d,"minute":%d,"event":%q,"team":%q}`)
		// writes it, without fmt: the page makes up to 1,000 a second.
		v := make([]byte, 0, 96)
		v = strconv.AppendQuote(append(v, `{"match":`...), string(id))
		v = strconv.AppendInt(append(v, `,"seq":`...), int64(n.seq[m]), 10)
		v = strconv.AppendInt(append(v, `,"minute":`...), int64(n.state[m]), 10)
		v = strconv.AppendQuote(append(v, `,"event":`...), matchEvents[n.rnd.IntN(len(matchEvents))])
		v = strconv.AppendQuote(append(v, `,"team":`...), teams[n.rnd.IntN(2)])
		return id, append(v, '}')
	case GenClickstream:
		if n.seq == nil {
			n.seq = make([]int, scenarioUsers)
		}
		u := n.rnd.IntN(scenarioUsers)
		n.seq[u]++
		id := strconv.AppendInt([]byte{'u'}, int64(u+1), 10)
		v := make([]byte, 0, 64) // {"user":%q,"seq":%d,"page":%q}
		v = strconv.AppendQuote(append(v, `{"user":`...), string(id))
		v = strconv.AppendInt(append(v, `,"seq":`...), int64(n.seq[u]), 10)
		v = strconv.AppendQuote(append(v, `,"page":`...), pages[n.rnd.IntN(len(pages))])
		return id, append(v, '}')
	}
	return nil, nil
}

// ProducerView is a producer as a UI shows it.
type ProducerView struct {
	Spec ProducerSpec
	ID   core.NodeID
	// Default is the producer Produce and SetAcks drive.
	Default bool
	// Idempotent is enable.idempotence as it took effect.
	Idempotent bool
	// Retries is retries as it took effect: 2147483647 unless set.
	Retries int
	Stats   client.ProducerStats
}

// Producers lists the default producer, then the named ones in the order
// they were added.
func (l *Lab) Producers() []ProducerView {
	d := l.Producer.Config()
	out := []ProducerView{{Spec: ProducerSpec{Name: DefaultProducerName, Acks: d.Acks, Partitioner: l.strategy, Generator: GenManual},
		ID: d.ID, Default: true, Idempotent: d.EnableIdempotence == client.IdempotenceOn, Retries: d.Retries, Stats: l.Producer.Stats()}}
	for _, n := range l.prods.list {
		c := n.p.Config()
		out = append(out, ProducerView{Spec: n.spec, ID: c.ID, Idempotent: c.EnableIdempotence == client.IdempotenceOn, Retries: c.Retries, Stats: n.p.Stats()})
	}
	return out
}

// ProducerNumber is the number a named producer's node id carries (#1 is
// the first one added), ok false for other ids: the event log names nodes
// by id alone.
func ProducerNumber(id core.NodeID) (int, bool) {
	if id <= ProducerIDBase || id > MemberIDBase {
		return 0, false
	}
	return int(id - ProducerIDBase), true
}

// ProducerName is the client.id of a named producer, ok false for other
// ids (removed producers keep theirs).
func (l *Lab) ProducerName(id core.NodeID) (string, bool) {
	if n := l.prods.byID[id]; n != nil {
		return n.spec.Name, true
	}
	return "", false
}

// namedAcks is the acks of a named producer, for AcksOf.
func (l *Lab) namedAcks(id core.NodeID) (client.Acks, bool) {
	if n := l.prods.byID[id]; n != nil {
		return n.p.Config().Acks, true
	}
	return 0, false
}
