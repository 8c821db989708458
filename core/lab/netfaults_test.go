package lab

import (
	"reflect"
	"testing"

	"github.com/streamlab/streamlab/core"
)

// Network faults and the unclean election knob survive a share link, and
// the link replays to the same state.
func TestNetworkFaultsReplay(t *testing.T) {
	cfg := pageConfig
	cfg.UncleanLeaderElection = true
	l := New(cfg)
	l.SetLoss(20)
	l.SetDuplication(10)
	l.Produce([]byte("alice"), []byte("v"))
	play(l, 3000)
	l.PartitionBrokers([]core.NodeID{1})
	play(l, 2000)
	if l.Sim.Connected(1, 2) || l.Sim.Connected(3, 1) || !l.Sim.Connected(2, 3) {
		t.Error("broker 1 should be cut from 2 and 3 only")
	}
	l.PartitionBrokers([]core.NodeID{1, 2, 3}) // one side only: refused, not logged
	l.HealAll()
	l.SetLoss(0)
	play(l, 1000)
	if l.Loss() != 0 || l.Duplication() != 10 {
		t.Errorf("loss %d%%, duplication %d%%; want 0, 10", l.Loss(), l.Duplication())
	}
	s, err := DecodeSession(l.Session().Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Config.UncleanLeaderElection {
		t.Error("the link lost unclean.leader.election.enable")
	}
	if !reflect.DeepEqual(s.Actions, l.Actions()) {
		t.Errorf("actions:\n got  %v\n want %v", s.Actions, l.Actions())
	}
	sameDigest(t, "from the link", digest(Replay(s.Config, s.Actions, s.Now)), digest(l))
}

// Old links wrote NoWarmup as a 0/1 byte: they read the same.
func TestConfigFlagsCompatible(t *testing.T) {
	for _, c := range []Config{{NoWarmup: true}, {}} {
		if got, want := configFlags(c), appendBool(nil, c.NoWarmup)[0]; got != want {
			t.Errorf("%+v: flags %d, old byte %d", c, got, want)
		}
	}
}
