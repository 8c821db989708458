package room

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/rtc"
)

const (
	defaultMaxBrokers = 6
	createAttempts    = 8 // fresh codes to try when one is taken
)

// Create makes a room with a fresh code and a token for its teacher (its
// creator, the only one who may set its faults). The node calls it
// in-process (to put the Kafka addresses it proxies in); POST rooms calls it
// too.
func (h *Handler) Create(ctx context.Context, req CreateRequest) (Created, error) {
	if req.MaxBrokers == 0 {
		req.MaxBrokers = defaultMaxBrokers
	}
	if req.MaxBrokers < 1 || req.MaxBrokers > maxMaxBrokers {
		return Created{}, errorf(http.StatusBadRequest, "maxBrokers %d out of range 1..%d", req.MaxBrokers, maxMaxBrokers)
	}
	if len(req.Voters) == 0 {
		for id := core.NodeID(1); int(id) <= min(3, req.MaxBrokers); id++ {
			req.Voters = append(req.Voters, id)
		}
	}
	if err := checkVoters(req.Voters, req.MaxBrokers); err != nil {
		return Created{}, errorf(http.StatusBadRequest, "%v", err)
	}
	if err := checkKafka(req.Kafka, req.MaxBrokers); err != nil {
		return Created{}, errorf(http.StatusBadRequest, "%v", err)
	}
	now := h.now()
	rooms, err := h.cfg.Store.Sweep(ctx, now)
	if err != nil {
		return Created{}, err
	}
	if rooms >= h.cfg.MaxRooms {
		return Created{}, errorf(http.StatusServiceUnavailable, "too many rooms: the limit is %d, try again later", h.cfg.MaxRooms)
	}
	teacher := newToken()
	for range createAttempts {
		s := &state{
			V: stateVersion, Code: newCode(), MaxBrokers: req.MaxBrokers,
			Voters: req.Voters, Kafka: req.Kafka, Created: now, Active: now, Members: []*member{},
			TeacherHash: hashToken(teacher),
		}
		blob, err := s.encode()
		if err != nil {
			return Created{}, err
		}
		_, err = h.cfg.Store.Put(ctx, s.Code, blob, 0, now.Add(h.cfg.RoomTTL))
		if errors.Is(err, ErrConflict) {
			continue // the code is taken
		}
		if err != nil {
			return Created{}, err
		}
		return Created{Room: s.room(), TeacherToken: teacher}, nil
	}
	return Created{}, errorf(http.StatusServiceUnavailable, "no free room code found, try again")
}

// Room returns the room with that code and its live members.
func (h *Handler) Room(ctx context.Context, code string) (Room, error) {
	code, ok := normalizeCode(code)
	if !ok {
		return Room{}, ErrNoRoom
	}
	s, _, err := h.load(ctx, code)
	if err != nil {
		return Room{}, err
	}
	s.expire(h.now(), h.cfg.Lease)
	return s.room(), nil
}

func (h *Handler) join(ctx context.Context, code, token string, req JoinRequest) (JoinResponse, error) {
	if req.Kind == "" {
		req.Kind = "tab"
	}
	if !validKind(req.Kind) {
		return JoinResponse{}, errorf(http.StatusBadRequest, "kind %q: a member is a \"tab\" or a \"node\"", clip(req.Kind))
	}
	if !printable(req.Device, maxDevice) {
		return JoinResponse{}, errorf(http.StatusBadRequest, "device name: at most %d bytes of printable UTF-8", maxDevice)
	}
	var id core.NodeID
	var tok string // the member's token, as of the last try
	s, _, err := h.update(ctx, code, func(s *state) (bool, error) {
		if req.Want < 0 || int(req.Want) > s.MaxBrokers {
			return false, errorf(http.StatusBadRequest, "broker id %d out of range 1..%d", req.Want, s.MaxBrokers)
		}
		now := h.now()
		tok = token
		if me := s.byToken(token); me != nil {
			if req.Want == 0 || req.Want == me.ID {
				// The same device again (a reloaded tab): same id and
				// token; what was queued was for its former self.
				me.Device, me.Kind, me.LastSeen, me.Mailbox = req.Device, req.Kind, now, nil
				id = me.ID
				return true, nil
			}
			s.remove(me.ID) // it moves to another id
		} else {
			tok = newToken()
		}
		id = req.Want
		if id == 0 {
			if id = s.lowestFree(); id == 0 {
				return false, errorf(http.StatusConflict, "room full: all %d broker ids are taken", s.MaxBrokers)
			}
		} else if s.member(id) != nil {
			return false, errorf(http.StatusConflict, "broker id %d is taken", id)
		}
		s.Members = append(s.Members, &member{
			Member:    Member{ID: id, Device: req.Device, Kind: req.Kind, Kafka: s.Kafka[id], Joined: now, LastSeen: now},
			TokenHash: hashToken(tok),
		})
		return true, nil
	})
	if err != nil {
		return JoinResponse{}, err
	}
	return JoinResponse{Room: s.room(), ID: id, Token: tok, Kafka: s.Kafka[id], LeaseMs: h.cfg.Lease.Milliseconds()}, nil
}

