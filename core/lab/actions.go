package lab

import (
	"fmt"
	"strconv"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
)

// The action log: every learner action that changes the world is recorded
// with the virtual time it happened at. The lab is deterministic (DESIGN,
// principle 3), so a state is the seed plus this log replayed: Replay
// rebuilds a lab from its Config and applies each action at its time. That
// is what rewinding, share links and restore on reload are made of.

// Kind is what an action does: one per mutator of the Lab.
type Kind uint8

const (
	ActProduce       Kind = iota + 1 // Key (nil: a null key), Value
	ActSetAcks                       // N: a client.Acks
	ActSetStrategy                   // Text: one of Strategies
	ActKillBroker                    // Node
	ActRestartBroker                 // Node
	ActPauseBroker                   // Node
	ActResumeBroker                  // Node
	ActIsolate                       // Node
	ActHeal                          // Node
	ActHealAll
	ActSlowBroker       // Node, N: ms
	ActSkip             // N: ms
	ActAddGroup         // Group
	ActAddMember        // Text: the group
	ActRemoveMember     // Node: the member
	ActCrashMember      // Node: the member
	ActSetLoss          // N: percent of messages lost
	ActSetDuplication   // N: percent of messages delivered twice
	ActPartitionBrokers // N: bit id set for each broker of side A
	ActAddProducer      // Producer
	ActRemoveProducer   // Text: the producer
	ActSetRate          // Text: the producer, N: records/s
	ActProduceTo        // Text: the producer, Key (nil: a null key), Value
	kindEnd
)

var kindNames = [kindEnd]string{"", "produce", "set acks", "set partitioner", "kill broker", "restart broker",
	"pause broker", "resume broker", "isolate broker", "heal broker", "heal all", "slow broker", "skip",
	"add group", "add member", "remove member", "crash member",
	"set message loss", "set message duplication", "partition brokers",
	"add producer", "remove producer", "set rate", "produce to"}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return "kind " + strconv.Itoa(int(k))
}

// Action is one learner action. Only the fields its Kind names are set.
type Action struct {
	At         int64 // virtual time, Unix ms
	Kind       Kind
	Node       core.NodeID
	N          int64
	Key, Value []byte
	Text       string
	Group      GroupConfig
	Producer   ProducerSpec
}

// String describes an action for people, in Kafka's words.
func (a Action) String() string {
	switch a.Kind {
	case ActProduce:
		if a.Key == nil {
			return fmt.Sprintf("produce null key, value %q", a.Value)
		}
		return fmt.Sprintf("produce key %q, value %q", a.Key, a.Value)
	case ActSetAcks:
		return "acks=" + client.Acks(a.N).String()
	case ActSetStrategy:
		return "partitioner " + a.Text
	case ActKillBroker, ActRestartBroker, ActPauseBroker, ActResumeBroker, ActIsolate, ActHeal:
		return fmt.Sprintf("%s %d", a.Kind, a.Node)
	case ActSlowBroker:
		return fmt.Sprintf("slow broker %d by %d ms", a.Node, a.N)
	case ActSkip:
		return fmt.Sprintf("skip %s", Duration(a.N))
	case ActAddGroup:
		return fmt.Sprintf("add group %q (%s, %d members)", a.Group.Name, a.Group.Assignor, a.Group.Members)
	case ActAddMember:
		return fmt.Sprintf("add a member to group %q", a.Text)
	case ActRemoveMember, ActCrashMember:
		name, _ := MemberName(a.Node)
		return fmt.Sprintf("%s %s", a.Kind, name)
	case ActSetLoss:
		return fmt.Sprintf("lose %d%% of messages", a.N)
	case ActSetDuplication:
		return fmt.Sprintf("duplicate %d%% of messages", a.N)
	case ActPartitionBrokers:
		return fmt.Sprintf("partition brokers %v from the others", brokerMask(a.N))
	case ActAddProducer:
		s := a.Producer
		retries := ""
		if s.Retries != 0 {
			retries = fmt.Sprintf(", retries=%d", max(s.Retries, 0))
		}
		return fmt.Sprintf("add producer %q (acks=%s%s, %s, %s at %d/s)", s.Name, s.Acks, retries, s.Partitioner, s.Generator, s.Rate)
	case ActRemoveProducer:
		return fmt.Sprintf("remove producer %q", a.Text)
	case ActSetRate:
		return fmt.Sprintf("producer %q at %d records/s", a.Text, a.N)
	case ActProduceTo:
		return fmt.Sprintf("%q produces key %q, value %q", a.Text, a.Key, a.Value)
	}
	return a.Kind.String()
}

