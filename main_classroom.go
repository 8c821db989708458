//go:build !wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/broker"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/core/storage/filestore"
	"github.com/streamlab/streamlab/p2p/gossip"
	"github.com/streamlab/streamlab/p2p/kafkatcp"
	"github.com/streamlab/streamlab/p2p/mesh"
	"github.com/streamlab/streamlab/p2p/room"
	"github.com/streamlab/streamlab/ui"
)

// classroom is the node as a member of a classroom room: it creates the
// room on its own signaling service, joins it as broker 1 (the durable
// member, its logs in files, that outlives every tab), and serves a Kafka
// listener for each broker id of the room, its own and proxies to the
// others, so that kcat reaches a partition led by a browser tab.
type classroom struct {
	code       string
	teacher    string   // the room's teacher token: whoever has it may inject faults
	advertised []string // Kafka address of broker 1, 2, ...
	unlock     func()
	client     *room.Client
	store      *filestore.Store
	member     *mesh.Member
	listeners  []*kafkatcp.Listener
	stopGossip func() // stops sharing the broker's state with the tabs
	closed     bool
}

// startClassroom does all that; api is the base URL of the node's own
// signaling service, kafkaAddr the first broker's Kafka address (the others
// take the following ports), dir the node's data directory.
func startClassroom(ctx context.Context, rooms *room.Handler, api, kafkaAddr, dir string, maxBrokers int, logger *log.Logger) (_ *classroom, err error) {
	if dir == "" {
		return nil, errors.New("no data directory: pass -data DIR")
	}
	c := &classroom{}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	lns, err := listenConsecutive(kafkaAddr, maxBrokers)
	if err != nil {
		return nil, err
	}
	kafka := map[core.NodeID]string{}
	var hosts []string
	var ports []int32
	for i, ln := range lns {
		h, p, err := advertise(ln)
		if err != nil {
			closeAll(lns)
			return nil, err
		}
		hosts, ports = append(hosts, h), append(ports, p)
		c.advertised = append(c.advertised, net.JoinHostPort(h, strconv.Itoa(int(p))))
		kafka[core.NodeID(i+1)] = c.advertised[i]
	}
	r, err := rooms.Create(ctx, room.CreateRequest{MaxBrokers: maxBrokers, Kafka: kafka})
	if err != nil {
		closeAll(lns)
		return nil, err
	}
	c.code, c.teacher = r.Code, r.TeacherToken
	host, _ := os.Hostname()
	var member atomic.Pointer[mesh.Member] // set once the broker runs
	c.client, err = room.Join(ctx, room.ClientConfig{
		BaseURL: api, Code: r.Code,
		Join: room.JoinRequest{Want: 1, Device: "Streamlab node " + host, Kind: "node"},
		OnMembers: func(ms []room.Member) {
			if mm := member.Load(); mm != nil {
				for _, m := range ms {
					mm.Connect(m.ID)
				}
			}
		},
		OnFaults: func(f room.Faults) {
			if mm := member.Load(); mm != nil {
				applyFaults(mm, f, r.MaxBrokers, logger)
			}
		},
		Logf: logger.Printf,
	})
	if err != nil {
		closeAll(lns)
		return nil, fmt.Errorf("joining room %s: %w", r.Code, err)
	}
	id := c.client.ID()
	storeDir := filepath.Join(dir, r.Cluster, fmt.Sprintf("broker-%d", id))
	if c.unlock, err = lockDataDir(filepath.Dir(storeDir)); err != nil {
		closeAll(lns)
		return nil, err
	}
	if c.store, err = filestore.Open(storeDir); err != nil {
		closeAll(lns)
		return nil, err
	}
	cfg := server.Config{Broker: broker.DefaultConfig(id)}
	cfg.Broker.Host, cfg.Broker.Port = hosts[id-1], ports[id-1]
	cfg.Broker.Seed = rand.Uint64()
	cfg.Controller.Voters = r.Voters
	cfg.Controller.DefaultReplicationFactor = int16(min(3, r.MaxBrokers))
	srv, err := server.Open(cfg, c.store)
	if err != nil {
		closeAll(lns)
		return nil, fmt.Errorf("opening broker %d in %s: %w", id, storeDir, err)
	}
	told := gossip.NewRecorder(ui.TellEvent) // the node's events, for every tab's log
	c.member, err = mesh.Start(mesh.Config{ID: id, Cluster: r.Cluster, MaxBrokers: r.MaxBrokers, Signaler: c.client, Logf: logger.Printf,
		Events: func(e mesh.Event) { told.Record(e, time.Now().UnixMilli()) },
		Reopen: func() (core.Machine, error) { return server.Open(cfg, c.store) }}, srv, c.store)
	if err != nil {
		closeAll(lns)
		return nil, err
	}
	member.Store(c.member)
	applyFaults(c.member, c.client.Faults(), r.MaxBrokers, logger) // any set before the member ran
	gctx, stop := context.WithCancel(context.Background())
	gdone := make(chan struct{})
	go func() {
		defer close(gdone)
		gossip.Share(gctx, c.member, time.Second, func(st *gossip.State) { st.Events = told.Told() })
	}()
	c.stopGossip = func() { stop(); <-gdone }
	for _, m := range c.client.Members() {
		c.member.Connect(m.ID)
	}
	var versions map[int16][2]int16
	for i, ln := range lns {
		l, err := kafkatcp.Serve(ln, c.member.Proxy(core.NodeID(i+1)), kafkatcp.Config{Versions: versions, Logf: logger.Printf})
		if err != nil {
			closeAll(lns[i+1:])
			return nil, err
		}
		versions = l.Versions() // every broker runs this core: ask once
		c.listeners = append(c.listeners, l)
	}
	return c, nil
}

