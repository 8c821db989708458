package controller

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/streamlab/streamlab/core"
)

// Brokers learn the metadata by fetching the log from the active
// controller, as KRaft brokers fetch __cluster_metadata (KIP-595 observers,
// KIP-630 snapshots): a Fetch of partition 0 from the offset after the last
// one applied. The raft leader answers with the committed entries it has
// applied or, when the broker is behind its last snapshot, with the whole
// image and SnapshotID set. An empty answer waits up to MaxWaitMillis for
// the next commit, so an idle cluster is quiet on the wire.
//
// KRaft carries Kafka record batches; Streamlab's RecordBatches carry the
// controller's own encoding: per entry, its offset and EncodeBatch's bytes
// (DecodeLog).

// MetadataTopic is the metadata log's name, as in KRaft.
const MetadataTopic = "__cluster_metadata"

// LogEntry is one committed metadata log entry.
type LogEntry struct {
	Offset  int64
	Records []Record
}

type parkedFetch struct {
	env      core.Envelope
	from     int64
	deadline int64
}

// fetchMetadata serves a broker's metadata fetch.
func (c *Controller) fetchMetadata(env core.Envelope, req *kmsg.FetchRequest) {
	from := int64(-1)
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if t.Topic == MetadataTopic && p.Partition == 0 {
				from = p.FetchOffset
			}
		}
	}
	switch {
	case from < 0:
		c.respond(env, c.metadataResponse(req, from, kerr.UnknownTopicOrPartition))
	case !c.leader:
		c.respond(env, c.metadataResponse(req, from, kerr.NotLeaderForPartition))
	case from > int64(c.applied) && req.MaxWaitMillis > 0:
		c.fetches = append(c.fetches, parkedFetch{env: env, from: from, deadline: c.now + int64(req.MaxWaitMillis)})
	default:
		c.respond(env, c.metadataResponse(req, from, nil))
	}
}

// serveFetches answers parked fetches that have data, time out or can no
// longer be served here.
func (c *Controller) serveFetches() {
	kept := c.fetches[:0]
	for _, f := range c.fetches {
		req := f.env.Request.(*kmsg.FetchRequest)
		switch {
		case !c.leader:
			c.respond(f.env, c.metadataResponse(req, f.from, kerr.NotLeaderForPartition))
		case f.from <= int64(c.applied) || c.now >= f.deadline:
			c.respond(f.env, c.metadataResponse(req, f.from, nil))
		default:
			kept = append(kept, f)
		}
	}
	clear(c.fetches[len(kept):])
	c.fetches = kept
}

func (c *Controller) metadataResponse(req *kmsg.FetchRequest, from int64, err *kerr.Error) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	sp := kmsg.NewFetchResponseTopicPartition()
	sp.HighWatermark, sp.LastStableOffset = int64(c.applied)+1, int64(c.applied)+1
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = int32(c.Leader()), int32(c.seen.term)
	if err != nil {
		sp.ErrorCode = err.Code
	} else if from <= int64(c.applied) {
		if from <= int64(c.snapIndex) {
			// The entries are compacted: send the image (FetchSnapshot).
			sp.SnapshotID.EndOffset, sp.SnapshotID.Epoch = int64(c.applied), int32(c.seen.term)
			sp.RecordBatches = appendEntry(nil, int64(c.applied), EncodeBatch(c.image.Records()))
		} else {
			ents, e := c.ms.Entries(uint64(from), c.applied+1, uint64(max(req.MaxBytes, 1)))
			if e != nil {
				panic(fmt.Sprintf("controller %d: entries %d..%d: %v", c.cfg.ID, from, c.applied, e))
			}
			for _, ent := range ents {
				var data []byte
				if ent.GetType() == pb.EntryType_EntryNormal {
					data = ent.GetData()
				}
				sp.RecordBatches = appendEntry(sp.RecordBatches, int64(ent.GetIndex()), data)
			}
		}
	}
	resp.Topics = []kmsg.FetchResponseTopic{{Topic: MetadataTopic, Partitions: []kmsg.FetchResponseTopicPartition{sp}}}
	return resp
}

func appendEntry(b []byte, offset int64, batch []byte) []byte {
	b = binary.AppendVarint(b, offset)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	return append(b, batch...)
}

// DecodeLog decodes the entries of a metadata fetch response.
func DecodeLog(b []byte) ([]LogEntry, error) {
	var out []LogEntry
	for len(b) > 0 {
		off, n := binary.Varint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: entry offset", ErrCorrupt)
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: entry size", ErrCorrupt)
		}
		recs, err := DecodeBatch(b[n : n+int(size)])
		if err != nil {
			return nil, err
		}
		out = append(out, LogEntry{Offset: off, Records: recs})
		b = b[n+int(size):]
	}
	return out, nil
}
