package lab

import "github.com/streamlab/streamlab/core/client"

// Partitioner strategies a learner can pick for the producer
// (partitioner.class). Every lab producer is made with one Partitioner that
// asks the strategy chosen now, so switching needs no new producer.
var Strategies = []string{StrategyDefault, StrategyRoundRobin, StrategyByMatch}

const (
	// StrategyDefault is Kafka's built-in choice: murmur2 of the key, the
	// sticky partition for a null key.
	StrategyDefault = "default"
	// StrategyRoundRobin is Kafka's RoundRobinPartitioner: keys ignored.
	StrategyRoundRobin = "round-robin"
	// StrategyByMatch partitions JSON values by their "match" field, as a
	// user's own partitioner might: {"match":"m1","goal":1}.
	StrategyByMatch = "by value field match"
)

// chooser is the lab producers' partitioner.class: it follows l.strategy.
type chooser struct {
	l          *Lab
	roundRobin client.Partitioner
	byMatch    client.Partitioner
}

func newChooser(l *Lab) *chooser {
	return &chooser{l: l, roundRobin: client.RoundRobinPartitioner(), byMatch: client.ValueFieldPartitioner("match")}
}

func (c *chooser) current() client.Partitioner {
	switch c.l.strategy {
	case StrategyRoundRobin:
		return c.roundRobin
	case StrategyByMatch:
		return c.byMatch
	}
	return nil
}

func (c *chooser) Name() string {
	if p := c.current(); p != nil {
		return p.Name()
	}
	return StrategyDefault
}

func (c *chooser) Partition(topic string, key, value []byte, partitions int32) int32 {
	if p := c.current(); p != nil {
		return p.Partition(topic, key, value, partitions)
	}
	return client.AnyPartition // the built-in choice
}

// Strategy is the partitioner strategy in use.
func (l *Lab) Strategy() string { return l.strategy }

// SetStrategy picks a partitioner strategy (one of Strategies); an unknown
// name is ignored.
func (l *Lab) SetStrategy(name string) {
	for _, s := range Strategies {
		if s == name {
			l.record(Action{Kind: ActSetStrategy, Text: name})
			l.strategy = name
		}
	}
}