// Mark is a notable moment for a timeline: an election, a leader change,
// a fault and its end, fencing, a group's new generation.
type Mark struct {
	At   int64
	Kind string // "controller", "leader", "fault", "healed", "fenced", "rebalance"
	Text string
}

// maxMarks bounds the marks kept (the newest).
const maxMarks = 1000

// recorder is the lab's action log and timeline marks.
type recorder struct {
	actions   []Action
	onAction  func(Action)
	replaying bool // a Player is applying a logged action
	marks     []Mark
}

// record logs an action at the current virtual time.
func (l *Lab) record(a Action) {
	a.At = l.Now()
	l.rec.actions = append(l.rec.actions, a)
	if l.rec.onAction != nil && !l.rec.replaying {
		l.rec.onAction(a)
	}
}

// Actions is the action log so far, oldest first.
func (l *Lab) Actions() []Action { return append([]Action(nil), l.rec.actions...) }

// ActionCount is len(Actions()), without the copy.
func (l *Lab) ActionCount() int { return len(l.rec.actions) }

// OnAction calls fn after each action a learner takes (not for those a
// Player re-applies from a log), before the action takes effect.
func (l *Lab) OnAction(fn func(Action)) { l.rec.onAction = fn }

// Marks is the timeline's notable moments so far, oldest first.
func (l *Lab) Marks() []Mark { return last(l.rec.marks, maxMarks) }

// onEvent is the sim's OnEvent: the history and the timeline's marks, then
// the charts' sampler once it runs.
func (l *Lab) onEvent(o sim.Observed) {
	l.observeAndMark(o)
	if l.metrics.started {
		l.metricsEvent()
	}
}

// observeAndMark feeds the history, then adds a mark when the event was
// news and is a moment a timeline shows.
func (l *Lab) observeAndMark(o sim.Observed) {
	n := l.hist.notableN
	l.observe(o)
	if l.hist.notableN == n {
		return
	}
	o = l.hist.notable[len(l.hist.notable)-1] // observe may complete the event
	m := Mark{At: o.Time}
	switch e := o.Event.(type) {
	case core.ControllerElected:
		m.Kind, m.Text = "controller", fmt.Sprintf("controller %d elected (epoch %d)", e.Controller, e.Epoch)
	case core.PartitionLeaderChanged:
		m.Kind, m.Text = "leader", fmt.Sprintf("%s-%d: leader %d (leader epoch %d)", e.Topic, e.Partition, e.Leader, e.LeaderEpoch)
	case core.FaultInjected:
		m.Kind, m.Text = "fault", fmt.Sprintf("%s %v %s", e.Kind, e.Nodes, e.Detail)
	case core.FaultHealed:
		m.Kind, m.Text = "healed", fmt.Sprintf("%s healed %v", e.Kind, e.Nodes)
	case core.BrokerFenced:
		m.Kind, m.Text = "fenced", fmt.Sprintf("broker %d fenced", e.Broker)
	case core.GroupStateChanged:
		if e.To != "Stable" {
			return
		}
		m.Kind, m.Text = "rebalance", fmt.Sprintf("group %s: generation %d", e.Group, e.Generation)
	default:
		return
	}
	l.rec.marks = keepLast(append(l.rec.marks, m), maxMarks)
}

// NextEvent runs the world until something happens (a notable event or a
// message), at most maxMs virtual ms; it reports whether something did.
func (l *Lab) NextEvent(maxMs int64) bool {
	n, w := l.hist.notableN, l.hist.wireN
	ok := l.Sim.RunUntil(func() bool { return l.hist.notableN != n || l.hist.wireN != w }, maxMs)
	l.Sim.ForgetEvents() // observe has seen them
	return ok
}

