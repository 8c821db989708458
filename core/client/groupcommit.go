package client

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Committed offsets: OffsetFetch when a partition is assigned, OffsetCommit
// with the member's generation (ConsumerCoordinator.commitOffsetsSync,
// commitOffsetsAsync, refreshCommittedOffsetsIfNeeded).
//
// A commit carries the leader epoch of the last record consumed, and a
// fetched committed offset's epoch makes older leaders stale (KIP-320).
//
// Simplified: no OffsetsForLeaderEpoch validation of a position; commits
// carry no metadata string, and partitions whose position did not move
// since the last commit are left out (Java commits every assigned
// partition).

// commitCall is one commit: sync ones retry retriable errors until
// default.api.timeout.ms, async ones (auto commit) do not.
type commitCall struct {
	offsets  map[TopicPartition]offsetEpoch
	sync     bool
	deadline int64
	retryAt  int64
	attempts int
	done     func(*kerr.Error)
}

// Committed is the partition's committed offset as this consumer last
// committed or fetched it.
func (c *Consumer) Committed(topic string, partition int32) (int64, bool) {
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil || ps.committed < 0 {
		return -1, false
	}
	return ps.committed, true
}

// LastCommitError is the error of the last commit that failed, "" if none
// failed since the last one that succeeded.
func (c *Consumer) LastCommitError() string {
	if c.grp == nil {
		return ""
	}
	return c.grp.lastErr
}

// Commit commits the positions of every assigned partition, as
// KafkaConsumer.commitAsync(): the answer is not awaited and a failure is
// not retried.
func (c *Consumer) Commit() {
	if c.grp == nil || c.grp.closing {
		return
	}
	if offsets := c.consumedOffsets(); len(offsets) > 0 {
		c.commit(offsets, false, nil)
		c.run()
	}
}

// offsetEpoch is a position to commit with the leader epoch of the record
// before it (OffsetAndMetadata.leaderEpoch, KIP-320), -1 if unknown.
type offsetEpoch struct {
	offset int64
	epoch  int32
}

// consumedOffsets are the positions to commit (SubscriptionState
// .allConsumed): those known and not committed yet.
func (c *Consumer) consumedOffsets() map[TopicPartition]offsetEpoch {
	out := map[TopicPartition]offsetEpoch{}
	for _, k := range c.order {
		ps := c.parts[k]
		if ps.position >= 0 && ps.reset == 0 && !ps.initializing && !ps.stopped && ps.position != ps.committed {
			out[k] = offsetEpoch{ps.position, ps.epoch}
		}
	}
	return out
}

// maybeAutoCommit commits the positions every auto.commit.interval.ms
// (ConsumerCoordinator.maybeAutoCommitOffsetsAsync); it runs in poll, so
// what it commits has been processed.
func (g *groupMember) maybeAutoCommit() {
	c := g.c
	if c.cfg.Commit != CommitAuto || g.autoBusy {
		return
	}
	if !g.autoStarted { // the timer starts with the consumer
		g.autoStarted = true
		g.autoAt = c.nc.now + c.cfg.AutoCommitIntervalMs
	}
	if c.nc.now < g.autoAt {
		return
	}
	g.autoAt = c.nc.now + c.cfg.AutoCommitIntervalMs
	offsets := c.consumedOffsets()
	if len(offsets) == 0 {
		return
	}
	g.autoBusy = true
	c.commit(offsets, false, func(err *kerr.Error) {
		g.autoBusy = false
		if err != nil && retriable(err.Code) {
			g.autoAt = c.nc.now + c.nc.retryBackoff(0) // try again soon, not in a whole interval
		}
	})
}

// commit starts an OffsetCommit; done (if not nil) gets its outcome.
func (c *Consumer) commit(offsets map[TopicPartition]offsetEpoch, sync bool, done func(*kerr.Error)) {
	cc := &commitCall{offsets: offsets, sync: sync, deadline: c.nc.now + c.cfg.DefaultAPITimeoutMs, done: done}
	c.sendCommit(cc)
}

// retryCommits resends the sync commits whose backoff has passed.
func (g *groupMember) retryCommits() {
	if len(g.commits) == 0 {
		return
	}
	due := g.commits[:0:0]
	kept := g.commits[:0]
	for _, cc := range g.commits {
		if g.c.nc.now >= cc.retryAt {
			due = append(due, cc)
		} else {
			kept = append(kept, cc)
		}
	}
	g.commits = kept
	for _, cc := range due {
		g.c.sendCommit(cc)
	}
}

