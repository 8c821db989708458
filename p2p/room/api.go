// Package room is the signaling service of a classroom: devices that know a
// room's code join it over HTTP, get a broker id, and relay their WebRTC
// offers, answers and ICE candidates (rtc.Signal) to each other through it.
// The node serves it (Handler on a memory Store); the Cloudflare worker
// (wasm/worker) serves the same Handler on a D1 Store. Client is the other
// end, natively and in the browser (net/http runs on fetch there).
//
// The protocol, JSON over HTTP under a prefix (Handler.Prefix, "/api/"):
//
//	POST {prefix}rooms                  CreateRequest → Created       create a room (and its teacher token)
//	GET  {prefix}rooms/{code}           → Room                        who is in it (the teacher view)
//	POST {prefix}rooms/{code}/join      JoinRequest → JoinResponse    take a broker id
//	POST {prefix}rooms/{code}/signal    rtc.Signal → 204              relay to Signal.To
//	GET  {prefix}rooms/{code}/poll?after=SEQ&wait=MS&members=IDS&faults=FSEQ → PollResponse
//	                                                                  signals, members and faults (long poll; renews the lease)
//	POST {prefix}rooms/{code}/leave     → 204                         give the id back
//	POST {prefix}rooms/{code}/faults    FaultsRequest → Room          the teacher sets the faults
//
// A poll acknowledges the signals up to after and answers once there are
// signals after it, once the ids of the members differ from IDS (the ones
// the caller knows, "1,2,3"; without members=, the ones at the start of the
// poll), once the room's Faults.Seq differs from FSEQ (without faults=, the
// one at the start of the poll), or after wait milliseconds (bounded by the
// handler).
//
// join, signal, poll and leave carry "Authorization: Bearer <token>" from
// JoinResponse (join only to take back the id the token held); faults
// carries the teacher's token from Created, which no member has. Errors are
// ErrorResponse with Kafka-like plain messages and the HTTP status that fits
// (400 malformed, 401 bad token, 403 signal from another member or faults
// from a member, 404 no such room or route, 405 wrong method, 409 room full
// or id held, 413 body too large, 429 too many requests with Retry-After,
// 500 corrupt room state, 503 too many rooms or a room too busy to change).
package room

import (
	"context"
	"errors"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// Room is what anyone with the code may see of a room.
type Room struct {
	Code    string `json:"code"`
	Cluster string `json:"cluster"` // the cluster name peers put in their hello
	// MaxBrokers bounds broker ids: 1..MaxBrokers.
	MaxBrokers int           `json:"maxBrokers"`
	Voters     []core.NodeID `json:"voters"` // the controller quorum
	Members    []Member      `json:"members"`
	Created    time.Time     `json:"created"`
	Faults     Faults        `json:"faults"`
}

// Created is the answer to creating a room: the room and the teacher's token.
type Created struct {
	Room
	TeacherToken string `json:"teacherToken"`
}

// Faults are what the room's teacher injected into its cluster; every
// member applies the part about itself (p2p/mesh does the dropping).
type Faults struct {
	Seq   uint64        `json:"seq"`             // bumped by every change: a poll answers when it differs from the caller's
	Down  []core.NodeID `json:"down,omitempty"`  // brokers the teacher killed (sorted, distinct)
	Split []core.NodeID `json:"split,omitempty"` // brokers cut off from the others: one side of a network partition (sorted, distinct)
}

// FaultsRequest sets the room's faults (the whole set: what it omits is healed / restarted).
type FaultsRequest struct {
	Down  []core.NodeID `json:"down"`
	Split []core.NodeID `json:"split"`
}

// Member is one device's broker in a room.
type Member struct {
	ID     core.NodeID `json:"id"`
	Device string      `json:"device"` // a name the device chose ("Ada's laptop")
	Kind   string      `json:"kind"`   // "tab" or "node"
	// Kafka is the address real Kafka clients reach this broker at (the
	// node's proxy port for it), "" if none.
	Kafka    string    `json:"kafka,omitempty"`
	Joined   time.Time `json:"joined"`
	LastSeen time.Time `json:"lastSeen"`
}

// CreateRequest creates a room. Zero fields take the defaults.
type CreateRequest struct {
	MaxBrokers int           `json:"maxBrokers,omitempty"` // default 6
	Voters     []core.NodeID `json:"voters,omitempty"`     // default 1..min(3, MaxBrokers)
	// Kafka maps broker ids to the addresses Kafka clients reach them at
	// (set by the node, which proxies them).
	Kafka map[core.NodeID]string `json:"kafka,omitempty"`
}

// JoinRequest asks for a broker id.
type JoinRequest struct {
	// Want is the id to take (0: the lowest free one). A held id is
	// refused with 409, unless the request carries the token that held it
	// (a reloaded tab, a device coming back).
	Want   core.NodeID `json:"want,omitempty"`
	Device string      `json:"device,omitempty"`
	Kind   string      `json:"kind,omitempty"`
}

// JoinResponse is a member's id and the token for its later calls.
type JoinResponse struct {
	Room  Room        `json:"room"`
	ID    core.NodeID `json:"id"`
	Token string      `json:"token"`
	// Kafka is the address Kafka clients reach this broker at, "" if none:
	// the broker advertises it.
	Kafka string `json:"kafka,omitempty"`
	// LeaseMs: a member that has not polled for this long has left.
	LeaseMs int64 `json:"leaseMs"`
}

// PollResponse is what a member's mailbox held after Seq, and the members.
type PollResponse struct {
	Signals []rtc.Signal `json:"signals"`
	Seq     uint64       `json:"seq"` // pass as after= next time
	Members []Member     `json:"members"`
	Faults  Faults       `json:"faults"`
}

// ErrorResponse is the body of every error.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Errors of a Store.
var (
	ErrNoRoom   = errors.New("room: no such room")
	ErrConflict = errors.New("room: changed since it was read")
)

// Store keeps each room's state as one opaque versioned blob (the Handler
// encodes it), so that a store is small: a map under a mutex for the node,
// a D1 table for the worker.
type Store interface {
	// Get returns the room's blob and version, or ErrNoRoom.
	Get(ctx context.Context, code string) (blob []byte, version uint64, err error)
	// Put replaces the blob if the room is still at version (0: the room
	// must not exist yet) and returns the new version, or ErrConflict. A
	// room may be deleted by the store once expires has passed.
	Put(ctx context.Context, code string, blob []byte, version uint64, expires time.Time) (uint64, error)
	// Delete removes a room (no error if there is none).
	Delete(ctx context.Context, code string) error
	// Wait returns when the room's version differs from version, or when
	// ctx ends (then with ctx's error). A store that cannot be notified
	// polls.
	Wait(ctx context.Context, code string, version uint64) error
	// Sweep deletes the rooms expired at now and returns how many remain.
	Sweep(ctx context.Context, now time.Time) (rooms int, err error)
}
