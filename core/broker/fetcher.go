package broker

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/record"
)

// Follower side of replication: one fetch at a time to each leader, for all
// the partitions this broker follows there (Kafka's ReplicaFetcherThread),
// appending what comes back with the leader's offsets, and truncating when
// the leader says the logs diverged.

// Follower fetch settings (replica.fetch.* broker configs).
const (
	replicaFetchWaitMaxMs       = 500      // replica.fetch.wait.max.ms
	replicaFetchMaxBytes        = 1048576  // replica.fetch.max.bytes
	replicaFetchResponseMaxByte = 10485760 // replica.fetch.response.max.bytes
	replicaSocketTimeoutMs      = 30000    // replica.socket.timeout.ms
)

type fetcher struct {
	inFlight bool
	corr     int32
	sentAt   int64
}

// followed returns, sorted, the partitions this broker follows on leader.
func (n *Node) followed(leader int32) []*partition {
	var out []*partition
	for _, name := range n.topicNames() {
		for _, p := range n.topics[name].parts {
			if p.leader == leader && !n.isLeader(p) && slices.Contains(p.replicas, int32(n.cfg.ID)) {
				out = append(out, p)
			}
		}
	}
	return out
}

// fetch0 sends a fetch to leader unless one is on its way (or lost: after
// replica.socket.timeout.ms a new one goes).
func (n *Node) fetch0(leader int32) {
	if n.fetchers == nil {
		n.fetchers = map[int32]*fetcher{}
	}
	f := n.fetchers[leader]
	if f == nil {
		f = &fetcher{}
		n.fetchers[leader] = f
	}
	if f.inFlight && n.now-f.sentAt < replicaSocketTimeoutMs {
		return
	}
	parts := n.followed(leader)
	if len(parts) == 0 {
		return
	}
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID = 12, int32(n.cfg.ID)
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = replicaFetchWaitMaxMs, 1, replicaFetchResponseMaxByte
	req.SessionEpoch = -1
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[p.topic] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch = p.index, p.leaderEpoch
		rp.FetchOffset, rp.LastFetchedEpoch = p.log.LogEndOffset(), p.log.LatestEpoch()
		rp.LogStartOffset, rp.PartitionMaxBytes = p.log.LogStartOffset(), replicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	n.corr++
	f.inFlight, f.corr, f.sentAt = true, n.corr, n.now
	n.out = append(n.out, core.Envelope{From: n.cfg.ID, To: core.NodeID(leader), CorrelationID: n.corr,
		ClientID: "replica-fetcher", Request: req})
}

// fetchAll keeps a fetch going to every leader this broker follows.
func (n *Node) fetchAll() {
	var leaders []int32
	for _, name := range n.topicNames() {
		for _, p := range n.topics[name].parts {
			if p.leader >= 0 && !n.isLeader(p) && slices.Contains(p.replicas, int32(n.cfg.ID)) && !slices.Contains(leaders, p.leader) {
				leaders = append(leaders, p.leader)
			}
		}
	}
	slices.Sort(leaders)
	for _, l := range leaders {
		n.fetch0(l)
	}
}

// replicaFetched applies a leader's answer to this broker's fetch.
func (n *Node) replicaFetched(env core.Envelope, resp *kmsg.FetchResponse) {
	leader := int32(env.From)
	f := n.fetchers[leader]
	if f == nil || !f.inFlight || f.corr != env.CorrelationID {
		return // a late answer to a fetch given up on
	}
	f.inFlight = false
	for _, rt := range resp.Topics {
		for _, sp := range rt.Partitions {
			p := n.partition(rt.Topic, sp.Partition)
			if p == nil || p.leader != leader || n.isLeader(p) {
				continue // the metadata moved on while the fetch travelled
			}
			n.applyFetched(p, sp)
		}
		if t := n.topics[rt.Topic]; t != nil {
			n.collectWrites(t)
		}
	}
	n.fetch0(leader)
}

func (n *Node) applyFetched(p *partition, sp kmsg.FetchResponseTopicPartition) {
	leo := p.log.LogEndOffset()
	switch {
	case sp.ErrorCode == kerr.OffsetOutOfRange.Code && leo < sp.LogStartOffset:
		// The leader deleted what we lack: start over at its log start
		// (UnifiedLog.truncateFullyAndStartAt).
		n.truncate(p, sp.LogStartOffset, "behind the leader's log start")
		return
	case sp.ErrorCode != 0:
		return // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH...: wait for metadata
	case sp.DivergingEpoch.Epoch >= 0 || sp.DivergingEpoch.EndOffset >= 0:
		// KIP-279: cut to where both logs agree: the smaller of the
		// leader's and our end of the epoch the leader named; if we do not
		// know that epoch, our end of the epoch below it. The next fetch
		// carries our new last epoch, so disagreements further back are
		// found the same way (AbstractFetcherThread.truncateOnFetchResponse).
		to := min(sp.DivergingEpoch.EndOffset, leo)
		if _, ours := p.log.EndOffsetForEpoch(sp.DivergingEpoch.Epoch); ours >= 0 {
			to = min(to, ours)
		}
		n.truncate(p, max(to, 0), "diverged from the leader's epoch "+strconv.Itoa(int(sp.DivergingEpoch.Epoch)))
		return
	}
	_, _ = record.Iterate(sp.RecordBatches, func(h kmsg.RecordBatch, raw []byte) bool {
		last := h.FirstOffset + int64(h.LastOffsetDelta)
		if last < p.log.LogEndOffset() {
			return true // already have it
		}
		// raw is kept as it is, not copied: a fetch response's batches are
		// the leader's log, whose batches never change (partlog), or a
		// frame decoded for this response alone; and a follower changes
		// nothing in them.
		if _, err := p.log.AppendReplicated(raw, h, n.now); err != nil {
			return false
		}
		p.noteProducer(h, h.FirstOffset, last)
		n.events = append(n.events, core.RecordsAppended{Topic: p.topic, Partition: p.index, BaseOffset: h.FirstOffset,
			LastOffset: last, Records: h.NumRecords, Bytes: len(raw), LeaderEpoch: h.PartitionLeaderEpoch})
		return true
	})
	// A follower's high watermark is the leader's, up to what it holds.
	if hw := min(sp.HighWatermark, p.log.LogEndOffset()); hw > p.hw {
		p.hw = hw
		n.events = append(n.events, core.HighWatermarkAdvanced{Topic: p.topic, Partition: p.index, HighWatermark: hw})
	}
}

func (n *Node) truncate(p *partition, to int64, reason string) {
	from := p.log.LogEndOffset()
	end := p.log.TruncateTo(to)
	p.hw = min(p.hw, end)
	if end < from {
		p.rebuildProducers()
	}
	n.events = append(n.events, core.LogTruncated{Topic: p.topic, Partition: p.index, From: from, To: end, Reason: reason})
}