func (h *Handler) signal(ctx context.Context, code, token string, sig rtc.Signal) error {
	switch sig.Kind {
	case rtc.SignalOffer, rtc.SignalAnswer, rtc.SignalCandidate:
	default:
		return errorf(http.StatusBadRequest, "signal kind %q: want offer, answer or candidate", clip(string(sig.Kind)))
	}
	_, _, err := h.update(ctx, code, func(s *state) (bool, error) {
		me := s.byToken(token)
		if me == nil {
			return false, errBadToken
		}
		if sig.From != me.ID {
			return false, errorf(http.StatusForbidden, "signal from broker %d, but the token is broker %d's", sig.From, me.ID)
		}
		if sig.To == me.ID {
			return false, errorf(http.StatusBadRequest, "broker %d cannot signal itself", me.ID)
		}
		to := s.member(sig.To)
		if to == nil {
			return false, errorf(http.StatusNotFound, "no member %d in room %s", sig.To, code)
		}
		me.LastSeen = h.now()
		to.deliver(sig, h.cfg.MaxMailbox, h.cfg.MaxMailboxBytes)
		return true, nil
	})
	return err
}

// poll acknowledges the signals up to after, renews the member's lease and
// returns what came after; if nothing did, it waits up to wait for a signal,
// for the members' ids to differ from known (nil: from the first read) or
// for the faults' Seq to differ from faults (nil: from the first read).
func (h *Handler) poll(ctx context.Context, code, token string, after uint64, wait time.Duration, known []core.NodeID, faults *uint64) (PollResponse, error) {
	deadline := time.Now().Add(min(wait, h.cfg.MaxWait)) // real time, whatever the clock
	for {
		var resp PollResponse
		s, ver, err := h.update(ctx, code, func(s *state) (bool, error) {
			me := s.byToken(token)
			if me == nil {
				return false, errBadToken
			}
			from := after
			if from > me.Seq {
				from = 0 // a client of a former member with this id: start over
			}
			changed := me.ack(from)
			// Renew coarsely: a write per poll would wake every waiting
			// member, whose polls would write in turn.
			if now := h.now(); now.Sub(me.LastSeen) >= h.cfg.Lease/3 {
				me.LastSeen, changed = now, true
			}
			resp = PollResponse{Signals: me.since(from), Seq: me.Seq}
			return changed, nil
		})
		if err != nil {
			return PollResponse{}, err
		}
		resp.Members = s.members()
		ids := make([]core.NodeID, len(resp.Members))
		for i, m := range resp.Members {
			ids[i] = m.ID
		}
		if known == nil {
			known = ids
		}
		resp.Faults = s.Faults.clone()
		if faults == nil {
			seq := resp.Faults.Seq
			faults = &seq
		}
		left := time.Until(deadline)
		if len(resp.Signals) > 0 || left <= 0 || !slices.Equal(ids, known) || resp.Faults.Seq != *faults {
			return resp, nil
		}
		// Wait in steps shorter than the lease, which each reread renews.
		wctx, cancel := context.WithTimeout(ctx, min(left, max(h.cfg.Lease/3, 10*time.Millisecond)))
		err = h.cfg.Store.Wait(wctx, code, ver)
		cancel()
		if ctx.Err() != nil {
			return PollResponse{}, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrNoRoom) {
			return PollResponse{}, err
		}
	}
}