// apply performs a logged action through the mutator that logged it.
func (l *Lab) apply(a Action) {
	switch a.Kind {
	case ActProduce:
		l.Produce(a.Key, a.Value)
	case ActSetAcks:
		if validAcks(a.N) {
			l.SetAcks(client.Acks(a.N))
		}
	case ActSetStrategy:
		l.SetStrategy(a.Text)
	case ActKillBroker:
		l.KillBroker(a.Node)
	case ActRestartBroker:
		l.RestartBroker(a.Node)
	case ActPauseBroker:
		l.PauseBroker(a.Node)
	case ActResumeBroker:
		l.ResumeBroker(a.Node)
	case ActIsolate:
		l.Isolate(a.Node)
	case ActHeal:
		l.Heal(a.Node)
	case ActHealAll:
		l.HealAll()
	case ActSlowBroker:
		l.SlowBroker(a.Node, a.N)
	case ActSkip:
		l.Skip(a.N)
	case ActAddGroup:
		l.AddGroup(a.Group) // logged only when it succeeded
	case ActAddMember:
		l.AddMember(a.Text) // likewise
	case ActRemoveMember:
		l.RemoveMember(a.Node)
	case ActCrashMember:
		l.CrashMember(a.Node)
	case ActSetLoss:
		l.SetLoss(a.N)
	case ActSetDuplication:
		l.SetDuplication(a.N)
	case ActPartitionBrokers:
		l.PartitionBrokers(brokerMask(a.N))
	case ActAddProducer:
		_ = l.AddProducer(a.Producer) // logged only when it succeeded
	case ActRemoveProducer:
		l.RemoveProducer(a.Text)
	case ActSetRate:
		l.SetRate(a.Text, a.N)
	case ActProduceTo:
		l.ProduceTo(a.Text, a.Key, a.Value)
	}
}

func validAcks(n int64) bool {
	a := client.Acks(n)
	return a == client.AcksAll || a == client.AcksLeader || a == client.AcksNone
}

// Player rebuilds a lab from a Config and an action log, applying each
// action when the lab's clock reaches its time. Driven in small steps, it
// lets a page replay a long log across frames; the actions not applied yet
// are the rest of the timeline the log came from.
type Player struct {
	lab     *Lab
	pending []Action
}

// NewPlayer starts a lab from cfg (New, warm-up included) that will apply
// actions, which must be in time order.
func NewPlayer(cfg Config, actions []Action) *Player {
	return &Player{lab: New(cfg), pending: append([]Action(nil), actions...)}
}

// Lab is the lab being played.
func (p *Player) Lab() *Lab { return p.lab }

// Pending is the actions not applied yet.
func (p *Player) Pending() []Action { return p.pending }

// Drop forgets the actions not applied yet: the timeline forks here.
func (p *Player) Drop() { p.pending = nil }

// AdvanceTo runs the lab to virtual time t, applying on the way every
// pending action due by then, each at its own time (or at once if the
// clock is already past it, as after a Skip).
func (p *Player) AdvanceTo(t int64) {
	l := p.lab
	for len(p.pending) > 0 && p.pending[0].At <= t {
		a := p.pending[0]
		p.pending = p.pending[1:]
		if d := a.At - l.Now(); d > 0 {
			l.Advance(d)
		}
		l.rec.replaying = true
		l.apply(a)
		l.rec.replaying = false
	}
	if d := t - l.Now(); d > 0 {
		l.Advance(d)
	}
}

// NextEvent is Lab.NextEvent, stopping at the next pending action, which
// it applies.
func (p *Player) NextEvent(maxMs int64) {
	if len(p.pending) > 0 {
		maxMs = min(maxMs, p.pending[0].At-p.lab.Now())
	}
	if maxMs > 0 {
		p.lab.NextEvent(maxMs)
	}
	p.AdvanceTo(p.lab.Now())
}

// Replay builds a lab from cfg and applies actions at their virtual times,
// up to and including time until, where it stops.
func Replay(cfg Config, actions []Action, until int64) *Lab {
	p := NewPlayer(cfg, actions)
	p.AdvanceTo(until)
	return p.Lab()
}

// Duration writes virtual ms for people: "850 ms", "12.3 s", "4 min 05 s",
// "7 d 02:00:00".
func Duration(ms int64) string {
	switch {
	case ms < 1000:
		return fmt.Sprintf("%d ms", ms)
	case ms < 60000:
		return fmt.Sprintf("%d.%d s", ms/1000, ms%1000/100) // truncated, as clocks do
	case ms < 3600000:
		return fmt.Sprintf("%d min %02d s", ms/60000, ms/1000%60)
	case ms < 24*3600000:
		return fmt.Sprintf("%d h %02d min", ms/3600000, ms/60000%60)
	}
	return fmt.Sprintf("%d d %02d:%02d:%02d", ms/86400000, ms/3600000%24, ms/60000%60, ms/1000%60)
}
