package room

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/streamlab/streamlab/core"
)

// maxFaultsSeq bounds Faults.Seq, like a mailbox's: it must never wrap.
const maxFaultsSeq = 1 << 62

// IsDown says whether the teacher killed broker id.
func (f Faults) IsDown(id core.NodeID) bool {
	_, ok := slices.BinarySearch(f.Down, id)
	return ok
}

// Blocked returns the brokers (in 1..maxBrokers, sorted, never id itself)
// that broker id cannot reach while the room is split: the other side's.
// nil when there is no split.
func (f Faults) Blocked(id core.NodeID, maxBrokers int) []core.NodeID {
	if len(f.Split) == 0 {
		return nil
	}
	_, inSplit := slices.BinarySearch(f.Split, id)
	var blocked []core.NodeID
	for other := core.NodeID(1); int(other) <= maxBrokers; other++ {
		_, otherIn := slices.BinarySearch(f.Split, other)
		if other != id && otherIn != inSplit {
			blocked = append(blocked, other)
		}
	}
	return blocked
}

func (f Faults) clone() Faults {
	return Faults{Seq: f.Seq, Down: slices.Clone(f.Down), Split: slices.Clone(f.Split)}
}

func (f Faults) check(maxBrokers int) error {
	if f.Seq > maxFaultsSeq {
		return fmt.Errorf("faults sequence number %d too large", f.Seq)
	}
	if f.Seq == 0 && (len(f.Down) > 0 || len(f.Split) > 0) {
		return fmt.Errorf("faults without a sequence number")
	}
	for _, ids := range [][]core.NodeID{f.Down, f.Split} {
		for i, id := range ids {
			if id < 1 || int(id) > maxBrokers || i > 0 && id <= ids[i-1] {
				return fmt.Errorf("faults: broker ids must be sorted, distinct and in 1..%d", maxBrokers)
			}
		}
	}
	return nil
}

// normalizeFaultIDs sorts a copy of ids, refusing duplicates and ids out of
// 1..maxBrokers; an empty list is nil, as the state keeps it.
func normalizeFaultIDs(what string, ids []core.NodeID, maxBrokers int) ([]core.NodeID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	for i, id := range ids {
		if id < 1 || int(id) > maxBrokers {
			return nil, errorf(http.StatusBadRequest, "%s: broker id %d out of range 1..%d", what, id, maxBrokers)
		}
		if i > 0 && id == ids[i-1] {
			return nil, errorf(http.StatusBadRequest, "%s: broker id %d given twice", what, id)
		}
	}
	return ids, nil
}

var (
	errBadTeacherToken = errorf(http.StatusUnauthorized, "invalid teacher token: only the room's teacher (its creator) may inject faults")
	errNotTeacher      = errorf(http.StatusForbidden, "only the room's teacher (its creator) may inject faults")
)

// setFaults replaces the room's faults as its teacher (token) asks.
func (h *Handler) setFaults(ctx context.Context, code, token string, req FaultsRequest) (Room, error) {
	s, _, err := h.update(ctx, code, func(s *state) (bool, error) {
		// Whom before what: an outsider learns nothing of the room.
		if s.TeacherHash == "" || !sameHash(s.TeacherHash, hashToken(token)) {
			if s.byToken(token) != nil {
				return false, errNotTeacher
			}
			return false, errBadTeacherToken
		}
		down, err := normalizeFaultIDs("down", req.Down, s.MaxBrokers)
		if err != nil {
			return false, err
		}
		split, err := normalizeFaultIDs("split", req.Split, s.MaxBrokers)
		if err != nil {
			return false, err
		}
		if slices.Equal(down, s.Faults.Down) && slices.Equal(split, s.Faults.Split) {
			return false, nil // no news: no poll to wake
		}
		if s.Faults.Seq >= maxFaultsSeq {
			return false, errorf(http.StatusConflict, "faults changed too often")
		}
		s.Faults = Faults{Seq: s.Faults.Seq + 1, Down: down, Split: split}
		return true, nil
	})
	if err != nil {
		return Room{}, err
	}
	return s.room(), nil
}

func (h *Handler) serveFaults(w http.ResponseWriter, r *http.Request, code string) {
	token := bearer(r)
	if !validToken(token) {
		writeError(w, errBadTeacherToken)
		return
	}
	var req FaultsRequest
	if err := h.readJSON(w, r, &req, false); err != nil {
		writeError(w, err)
		return
	}
	room, err := h.setFaults(r.Context(), code, token, req)
	h.reply(w, http.StatusOK, room, err)
}

// The teacher's side, natively and in the browser.

// CreateRoom creates a room on the service at baseURL (POST rooms).
func CreateRoom(ctx context.Context, f Fetcher, baseURL string, req CreateRequest) (Created, error) {
	f, err := fetcherOrDefault(f)
	if err != nil {
		return Created{}, err
	}
	var c Created
	if err := fetchJSON(ctx, f, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/rooms", "", req, &c); err != nil {
		return Created{}, fmt.Errorf("room: create: %w", err)
	}
	if code, ok := normalizeCode(c.Code); !ok || code != c.Code || !validToken(c.TeacherToken) {
		return Created{}, fmt.Errorf("room: create: malformed answer (code %q)", clip(c.Code))
	}
	return c, nil
}

// SetFaults sets a room's faults as its teacher (token from Created).
func SetFaults(ctx context.Context, f Fetcher, baseURL, code, teacherToken string, req FaultsRequest) (Room, error) {
	f, err := fetcherOrDefault(f)
	if err != nil {
		return Room{}, err
	}
	c, ok := normalizeCode(strings.TrimSpace(code))
	if !ok {
		return Room{}, fmt.Errorf("room: bad room code %q: a code is %d letters and digits", code, codeLen)
	}
	var room Room
	url := strings.TrimSuffix(baseURL, "/") + "/rooms/" + c + "/faults"
	if err := fetchJSON(ctx, f, http.MethodPost, url, teacherToken, req, &room); err != nil {
		return Room{}, fmt.Errorf("room %s: faults: %w", c, err)
	}
	return room, nil
}

func fetcherOrDefault(f Fetcher) (Fetcher, error) {
	if f == nil {
		if f = defaultFetcher(); f == nil {
			return nil, errors.New("room: a Fetcher is required in the browser")
		}
	}
	return f, nil
}