// listenConsecutive binds n Kafka listeners: addr and the ports after it
// (free ports if addr's port is 0).
func listenConsecutive(addr string, n int) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka listener %q: %w", addr, err)
	}
	base, _ := strconv.Atoi(port)
	var lns []net.Listener
	for i := range n {
		a := addr
		if base != 0 {
			a = net.JoinHostPort(host, strconv.Itoa(base+i))
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("kafka listener: %w", err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// advertise is the host and port to advertise for a bound listener: Kafka
// refuses to advertise 0.0.0.0 (advertised.listeners), so this machine's
// name then.
func advertise(ln net.Listener) (host string, port int32, err error) {
	tcp := ln.Addr().(*net.TCPAddr)
	host = tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return "", 0, fmt.Errorf("kafka listener on all interfaces: no host name to advertise: %w", err)
		}
	}
	return host, int32(tcp.Port), nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// applyFaults makes member m what the room's teacher asked of it.
func applyFaults(m *mesh.Member, f room.Faults, maxBrokers int, logger *log.Logger) {
	id := m.ID()
	if err := m.SetFaults(mesh.Faults{Down: f.IsDown(id), PeersDown: f.Down, Blocked: f.Blocked(id, maxBrokers)}); err != nil {
		logger.Printf("classroom: applying the teacher's faults: %v", err)
	}
}

// done is closed when the node's broker stops on its own (not when the
// teacher kills it: it restarts).
func (c *classroom) done() <-chan struct{} { return c.member.Done() }

// close stops the listeners, the member, leaves the room and closes the
// store.
func (c *classroom) close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.stopGossip != nil {
		c.stopGossip()
	}
	for _, l := range c.listeners {
		l.Close()
	}
	var err error
	if c.member != nil {
		err = c.member.Close()
	}
	if c.client != nil {
		c.client.Close()
	}
	if c.store != nil {
		if cerr := c.store.Close(); err == nil {
			err = cerr
		}
	}
	if c.unlock != nil {
		c.unlock()
	}
	return err
}
