//go:build js && wasm

package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/mesh"
	"github.com/streamlab/streamlab/p2p/room"
	"github.com/streamlab/streamlab/wasm/fetch"
)

// joinRoom takes a broker id from the room's signaling service (the one
// this tab had, after a reload) and sets the cluster's shape from the room.
func (m *Member) joinRoom(ctx context.Context) error {
	rc := m.cfg.Room
	key := "streamlab/room/" + rc.Code
	var want core.NodeID
	var token string
	if saved := sessionGet(key); saved != "" {
		if id, tok, ok := cutID(saved); ok {
			want, token = id, tok
		}
	}
	cfg := room.ClientConfig{
		BaseURL: rc.URL, Code: rc.Code, Token: token, Fetch: fetch.Fetcher{},
		Join: room.JoinRequest{Want: want, Device: rc.Device, Kind: "tab"},
		OnMembers: func(ms []room.Member) {
			for _, p := range ms {
				m.connect(p.ID)
			}
		},
		OnFaults: m.applyFaults,
		Logf:     m.cfg.Logf,
	}
	c, err := room.Join(ctx, cfg)
	if err != nil && want != 0 {
		// The id is someone else's now: take any.
		cfg.Token, cfg.Join.Want = "", 0
		c, err = room.Join(ctx, cfg)
	}
	if err != nil {
		return fmt.Errorf("live: joining room %s: %w", rc.Code, err)
	}
	m.disc, m.kafka = c, c.Kafka()
	sessionSet(key, strconv.Itoa(int(c.ID()))+" "+c.Token())
	if rc.Teacher != "" {
		localSet(teacherKey(rc.Code), rc.Teacher)
	}
	r := c.Room()
	m.cfg.Cluster, m.cfg.ID, m.cfg.MaxBrokers, m.cfg.Voters = r.Cluster, c.ID(), r.MaxBrokers, r.Voters
	return nil
}

// applyFaults makes this member what the room's teacher asked of it (on
// the room client's goroutine: SetFaults does not wait on the broker's).
func (m *Member) applyFaults(f room.Faults) {
	mm := m.member()
	if mm == nil {
		return // Join applies the client's faults once the member runs
	}
	c, ok := m.disc.(*room.Client)
	if !ok {
		return
	}
	if err := mm.SetFaults(meshFaults(f, m.id, c.Room().MaxBrokers)); err != nil {
		m.cfg.Logf("live: applying the teacher's faults: %v", err)
	}
}

func meshFaults(f room.Faults, id core.NodeID, maxBrokers int) mesh.Faults {
	return mesh.Faults{Down: f.IsDown(id), PeersDown: f.Down, Blocked: f.Blocked(id, maxBrokers)}
}

func (m *Member) roomView() *RoomView {
	c, ok := m.disc.(*room.Client)
	if !ok {
		return nil
	}
	r := c.Room()
	return &RoomView{Code: r.Code, URL: m.cfg.Room.URL, Cluster: r.Cluster, Members: c.Members(),
		Faults: c.Faults(), Teacher: localGet(teacherKey(r.Code)) != ""}
}

// SetRoomFaults sets the room's faults (the whole set) with the teacher
// token this browser keeps for the room.
func (m *Member) SetRoomFaults(ctx context.Context, req room.FaultsRequest) error {
	c, ok := m.disc.(*room.Client)
	if !ok {
		return errors.New("live: not in a room")
	}
	code := c.Room().Code
	token := localGet(teacherKey(code))
	if token == "" {
		return fmt.Errorf("live: this browser is not room %s's teacher (it did not create the room, nor open the node's teacher link)", code)
	}
	if _, err := room.SetFaults(ctx, fetch.Fetcher{}, m.cfg.Room.URL, code, token, req); err != nil {
		return fmt.Errorf("live: setting room %s's faults: %w", code, err)
	}
	return nil
}

// CreateRoom creates a classroom room on the signaling service at url and
// returns its code. This browser keeps the room's teacher token (in
// localStorage), so it may inject faults into the room.
func CreateRoom(ctx context.Context, url string) (string, error) {
	r, err := room.CreateRoom(ctx, fetch.Fetcher{}, url, room.CreateRequest{})
	if err != nil {
		return "", err
	}
	localSet(teacherKey(r.Code), r.TeacherToken)
	return r.Code, nil
}

// teacherKey is the localStorage key of a room's teacher token: kept
// beyond the tab (a teacher reopening the page stays the teacher).
func teacherKey(code string) string { return "streamlab/room/" + code + "/teacher" }

// cutID splits "<id> <token>".
func cutID(s string) (core.NodeID, string, bool) {
	a, tok, ok := strings.Cut(s, " ")
	id, err := strconv.Atoi(a)
	return core.NodeID(id), tok, ok && err == nil && id > 0
}

func splitHostPort(addr string) (string, int32, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return host, int32(p), err
}
