package broker_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/check"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/sim"
	"github.com/streamlab/streamlab/core/storage"
)

// seedCount is how many seeds a simulation test runs: 4 in make test,
// STREAMLAB_SEEDS=N for more (go test -run Failover ./core/broker).
func seedCount() int {
	if n, err := strconv.Atoi(os.Getenv("STREAMLAB_SEEDS")); err == nil && n > 0 {
		return n
	}
	return 4
}

// With followers crashing, pausing, slowing down and being cut off (the
// leader stays up: failover needs the controller, not wired in yet), acks=all
// loses nothing, and once the faults heal every replica holds exactly the
// leader's log. Each seed is 300 simulated seconds with a fault every 5-15 s.
func TestReplicationUnderFollowerFaults(t *testing.T) {
	seeds := seedCount()
	faults := 0
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		c := newCluster(t, seed, map[string]string{"min.insync.replicas": "2"})
		var events []sim.Observed
		prev := c.s.OnEvent
		c.s.OnEvent = func(o sim.Observed) { prev(o); events = append(events, o) }
		nem := sim.StartNemesis(c.s, sim.NemesisConfig{
			Targets: []core.NodeID{2, 3},
			Open:    func(id core.NodeID, store storage.Store) core.Machine { return c.open(id, store) },
		})
		p := c.producer(core.ClientIDBase, client.AcksAll)
		sent := 0
		for ms := 0; ms < 300000; ms += 50 {
			p.Send(client.Record{Topic: "r", Partition: 0, Value: []byte(fmt.Sprint("s", seed, "-", sent))})
			sent++
			c.s.RunFor(50)
		}
		nem.Stop()
		faults += nem.Faults()
		c.s.RunFor(180000) // heal, deliver or expire everything, catch up
		if v := check.Run(events, c.brokers[1]); len(v) > 0 {
			t.Fatalf("seed %d: %d violations, first: %s", seed, len(v), v[0])
		}
		want := c.values(1)
		for id := core.NodeID(2); id <= 3; id++ {
			if got := c.values(id); !slices.Equal(got, want) {
				t.Fatalf("seed %d: broker %d holds %d records, the leader %d", seed, id, len(got), len(want))
			}
		}
		if len(c.acked) < sent/2 {
			t.Fatalf("seed %d: only %d of %d records acknowledged: the run tests little", seed, len(c.acked), sent)
		}
	}
	t.Logf("%d seeds, %d faults", seeds, faults)
}
