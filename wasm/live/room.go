//go:build js && wasm

package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/streamlab/streamlab/core"
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
		Logf: m.cfg.Logf,
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
	r := c.Room()
	m.cfg.Cluster, m.cfg.ID, m.cfg.MaxBrokers, m.cfg.Voters = r.Cluster, c.ID(), r.MaxBrokers, r.Voters
	return nil
}

func (m *Member) roomView() *RoomView {
	c, ok := m.disc.(*room.Client)
	if !ok {
		return nil
	}
	r := c.Room()
	return &RoomView{Code: r.Code, URL: m.cfg.Room.URL, Cluster: r.Cluster, Members: c.Members()}
}

// CreateRoom creates a classroom room on the signaling service at url and
// returns its code.
func CreateRoom(ctx context.Context, url string) (string, error) {
	resp, err := fetch.Fetcher{}.Fetch(ctx, room.FetchRequest{Method: "POST", URL: strings.TrimSuffix(url, "/") + "/rooms",
		Header: map[string]string{"Content-Type": "application/json"}, Body: []byte("{}")})
	if err != nil {
		return "", err
	}
	body := resp.Body
	if resp.Status != 200 && resp.Status != 201 {
		var e room.ErrorResponse
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("HTTP status %d", resp.Status)
		}
		return "", fmt.Errorf("%s", e.Error)
	}
	var r room.Room
	if err := json.Unmarshal(body, &r); err != nil || r.Code == "" {
		return "", fmt.Errorf("live: creating a room: malformed answer: %v", err)
	}
	return r.Code, nil
}

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
