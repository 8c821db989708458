package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// Leader side of replication, as Kafka's Partition and ReplicaManager do it:
// followers pull with Fetch; the leader tracks each follower's log end
// offset; the high watermark is the smallest log end offset in the ISR;
// acks=all produces wait until the high watermark passes them.

// replicaLagTimeMaxMs is replica.lag.time.max.ms: a follower that has not
// caught up with the leader's log end for this long leaves the ISR.
const replicaLagTimeMaxMs = 30000

// followerState is what a leader knows of one follower (Kafka's Replica).
type followerState struct {
	leo          int64 // its log end offset: the offset of its last fetch; -1 unknown
	lastCaughtUp int64 // last time it had everything the leader had
	// The leader's log end and the time at the follower's previous fetch:
	// reaching that end proves it was caught up then (Replica.updateFetchState).
	lastFetchLeaderLEO, lastFetchTime int64
}

// minInsync is min.insync.replicas, capped by the replication factor
// (Partition.effectiveMinIsr... KAFKA-RULES: effectiveMinIsr).
func (n *Node) minInsync(p *partition) int {
	return min(int(n.topics[p.topic].cfg.minInsyncReplicas), max(1, len(p.replicas)))
}

// maybeAdvanceHW moves a leader's high watermark to the smallest log end
// offset in the ISR, never backwards, and not while the ISR is below
// min.insync.replicas (KAFKA-15583; Partition.maybeIncrementLeaderHW).
func (n *Node) maybeAdvanceHW(p *partition) {
	if !n.isLeader(p) || len(p.isr) < n.minInsync(p) {
		return
	}
	hw := p.log.LogEndOffset()
	for _, r := range maximalISR(p) {
		if f := p.followers[r]; f != nil {
			hw = min(hw, f.leo)
		}
	}
	if hw > p.hw {
		p.hw = hw
		n.events = append(n.events, core.HighWatermarkAdvanced{Topic: p.topic, Partition: p.index, HighWatermark: hw})
		n.completeProduces()
		n.groupsHWAdvanced(p)
	}
}

// maximalISR is the ISR plus the replicas a pending AlterPartition adds.
func maximalISR(p *partition) []int32 {
	isr := p.isr
	for _, r := range p.pendingISR {
		if !slices.Contains(isr, r) {
			isr = append(slices.Clone(isr), r)
		}
	}
	return isr
}

// followerFetched records a follower's fetch at offset (its log end) and
// may bring it back into the ISR (Partition.updateFollowerFetchState,
// maybeExpandIsr).
func (n *Node) followerFetched(p *partition, replica int32, offset int64) {
	f := p.followers[replica]
	if f == nil {
		return
	}
	leo := p.log.LogEndOffset()
	switch {
	case offset >= leo:
		f.lastCaughtUp = max(f.lastCaughtUp, n.now)
	case offset >= f.lastFetchLeaderLEO && f.lastFetchTime > 0:
		f.lastCaughtUp = max(f.lastCaughtUp, f.lastFetchTime)
	}
	f.leo, f.lastFetchLeaderLEO, f.lastFetchTime = offset, leo, n.now
	// A follower is back in sync once it has everything committed, and
	// everything of the current leader epoch (Partition.isFollowerInSync).
	if !slices.Contains(p.isr, replica) && offset >= p.hw && offset >= n.epochStart(p) {
		n.alterISR(p, append(slices.Clone(p.isr), replica))
	}
	n.maybeAdvanceHW(p)
}

// epochStart is where the leader's current epoch begins in its log.
func (n *Node) epochStart(p *partition) int64 {
	if _, end := p.log.EndOffsetForEpoch(p.leaderEpoch - 1); end >= 0 {
		return end
	}
	return p.log.LogStartOffset()
}

