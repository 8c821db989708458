package room

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// putAttempts bounds the read-modify-write retries on ErrConflict.
const putAttempts = 8

// load reads and decodes a room, treating an expired one as gone.
func (h *Handler) load(ctx context.Context, code string) (*state, uint64, error) {
	blob, ver, err := h.cfg.Store.Get(ctx, code)
	if errors.Is(err, ErrNoRoom) {
		return nil, 0, errNoRoom(code)
	}
	if err != nil {
		return nil, 0, err
	}
	s, err := decodeState(blob)
	if err != nil {
		return nil, 0, errorf(http.StatusInternalServerError, "room %s: %v", code, err)
	}
	if s.Code != code {
		return nil, 0, errorf(http.StatusInternalServerError, "room %s: corrupt room state: it is room %s's", code, s.Code)
	}
	if h.now().Sub(s.Active) > h.cfg.RoomTTL {
		return nil, 0, errNoRoom(code) // the store has not swept it yet
	}
	return s, ver, nil
}

// update is one read-modify-write of a room: it drops the expired members,
// calls change, and stores the state if anything changed, retrying from the
// read when another writer came first. change may run several times; it
// says whether it changed s. update returns the state as stored (or read)
// and its version.
func (h *Handler) update(ctx context.Context, code string, change func(s *state) (bool, error)) (*state, uint64, error) {
	for attempt := range putAttempts {
		if attempt > 0 {
			// Jitter, so that writers who keep colliding spread out.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(2*time.Millisecond)))):
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
		}
		s, ver, err := h.load(ctx, code)
		if err != nil {
			return nil, 0, err
		}
		now := h.now()
		expired := s.expire(now, h.cfg.Lease)
		changed, err := change(s)
		if err != nil {
			return nil, 0, err
		}
		if !changed && !expired {
			return s, ver, nil
		}
		s.Active = now
		blob, err := s.encode()
		if err != nil {
			return nil, 0, err
		}
		ver, err = h.cfg.Store.Put(ctx, code, blob, ver, now.Add(h.cfg.RoomTTL))
		if errors.Is(err, ErrConflict) {
			continue
		}
		if errors.Is(err, ErrNoRoom) {
			return nil, 0, errNoRoom(code)
		}
		if err != nil {
			return nil, 0, err
		}
		return s, ver, nil
	}
	return nil, 0, errBusy
}

func errNoRoom(code string) error {
	return errorf(http.StatusNotFound, "no room %s", code)
}