func (h *Handler) leave(ctx context.Context, code, token string) error {
	_, _, err := h.update(ctx, code, func(s *state) (bool, error) {
		me := s.byToken(token)
		if me == nil {
			return false, errBadToken
		}
		s.remove(me.ID)
		return true, nil
	})
	return err
}

// The HTTP side of the operations.

func (h *Handler) serveCreate(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if err := h.readJSON(w, r, &req, true); err != nil {
		writeError(w, err)
		return
	}
	room, err := h.Create(r.Context(), req)
	h.reply(w, http.StatusCreated, room, err)
}

func (h *Handler) serveRoom(w http.ResponseWriter, r *http.Request, code string) {
	room, err := h.Room(r.Context(), code)
	h.reply(w, http.StatusOK, room, err)
}

func (h *Handler) serveJoin(w http.ResponseWriter, r *http.Request, code string) {
	var req JoinRequest
	if err := h.readJSON(w, r, &req, true); err != nil {
		writeError(w, err)
		return
	}
	token := bearer(r)
	if !validToken(token) {
		token = "" // a stale or foreign token only fails to take an id back
	}
	resp, err := h.join(r.Context(), code, token, req)
	h.reply(w, http.StatusOK, resp, err)
}

func (h *Handler) serveSignal(w http.ResponseWriter, r *http.Request, code string) {
	token, err := authToken(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var sig rtc.Signal
	if err := h.readJSON(w, r, &sig, false); err != nil {
		writeError(w, err)
		return
	}
	h.reply(w, http.StatusNoContent, nil, h.signal(r.Context(), code, token, sig))
}

func (h *Handler) servePoll(w http.ResponseWriter, r *http.Request, code string) {
	token, err := authToken(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			writeError(w, errorf(http.StatusBadRequest, "after=%s: want a sequence number", clip(v)))
			return
		}
	}
	var waitMs uint64
	if v := q.Get("wait"); v != "" {
		if waitMs, err = strconv.ParseUint(v, 10, 32); err != nil {
			writeError(w, errorf(http.StatusBadRequest, "wait=%s: want milliseconds", clip(v)))
			return
		}
	}
	var known []core.NodeID
	if q.Has("members") {
		if known, err = parseIDs(q.Get("members")); err != nil {
			writeError(w, err)
			return
		}
	}
	var faults *uint64
	if q.Has("faults") {
		seq, err := strconv.ParseUint(q.Get("faults"), 10, 64)
		if err != nil {
			writeError(w, errorf(http.StatusBadRequest, "faults=%s: want a sequence number", clip(q.Get("faults"))))
			return
		}
		faults = &seq
	}
	resp, err := h.poll(r.Context(), code, token, after, time.Duration(waitMs)*time.Millisecond, known, faults)
	h.reply(w, http.StatusOK, resp, err)
}

// parseIDs parses the members= of a poll: broker ids separated by commas.
func parseIDs(v string) ([]core.NodeID, error) {
	ids := []core.NodeID{}
	if v == "" {
		return ids, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) > maxMaxBrokers {
		return nil, errorf(http.StatusBadRequest, "members=: more than %d ids", maxMaxBrokers)
	}
	for _, p := range parts {
		id, err := strconv.Atoi(p)
		if err != nil || id < 1 || id > maxMaxBrokers {
			return nil, errorf(http.StatusBadRequest, "members=%s: want broker ids separated by commas", clip(v))
		}
		ids = append(ids, core.NodeID(id))
	}
	slices.Sort(ids)
	return ids, nil
}

func (h *Handler) serveLeave(w http.ResponseWriter, r *http.Request, code string) {
	token, err := authToken(r)
	if err != nil {
		writeError(w, err)
		return
	}
	h.reply(w, http.StatusNoContent, nil, h.leave(r.Context(), code, token))
}

// reply writes v with status, or err.
func (h *Handler) reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		gone := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) // the client went away
		if s, msg := statusOf(err); s == http.StatusInternalServerError && !gone {
			h.cfg.Logf("room: %s", msg)
		}
		writeError(w, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}
