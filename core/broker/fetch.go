package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
)

// A parked fetch waits, as in Kafka's fetch purgatory (DelayedFetch), until
// MinBytes are available or MaxWaitMillis has passed.
type parkedFetch struct {
	env      core.Envelope
	req      *kmsg.FetchRequest
	deadline int64
}

// fetch reports whether the request was parked; if not, the caller answers it
// at once with fetchResponse.
func (n *Node) fetch(env core.Envelope, req *kmsg.FetchRequest) bool {
	if req.MaxWaitMillis <= 0 || req.SessionEpoch > 0 {
		return false
	}
	resp := n.fetchResponse(req)
	if fetchBytes(resp) >= int(req.MinBytes) || fetchHasError(resp) {
		return false
	}
	n.parked = append(n.parked, &parkedFetch{env: env, req: req, deadline: n.now + int64(req.MaxWaitMillis)})
	return true
}

// serveParked answers parked fetches that can now be satisfied or whose wait
// is over.
func (n *Node) serveParked() {
	kept := n.parked[:0]
	for _, pf := range n.parked {
		resp := n.fetchResponse(pf.req)
		if n.now >= pf.deadline || fetchBytes(resp) >= int(pf.req.MinBytes) || fetchHasError(resp) {
			n.reply(pf.env, resp)
			continue
		}
		kept = append(kept, pf)
	}
	n.parked = kept
}

// fetchResponse reads every requested partition. Streamlab creates no fetch
// sessions (KIP-227): it answers SessionID 0, which tells the client to keep
// sending full fetch requests, and an incremental request for a session it
// never handed out gets FETCH_SESSION_ID_NOT_FOUND.
func (n *Node) fetchResponse(req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = 52428800 // fetch.max.bytes default
	}
	minOne := true // KIP-74: the first batch found is returned even if too big
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			// Kafka always sends a records field, empty when there is nothing;
			// librdkafka rejects a null one (MessageSetSize -1).
			sp.RecordBatches = []byte{}
			p := n.partition(rt.Topic, rp.Partition)
			lerr := n.leaderError(p, sinceVersion(req.Version, 9, rp.CurrentLeaderEpoch))
			switch {
			case lerr != nil:
				sp.ErrorCode = lerr.Code
			case req.ReplicaID >= 0:
				got := n.replicaFetch(req, p, rp, &sp, maxBytes)
				maxBytes -= got
			default:
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = p.hw, p.hw, p.log.LogStartOffset()
				limit := min(int(rp.PartitionMaxBytes), maxBytes)
				if rp.FetchOffset > p.hw && rp.FetchOffset <= p.log.LogEndOffset() {
					// Not committed yet, but in the log: an empty answer,
					// not an error (LocalLog.read is out of range only past
					// the log end). A new leader's high watermark lags.
					break
				}
				data, err := p.log.Read(rp.FetchOffset, p.hw, limit, minOne)
				if err != nil || rp.FetchOffset > p.hw {
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
					break
				}
				if len(data) > 0 {
					minOne = false
				}
				maxBytes -= len(data)
				if data != nil {
					sp.RecordBatches = data
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func fetchBytes(resp *kmsg.FetchResponse) int {
	total := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			total += len(p.RecordBatches)
		}
	}
	return total
}

func fetchHasError(resp *kmsg.FetchResponse) bool {
	if resp.ErrorCode != 0 {
		return true
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}