// shrinkISR drops followers that have not caught up within
// replica.lag.time.max.ms (Partition.getOutOfSyncReplicas).
func (n *Node) shrinkISR(p *partition) {
	if !n.isLeader(p) {
		return
	}
	var keep []int32
	for _, r := range p.isr {
		if f := p.followers[r]; f != nil && n.now-f.lastCaughtUp > replicaLagTimeMaxMs {
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) != len(p.isr) {
		n.alterISR(p, keep)
		n.maybeAdvanceHW(p)
	}
}

// alterISR changes the ISR. In a cluster the leader asks the controller
// with AlterPartition and keeps the old ISR until it answers (forward.go);
// a broker alone decides at once.
func (n *Node) alterISR(p *partition, isr []int32) {
	if n.cfg.KRaft {
		n.alterPartition(p, isr)
		return
	}
	prev := p.isr
	p.isr = isr
	p.partitionEpoch++
	n.events = append(n.events, core.IsrChanged{Topic: p.topic, Partition: p.index, ISR: slices.Clone(isr),
		PreviousISR: prev, PartitionEpoch: p.partitionEpoch})
}

// replicaFetch answers a follower's fetch of one partition: it reads from
// the follower's offset up to the log end (not the high watermark), or tells
// it where its log diverged from this leader's (KIP-320/595 DivergingEpoch,
// Partition.fetchRecords).
func (n *Node) replicaFetch(req *kmsg.FetchRequest, p *partition, rp kmsg.FetchRequestTopicPartition, sp *kmsg.FetchResponseTopicPartition, maxBytes int) int {
	replica := req.ReplicaID
	if req.Version < 15 && replica < 0 {
		return 0
	}
	if !slices.Contains(p.replicas, replica) {
		sp.ErrorCode = kerr.NotLeaderForPartition.Code
		return 0
	}
	if req.Version >= 12 && rp.LastFetchedEpoch >= 0 {
		epoch, end := p.log.EndOffsetForEpoch(rp.LastFetchedEpoch)
		if epoch < rp.LastFetchedEpoch || end < rp.FetchOffset {
			sp.DivergingEpoch.Epoch, sp.DivergingEpoch.EndOffset = epoch, end
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = p.hw, p.hw, p.log.LogStartOffset()
			return 0
		}
	}
	n.followerFetched(p, replica, rp.FetchOffset)
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = p.hw, p.hw, p.log.LogStartOffset()
	data, err := p.log.Read(rp.FetchOffset, p.log.LogEndOffset(), min(int(rp.PartitionMaxBytes), maxBytes), true)
	if err != nil {
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return 0
	}
	if data != nil {
		sp.RecordBatches = data
	}
	return len(data)
}

// A parked produce is an acks=all request waiting until the high watermark
// of each partition it appended to passes its last offset (DelayedProduce).
type parkedProduce struct {
	env      core.Envelope
	resp     *kmsg.ProduceResponse
	waiting  map[*partition]int64 // offset the high watermark must reach
	deadline int64
}

// completeProduces answers the parked produces that can be answered.
func (n *Node) completeProduces() {
	kept := n.produces[:0]
	for _, pp := range n.produces {
		for p, need := range pp.waiting {
			code := int16(-1) // still waiting
			switch {
			case !n.isLeader(p):
				code = kerr.NotLeaderForPartition.Code
			case p.hw >= need && len(p.isr) < n.minInsync(p):
				code = kerr.NotEnoughReplicasAfterAppend.Code
			case p.hw >= need:
				code = 0
			case n.now >= pp.deadline:
				code = kerr.RequestTimedOut.Code
			}
			if code >= 0 {
				pp.setError(p, code)
				delete(pp.waiting, p)
			}
		}
		if len(pp.waiting) > 0 {
			kept = append(kept, pp)
			continue
		}
		n.reply(pp.env, pp.resp)
	}
	n.produces = kept
}

func (pp *parkedProduce) setError(p *partition, code int16) {
	for i := range pp.resp.Topics {
		if pp.resp.Topics[i].Topic != p.topic {
			continue
		}
		for j := range pp.resp.Topics[i].Partitions {
			if sp := &pp.resp.Topics[i].Partitions[j]; sp.Partition == p.index && code != 0 {
				sp.ErrorCode, sp.BaseOffset = code, -1
			}
		}
	}
}