func (c *Consumer) finishCommit(cc *commitCall, err *kerr.Error) {
	g := c.grp
	if err != nil {
		c.stats.CommitFailures++
		g.lastErr = err.Message
	} else {
		c.stats.Commits++
		g.lastErr = ""
	}
	if cc.done != nil {
		cc.done(err)
	}
}

// retryOrFail retries a sync commit after a retriable error, until
// default.api.timeout.ms has passed.
func (c *Consumer) retryOrFail(cc *commitCall, err *kerr.Error) {
	if cc.sync && kerr.IsRetriable(err) && c.nc.now < cc.deadline && !c.grp.closed && c.grp.fatal == "" {
		cc.attempts++
		cc.retryAt = c.nc.now + c.nc.retryBackoff(cc.attempts-1)
		c.grp.commits = append(c.grp.commits, cc)
		return
	}
	c.finishCommit(cc, err)
}

// sendCommit sends an OffsetCommit to the coordinator with the member's
// generation; a member that is not STABLE fails at once, as
// ConsumerCoordinator.sendOffsetCommitRequest does (generationIfStable):
// REBALANCE_IN_PROGRESS while it rejoins, else the commit failed
// (CommitFailedException). A consumer with assigned partitions commits as
// generation -1, without member id.
func (c *Consumer) sendCommit(cc *commitCall) {
	g := c.grp
	gen, member := int32(-1), ""
	if g.subscribed {
		switch {
		case g.fatal != "":
			c.finishCommit(cc, kerr.FencedInstanceID)
			return
		case g.state == memberPreparing || g.state == memberCompleting:
			c.finishCommit(cc, kerr.RebalanceInProgress)
			return
		case g.state != memberStable:
			c.finishCommit(cc, kerr.IllegalGeneration)
			return
		}
		gen, member = g.generation, g.memberID
	}
	v, ok := g.ready(kmsg.OffsetCommit)
	if !ok {
		c.retryOrFail(cc, kerr.CoordinatorNotAvailable)
		return
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation, req.MemberID = v, g.group, gen, member
	if v >= 7 {
		req.InstanceID = g.instanceID
	}
	req.RetentionTimeMillis = -1
	keys := slices.SortedFunc(maps.Keys(cc.offsets), TopicPartition.compare)
	for _, k := range keys {
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = k.Partition, cc.offsets[k].offset, cc.offsets[k].epoch
		if n := len(req.Topics); n > 0 && req.Topics[n-1].Topic == k.Topic {
			req.Topics[n-1].Partitions = append(req.Topics[n-1].Partitions, p)
		} else {
			req.Topics = append(req.Topics, kmsg.OffsetCommitRequestTopic{Topic: k.Topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}})
		}
	}
	g.post(req, c.cfg.RequestTimeoutMs, func(resp kmsg.Response, err *kerr.Error) {
		defer c.run()
		if err != nil {
			g.markCoordinatorUnknown("OffsetCommit failed: " + err.Message)
			c.retryOrFail(cc, err)
			return
		}
		c.onCommit(cc, resp.(*kmsg.OffsetCommitResponse), gen, member)
	})
}

// onCommit handles OffsetCommit's answer (OffsetCommitResponseHandler):
// the first partition error decides.
func (c *Consumer) onCommit(cc *commitCall, r *kmsg.OffsetCommitResponse, gen int32, member string) {
	g := c.grp
	var code int16
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				k := TopicPartition{t.Topic, p.Partition}
				if ps := c.parts[k]; ps != nil {
					ps.committed = max(ps.committed, cc.offsets[k].offset)
				}
			} else if code == 0 {
				code = p.ErrorCode
			}
		}
	}
	if code == 0 {
		c.finishCommit(cc, nil)
		return
	}
	err := kerr.TypedErrorForCode(code)
	unchanged := g.generation == gen && g.memberID == member
	switch err {
	case kerr.CoordinatorNotAvailable, kerr.NotCoordinator, kerr.RequestTimedOut:
		g.markCoordinatorUnknown(err.Message)
		c.retryOrFail(cc, err)
	case kerr.UnknownMemberID, kerr.IllegalGeneration:
		// CommitFailedException: the group moved on without this member.
		if unchanged && g.subscribed {
			g.resetGeneration(err == kerr.UnknownMemberID, "encountered "+err.Message+" from OFFSET_COMMIT response")
		}
		c.finishCommit(cc, err)
	case kerr.RebalanceInProgress:
		g.requestRejoin("offset commit failed since group is rebalancing")
		c.finishCommit(cc, err)
	case kerr.FencedInstanceID:
		g.setFatal(err.Message)
		c.finishCommit(cc, err)
	default:
		c.retryOrFail(cc, err)
	}
}

