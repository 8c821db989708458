package room

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

// stateVersion is the format of the blob: a Handler writes it and refuses
// others but version 1's, which is 2 without a teacher (a room created
// before there were teachers); such a room is written as 2 from its next
// change on. The bump makes an older Handler refuse a room with faults
// rather than drop them when it writes.
const stateVersion = 2

// maxMaxBrokers bounds a room's size, and so its blob.
const maxMaxBrokers = 64

// state is everything about a room, kept as one JSON blob in the Store.
type state struct {
	V          int                    `json:"v"`
	Code       string                 `json:"code"`
	MaxBrokers int                    `json:"maxBrokers"`
	Voters     []core.NodeID          `json:"voters"`
	Kafka      map[core.NodeID]string `json:"kafka,omitempty"`
	Created    time.Time              `json:"created"`
	Active     time.Time              `json:"active"` // the last change: the room expires RoomTTL after it
	Members    []*member              `json:"members"`
	// TeacherHash is the hash of the creator's token, "" in a room from
	// before teachers: then nobody may set its faults.
	TeacherHash string `json:"teacherHash,omitempty"`
	Faults      Faults `json:"faults"`
}

// member is a Member with what only the handler sees.
type member struct {
	Member
	TokenHash string `json:"tokenHash"`
	// Seq is the sequence number of the last signal queued for the member;
	// Mailbox holds the ones it has not acknowledged yet, in order.
	Seq     uint64   `json:"seq"`
	Mailbox []queued `json:"mailbox,omitempty"`
}

type queued struct {
	Seq    uint64     `json:"seq"`
	Signal rtc.Signal `json:"signal"`
}

// encode encodes the state in the current format.
func (s *state) encode() ([]byte, error) {
	s.V = stateVersion
	return json.Marshal(s)
}

