//go:build !js

package host

import (
	"runtime"
	"testing"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage"
)

// Three servers in real time, linked in one process, elect a controller,
// register and get unfenced; closing them leaves no goroutine behind.
func TestLinkedServersFormACluster(t *testing.T) {
	before := runtime.NumGoroutine()
	ids := []core.NodeID{1, 2, 3}
	var hosts []*Host
	for _, id := range ids {
		cfg := server.Config{Broker: broker.DefaultConfig(id)}
		cfg.Controller.Voters = ids
		srv, err := server.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, Start(srv, storage.NewMemory(), Options{}))
	}
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				Link(a, b)
			}
		}
	}
	unfenced := func() bool {
		for _, h := range hosts {
			ok := false
			if err := h.Do(func(m core.Machine) {
				epoch, fenced := m.(*server.Server).Registered()
				ok = epoch >= 0 && !fenced
			}); err != nil || !ok {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(20 * time.Second)
	for !unfenced() {
		if time.Now().After(deadline) {
			t.Fatal("the servers did not register and unfence within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, h := range hosts {
		if err := h.Close(); err != nil {
			t.Error(err)
		}
	}
	checkNoLeak(t, before)
}
