//go:build js && wasm

package main

import (
	"context"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/gossip"
	"github.com/streamlab/streamlab/ui"
	"github.com/streamlab/streamlab/wasm/live"
)

// The /live page's cluster: wasm/live's Session seen through the ui's
// interfaces (ui may not import wasm/).
func init() { liveCluster = liveJoiner{} }

type liveJoiner struct{}

func (liveJoiner) Join(ctx context.Context, cfg ui.LiveConfig) (ui.LiveMember, error) {
	sc := live.SessionConfig{Cluster: cfg.Cluster, SessionTimeoutMs: cfg.SessionTimeoutMs, RequestTimeoutMs: cfg.RequestTimeoutMs, Tell: ui.TellEvent}
	if cfg.Room != "" {
		sc.Room = &live.RoomConfig{URL: cfg.RoomURL, Code: cfg.Room, Device: cfg.Device, Teacher: cfg.Teacher}
	}
	s, err := live.Start(ctx, sc)
	if err != nil {
		return nil, err
	}
	return liveMember{s}, nil
}

func (liveJoiner) CreateRoom(ctx context.Context, url string) (string, error) {
	return live.CreateRoom(ctx, url)
}

type liveMember struct{ s *live.Session }

func (m liveMember) ID() core.NodeID { return m.s.ID() }
func (m liveMember) Close() error    { return m.s.Close() }
func (m liveMember) CreateTopic(name string, partitions int32, rf int16, minISR int) error {
	return m.s.CreateTopic(name, partitions, rf, minISR)
}
func (m liveMember) Produce(topic string, n int, key, value string) error {
	return m.s.Produce(topic, n, key, value)
}
func (m liveMember) Consume(group, topic string) error { return m.s.Consume(group, topic) }
func (m liveMember) SetRoomFaults(down, split []core.NodeID) error {
	return m.s.SetRoomFaults(down, split)
}

// View copies the snapshot into the ui's types (same fields, converted
// element by element).
func (m liveMember) View() ui.LiveView {
	s := m.s.Snapshot()
	v := ui.LiveView{
		ID: s.ID, Registered: s.Registered, Fenced: s.Fenced, BrokerEpoch: s.BrokerEpoch,
		Controller: s.Controller, ControllerEpoch: s.ControllerEpoch, Brokers: s.Brokers,
		Sent: s.Sent, Acked: s.Acked, Failed: s.Failed, LastFailure: s.LastFailure,
		Group: s.Group, Topic: s.Topic, Read: s.Read, Assignment: s.Assignment,
		SessionTimeoutMs: s.SessionTimeoutMs, RequestTimeoutMs: s.RequestTimeoutMs,
	}
	for _, p := range s.Peers {
		v.Peers = append(v.Peers, ui.LivePeer(p))
	}
	for _, t := range s.Topics {
		lt := ui.LiveTopic{Name: t.Name, MinISR: t.MinISR}
		for _, p := range t.Partitions {
			lt.Partitions = append(lt.Partitions, ui.LivePartition(p))
		}
		v.Topics = append(v.Topics, lt)
	}
	for _, r := range s.LastRead {
		v.LastRead = append(v.LastRead, ui.LiveRecord(r))
	}
	if r := s.Room; r != nil {
		v.Room = &ui.LiveRoom{Code: r.Code, URL: r.URL, Cluster: r.Cluster, Down: r.Faults.Down, Split: r.Faults.Split, Teacher: r.Teacher}
		for _, m := range r.Members {
			v.Room.Members = append(v.Room.Members, ui.LiveRoomMember{ID: m.ID, Device: m.Device, Kind: m.Kind, Kafka: m.Kafka, Joined: m.Joined.UnixMilli()})
		}
	}
	for _, e := range s.Events {
		v.Events = append(v.Events, ui.LiveEvent(e))
	}
	now := time.Now().UnixMilli()
	for _, sh := range s.Shared {
		v.Shared = append(v.Shared, liveShared(sh.State, now-sh.Received))
	}
	v.Self = liveShared(s.Self, 0)
	return v
}

func liveShared(st gossip.State, age int64) ui.LiveShared {
	ls := ui.LiveShared{Broker: st.Broker, AgeMs: age, Killed: st.Killed, BrokerEpoch: st.BrokerEpoch, Fenced: st.Fenced, WindowMs: st.WindowMs}
	for _, l := range st.Sent {
		ls.Sent = append(ls.Sent, ui.LiveLink(l))
	}
	for _, e := range st.Events {
		ls.Events = append(ls.Events, ui.LiveTold(e))
	}
	for _, r := range st.Replicas {
		lr := ui.LiveReplica{Topic: r.Topic, Partition: r.Partition, Leader: r.Leader, LeaderEpoch: r.LeaderEpoch, LogStart: r.LogStart, HW: r.HW, LEO: r.LEO}
		for _, rec := range r.Tail {
			lr.Tail = append(lr.Tail, ui.LiveRecord{Partition: r.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value})
		}
		ls.Replicas = append(ls.Replicas, lr)
	}
	if p := st.Producer; p != nil {
		ls.Producer = &ui.LiveProducerStats{Sent: p.Sent, Acked: p.Acked, Failed: p.Failed}
	}
	if c := st.Consumer; c != nil {
		ls.Consumer = &ui.LiveConsumerStats{Group: c.Group, Topic: c.Topic, Read: c.Read, Assignment: c.Assignment}
	}
	return ls
}