// decodeState decodes and checks a blob: whatever a store returns, the
// handler gets a consistent state or an error, never a panic later.
func decodeState(blob []byte) (*state, error) {
	var s state
	if err := json.Unmarshal(blob, &s); err != nil {
		return nil, fmt.Errorf("corrupt room state: %v", err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("corrupt room state: %v", err)
	}
	return &s, nil
}

func (s *state) validate() error {
	if s.V != stateVersion && s.V != 1 {
		return fmt.Errorf("format version %d, want %d", s.V, stateVersion)
	}
	if s.V == 1 && (s.TeacherHash != "" || s.Faults.Seq != 0 || len(s.Faults.Down)+len(s.Faults.Split) > 0) {
		return fmt.Errorf("a teacher or faults in a version 1 state")
	}
	if s.TeacherHash != "" && !validHash(s.TeacherHash) {
		return fmt.Errorf("bad teacher token hash")
	}
	if c, ok := normalizeCode(s.Code); !ok || c != s.Code {
		return fmt.Errorf("bad code %q", s.Code)
	}
	if s.MaxBrokers < 1 || s.MaxBrokers > maxMaxBrokers {
		return fmt.Errorf("maxBrokers %d out of 1..%d", s.MaxBrokers, maxMaxBrokers)
	}
	if err := checkVoters(s.Voters, s.MaxBrokers); err != nil {
		return err
	}
	if err := checkKafka(s.Kafka, s.MaxBrokers); err != nil {
		return err
	}
	if err := s.Faults.check(s.MaxBrokers); err != nil {
		return err
	}
	if s.Created.IsZero() || s.Active.IsZero() {
		return fmt.Errorf("no creation or activity time")
	}
	if len(s.Members) > s.MaxBrokers {
		return fmt.Errorf("%d members for %d broker ids", len(s.Members), s.MaxBrokers)
	}
	seen := map[core.NodeID]bool{}
	for _, m := range s.Members {
		if m == nil {
			return fmt.Errorf("null member")
		}
		if m.ID < 1 || int(m.ID) > s.MaxBrokers || seen[m.ID] {
			return fmt.Errorf("bad or duplicate member id %d", m.ID)
		}
		seen[m.ID] = true
		if !validKind(m.Kind) || !printable(m.Device, maxDevice) || !printable(m.Kafka, maxKafkaAddr) {
			return fmt.Errorf("member %d: bad kind, device or kafka address", m.ID)
		}
		if !validHash(m.TokenHash) {
			return fmt.Errorf("member %d: bad token hash", m.ID)
		}
		if m.Seq > 1<<62 { // far beyond any real count: it must never wrap
			return fmt.Errorf("member %d: sequence number %d too large", m.ID, m.Seq)
		}
		last := uint64(0)
		for i, q := range m.Mailbox {
			if q.Seq <= last && i > 0 || q.Seq == 0 || q.Seq > m.Seq {
				return fmt.Errorf("member %d: mailbox out of order", m.ID)
			}
			last = q.Seq
		}
	}
	return nil
}

// validHash says whether h looks like one hashToken made.
func validHash(h string) bool {
	_, err := hex.DecodeString(h)
	return err == nil && len(h) == 64
}

func checkVoters(voters []core.NodeID, maxBrokers int) error {
	if len(voters) == 0 {
		return fmt.Errorf("no voters")
	}
	for i, v := range voters {
		if v < 1 || int(v) > maxBrokers || slices.Contains(voters[:i], v) {
			return fmt.Errorf("bad or duplicate voter %d: voters are distinct broker ids in 1..%d", v, maxBrokers)
		}
	}
	return nil
}

func checkKafka(kafka map[core.NodeID]string, maxBrokers int) error {
	for id, addr := range kafka {
		if id < 1 || int(id) > maxBrokers {
			return fmt.Errorf("kafka address for broker %d, not in 1..%d", id, maxBrokers)
		}
		if addr == "" || !printable(addr, maxKafkaAddr) || strings.ContainsRune(addr, ' ') {
			return fmt.Errorf("bad kafka address %q for broker %d", addr, id)
		}
	}
	return nil
}

// expire removes the members whose lease ended; their ids are free again.
func (s *state) expire(now time.Time, lease time.Duration) (changed bool) {
	n := len(s.Members)
	s.Members = slices.DeleteFunc(s.Members, func(m *member) bool { return now.Sub(m.LastSeen) > lease })
	return len(s.Members) != n
}

func (s *state) member(id core.NodeID) *member {
	for _, m := range s.Members {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// byToken returns the member the token belongs to, nil if none.
func (s *state) byToken(token string) *member {
	if token == "" {
		return nil
	}
	h := hashToken(token)
	for _, m := range s.Members {
		if sameHash(m.TokenHash, h) {
			return m
		}
	}
	return nil
}

func (s *state) remove(id core.NodeID) {
	s.Members = slices.DeleteFunc(s.Members, func(m *member) bool { return m.ID == id })
}

// lowestFree returns the lowest broker id no member holds, 0 if none.
func (s *state) lowestFree() core.NodeID {
	for id := core.NodeID(1); int(id) <= s.MaxBrokers; id++ {
		if s.member(id) == nil {
			return id
		}
	}
	return 0
}

// members returns the public view of the members, by id.
func (s *state) members() []Member {
	ms := make([]Member, len(s.Members))
	for i, m := range s.Members {
		ms[i] = m.Member
	}
	slices.SortFunc(ms, func(a, b Member) int { return int(a.ID - b.ID) })
	return ms
}

// room returns what anyone with the code may see: no tokens, no mailboxes.
func (s *state) room() Room {
	return Room{
		Code: s.Code, Cluster: clusterName(s.Code), MaxBrokers: s.MaxBrokers,
		Voters: slices.Clone(s.Voters), Members: s.members(), Created: s.Created,
		Faults: s.Faults.clone(),
	}
}

func clusterName(code string) string { return "room-" + code }

// signalSize approximates what a signal costs in the blob.
func signalSize(sig *rtc.Signal) int {
	n := 64 + len(sig.Kind) + len(sig.SDP)
	if c := sig.Candidate; c != nil {
		n += len(c.Candidate) + 32
		if c.SDPMid != nil {
			n += len(*c.SDPMid)
		}
		if c.UsernameFragment != nil {
			n += len(*c.UsernameFragment)
		}
	}
	return n
}

// deliver queues sig for m, dropping the oldest signals beyond maxCount or
// maxBytes: a member that stopped polling must not grow the room forever.
func (m *member) deliver(sig rtc.Signal, maxCount, maxBytes int) {
	m.Seq++
	m.Mailbox = append(m.Mailbox, queued{Seq: m.Seq, Signal: sig})
	size := 0
	for _, q := range m.Mailbox {
		size += signalSize(&q.Signal)
	}
	drop := 0
	for drop < len(m.Mailbox)-1 && (len(m.Mailbox)-drop > maxCount || size > maxBytes) {
		size -= signalSize(&m.Mailbox[drop].Signal)
		drop++
	}
	m.Mailbox = slices.Delete(m.Mailbox, 0, drop)
}

// ack drops the signals up to seq, which the member has received.
func (m *member) ack(seq uint64) (changed bool) {
	i := 0
	for i < len(m.Mailbox) && m.Mailbox[i].Seq <= seq {
		i++
	}
	m.Mailbox = m.Mailbox[i:]
	return i > 0
}

// since returns the queued signals after seq.
func (m *member) since(seq uint64) []rtc.Signal {
	sigs := []rtc.Signal{}
	for _, q := range m.Mailbox {
		if q.Seq > seq {
			sigs = append(sigs, q.Signal)
		}
	}
	return sigs
}
