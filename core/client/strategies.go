package client

import (
	"encoding/json"
	"fmt"
)

// Partitioner is partitioner.class: a strategy of the user's that chooses a
// record's partition (Kafka's Partitioner.partition). It is asked for every
// record without an explicit partition; it returns a partition in
// [0, partitions), or AnyPartition to leave the record to the built-in
// choice (murmur2 of the key, or sticky for a null key).
type Partitioner interface {
	Name() string
	Partition(topic string, key, value []byte, partitions int32) int32
}

// PartitionerFunc makes a Go function a Partitioner.
func PartitionerFunc(name string, f func(topic string, key, value []byte, partitions int32) int32) Partitioner {
	return funcPartitioner{name, f}
}

type funcPartitioner struct {
	name string
	f    func(topic string, key, value []byte, partitions int32) int32
}

func (p funcPartitioner) Name() string { return p.name }
func (p funcPartitioner) Partition(topic string, key, value []byte, partitions int32) int32 {
	return p.f(topic, key, value, partitions)
}

// RoundRobinPartitioner is Kafka's RoundRobinPartitioner: records go to the
// partitions in turn, per topic, keys ignored, so same-key records spread
// (and lose their order).
func RoundRobinPartitioner() Partitioner {
	next := map[string]int32{}
	return PartitionerFunc("round-robin", func(topic string, _, _ []byte, partitions int32) int32 {
		n := next[topic]
		next[topic] = n + 1
		return toPositive(n) % partitions
	})
}

// ValueFieldPartitioner partitions JSON values by one field, as murmur2 of
// the field's text does for keys: every record about the same match (say
// {"match":"m1",...}) lands in one partition even without a key. Values
// without the field go to the built-in choice.
func ValueFieldPartitioner(field string) Partitioner {
	return PartitionerFunc("by value field "+field, func(_ string, _, value []byte, partitions int32) int32 {
		var v map[string]json.RawMessage
		if json.Unmarshal(value, &v) != nil || v[field] == nil {
			return AnyPartition
		}
		var s string
		if json.Unmarshal(v[field], &s) != nil {
			s = string(v[field]) // a number or another JSON value: its text
		}
		return KeyPartition([]byte(s), partitions)
	})
}

// partitionerError is why a Partitioner's answer cannot be used.
func partitionerError(p Partitioner, got, partitions int32) string {
	return fmt.Sprintf("partitioner %q chose partition %d of a topic with %d partitions", p.Name(), got, partitions)
}
