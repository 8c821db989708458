package lab

import (
	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
)

// AckCheck is what became of the records producers saw acknowledged, by
// acks setting: Kafka promises that a record acknowledged with acks=all,
// while min.insync.replicas replicas were in sync, survives the loss of any
// one broker; acks=1 promises only that the leader appended it.
type AckCheck struct {
	Acks client.Acks
	// Acked records with an offset (acks=0 gets none).
	Acked int
	// Present: at their offset in the leader's log, with the same key and
	// value. Deleted: below the log start offset (retention deleted them).
	// Unknown: their partition has no running leader now.
	Present, Deleted, Unknown int
	// Lost: the leader's log has something else at that offset, or ends
	// before it.
	Lost []core.RecordAcked
}

// leaderLog is what CheckAcked reads of a partition's leader: its records
// by offset, from the log start.
type leaderLog struct {
	leader bool // a running leader was found
	start  int64
	recs   map[int64][2]string

	// What it was read from: it is read again only when one changed.
	srv   any
	leo   int64
	epoch int32
}

// readLeaderLog reads a partition's records from its leader, or reuses
// the last read if the leader and its log have not changed since.
func (l *Lab) readLeaderLog(p int32) *leaderLog {
	id := l.leaderNode(p)
	if id < 0 {
		return &leaderLog{}
	}
	srv := l.servers[id]
	b := srv.Broker()
	info, ok := b.Partition(l.cfg.Topic, p)
	if !ok {
		return &leaderLog{}
	}
	if l.logCache == nil {
		l.logCache = map[int32]*leaderLog{}
	}
	if c := l.logCache[p]; c != nil && c.srv == any(srv) && c.leo == info.LogEndOffset && c.start == info.LogStartOffset &&
		c.epoch == info.LeaderEpoch {
		return c
	}
	lg := &leaderLog{leader: true, start: info.LogStartOffset, recs: map[int64][2]string{},
		srv: srv, leo: info.LogEndOffset, epoch: info.LeaderEpoch}
	for _, r := range b.Records(l.cfg.Topic, p, info.LogStartOffset, int(info.LogEndOffset-info.LogStartOffset)) {
		lg.recs[r.Offset] = [2]string{string(r.Key), string(r.Value)}
	}
	l.logCache[p] = lg
	return lg
}

// CheckAcked checks every record acknowledged so far (up to 100,000)
// against the current leaders' logs, by acks setting (acks=all first).
func (l *Lab) CheckAcked() []AckCheck {
	checks := map[client.Acks]*AckCheck{}
	byPart := map[int32]*leaderLog{}
	read := func(p int32) *leaderLog {
		if lg := byPart[p]; lg != nil {
			return lg
		}
		lg := l.readLeaderLog(p)
		byPart[p] = lg
		return lg
	}
	for _, a := range l.acked {
		c := checks[a.acks]
		if c == nil {
			c = &AckCheck{Acks: a.acks}
			checks[a.acks] = c
		}
		c.Acked++
		lg := read(a.Partition)
		switch got, ok := lg.recs[a.Offset]; {
		case !lg.leader:
			c.Unknown++
		case a.Offset < lg.start:
			c.Deleted++
		case ok && got == [2]string{string(a.Key), string(a.Value)}:
			c.Present++
		default:
			c.Lost = append(c.Lost, a.RecordAcked)
		}
	}
	var out []AckCheck
	for _, a := range []client.Acks{client.AcksAll, client.AcksLeader, client.AcksNone} {
		if c := checks[a]; c != nil {
			out = append(out, *c)
		}
	}
	return out
}
