//go:build !js

package client

import (
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// franz-go's StickyKeyPartitioner(nil) hashes non-nil keys with its
// Kafka-compatible murmur2 (KafkaHasher): every key must land where it does
// with a real client. Native only: kgo stays out of the wasm build.
func TestKeyPartitionMatchesFranzGo(t *testing.T) {
	kp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		key := make([]byte, rng.IntN(80)) // empty keys included: hashed, not sticky
		for j := range key {
			key[j] = byte(rng.Uint32())
		}
		n := 1 + rng.IntN(1000)
		if i%10 == 0 {
			n = 1 + rng.IntN(1<<20)
		}
		want := kp.Partition(&kgo.Record{Key: key}, n)
		if got := KeyPartition(key, int32(n)); int(got) != want {
			t.Fatalf("key %x over %d partitions: got %d, franz-go %d", key, n, got, want)
		}
	}
}