// fetchCommitted asks the coordinator for the committed offsets of the
// partitions waiting for them (ConsumerCoordinator.fetchCommittedOffsets,
// with require_stable, KIP-447); a partition without one falls back on
// auto.offset.reset.
func (c *Consumer) fetchCommitted() {
	g := c.grp
	if g == nil || g.closed || g.fatal != "" || g.offsetFl || c.nc.now < g.offsetAt || g.coord < 0 {
		return
	}
	var want []*partState
	for _, k := range c.order {
		if ps := c.parts[k]; ps.initializing {
			want = append(want, ps)
		}
	}
	if len(want) == 0 {
		return
	}
	v, ok := g.ready(kmsg.OffsetFetch)
	if !ok {
		return
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = v
	var topics []kmsg.OffsetFetchRequestGroupTopic
	for _, ps := range want {
		if n := len(topics); n > 0 && topics[n-1].Topic == ps.Topic {
			topics[n-1].Partitions = append(topics[n-1].Partitions, ps.Partition)
		} else {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: ps.Topic, Partitions: []int32{ps.Partition}})
		}
	}
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.Topics = g.group, topics
		req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	} else {
		req.Group = g.group
		for _, t := range topics {
			req.Topics = append(req.Topics, kmsg.OffsetFetchRequestTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	req.RequireStable = v >= 7
	g.offsetFl = true
	g.post(req, c.cfg.RequestTimeoutMs, func(resp kmsg.Response, err *kerr.Error) {
		g.offsetFl = false
		defer c.run()
		retry := func() {
			g.offsetTries++
			g.offsetAt = c.nc.now + c.nc.retryBackoff(g.offsetTries-1)
		}
		if err != nil {
			g.markCoordinatorUnknown("OffsetFetch failed: " + err.Message)
			retry()
			return
		}
		code, answers := offsetFetchAnswers(resp.(*kmsg.OffsetFetchResponse), v)
		switch {
		case code == kerr.NotCoordinator.Code || code == kerr.CoordinatorNotAvailable.Code:
			g.markCoordinatorUnknown(errName(code))
			retry()
			return
		case code != 0:
			retry()
			return
		}
		for _, ps := range want {
			if c.parts[ps.TopicPartition] != ps || !ps.initializing {
				continue // revoked or sought meanwhile
			}
			a, ok := answers[ps.TopicPartition]
			switch {
			case !ok || a.err == kerr.UnstableOffsetCommit.Code || (a.err != 0 && retriable(a.err)):
				retry()
			case a.err != 0:
				c.failPart(ps, errName(a.err))
				retry()
			case a.offset >= 0:
				// The committed leader epoch tells which leaders are
				// stale (ConsumerCoordinator.refreshCommittedOffsetsIfNeeded:
				// metadata.updateLastSeenEpochIfNewer).
				g.offsetTries = 0
				ps.initializing = false
				ps.position, ps.committed, ps.epoch = a.offset, a.offset, a.epoch
				ps.seenEpoch = max(ps.seenEpoch, a.epoch)
			default:
				ps.initializing = false
				c.requestReset(ps, "no position")
			}
		}
	})
}

type fetchedOffset struct {
	offset int64
	epoch  int32
	err    int16
}

// offsetFetchAnswers reads OffsetFetch's answer in any version: the group
// error and each partition's offset.
func offsetFetchAnswers(r *kmsg.OffsetFetchResponse, v int16) (int16, map[TopicPartition]fetchedOffset) {
	out := map[TopicPartition]fetchedOffset{}
	if v >= 8 {
		if len(r.Groups) != 1 {
			return kerr.UnknownServerError.Code, nil
		}
		for _, t := range r.Groups[0].Topics {
			for _, p := range t.Partitions {
				out[TopicPartition{t.Topic, p.Partition}] = fetchedOffset{p.Offset, p.LeaderEpoch, p.ErrorCode}
			}
		}
		return r.Groups[0].ErrorCode, out
	}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			epoch := p.LeaderEpoch
			if v < 5 {
				epoch = -1 // OffsetFetch v5+ carries it
			}
			out[TopicPartition{t.Topic, p.Partition}] = fetchedOffset{p.Offset, epoch, p.ErrorCode}
		}
	}
	return r.ErrorCode, out
}
