package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/record"
)

func (h *harness) initProducerID() (int64, int16) {
	h.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	resp := h.do(req).(*kmsg.InitProducerIDResponse)
	if resp.ErrorCode != 0 {
		h.t.Fatalf("InitProducerId: %s", errName(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// idem builds a batch of n records from producer id/epoch at sequence seq.
func idem(id int64, epoch int16, seq int32, n int) []byte {
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{Timestamp: t0, Value: []byte(fmt.Sprint("s", int(seq)+i))}
	}
	return record.Build(record.Batch{Producer: &record.Producer{ID: id, Epoch: epoch, BaseSequence: seq}, Records: recs})
}

func TestInitProducerIDNeverRepeats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		seen := map[int64]bool{}
		for i := 0; i < 3; i++ {
			id, epoch := h.initProducerID()
			if epoch != 0 || seen[id] {
				t.Fatalf("id %d epoch %d (seen %v)", id, epoch, seen)
			}
			seen[id] = true
		}
		h.restart(b)
		for i := 0; i < 3; i++ {
			if id, _ := h.initProducerID(); seen[id] {
				t.Fatalf("producer id %d handed out again after a restart", id)
			}
		}
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = kmsg.StringPtr("tx")
		if resp := h.do(req).(*kmsg.InitProducerIDResponse); resp.ErrorCode == 0 {
			t.Fatal("a transactional.id was accepted, but transactions are not implemented")
		}
	})
}

func TestIdempotentProduce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("t", 1, nil)
		id, epoch := h.initProducerID()
		expect := func(name string, raw []byte, want *kerr.Error, wantBase int64) {
			t.Helper()
			sp := h.produce("t", 0, raw)
			var code int16
			if want != nil {
				code = want.Code
			}
			if sp.ErrorCode != code {
				t.Fatalf("%s: %s, want %v", name, errName(sp.ErrorCode), want)
			}
			if want == nil && sp.BaseOffset != wantBase {
				t.Fatalf("%s: base offset %d, want %d", name, sp.BaseOffset, wantBase)
			}
		}
		expect("first", idem(id, epoch, 0, 2), nil, 0)
		expect("second", idem(id, epoch, 2, 3), nil, 2)
		// A retry of the first batch (its response was lost): same offsets, no append.
		expect("retry of first", idem(id, epoch, 0, 2), nil, 0)
		expect("retry of second", idem(id, epoch, 2, 3), nil, 2)
		if end := h.n.partition("t", 0).log.LogEndOffset(); end != 5 {
			t.Fatalf("duplicates were appended: log end %d", end)
		}
		expect("gap", idem(id, epoch, 9, 1), kerr.OutOfOrderSequenceNumber, 0)
		expect("old epoch", idem(id, epoch-1, 5, 1), kerr.InvalidProducerEpoch, 0)
		expect("new epoch not at 0", idem(id, epoch+1, 5, 1), kerr.OutOfOrderSequenceNumber, 0)
		expect("next", idem(id, epoch, 5, 1), nil, 5)

		// Producer state survives a restart: it is rebuilt from the log.
		h.restart(b)
		expect("retry after restart", idem(id, epoch, 5, 1), nil, 5)
		expect("gap after restart", idem(id, epoch, 7, 1), kerr.OutOfOrderSequenceNumber, 0)
		expect("new epoch at 0", idem(id, epoch+1, 0, 1), nil, 6)
		expect("old epoch now fenced", idem(id, epoch, 6, 1), kerr.InvalidProducerEpoch, 0)
	})
}

// Only the last 5 batches are remembered: an older retry is out of sequence,
// which is why Kafka limits an idempotent producer to 5 requests in flight.
func TestDuplicateWindowIsFiveBatches(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	id, epoch := h.initProducerID()
	for seq := int32(0); seq < 6; seq++ {
		if sp := h.produce("t", 0, idem(id, epoch, seq, 1)); sp.ErrorCode != 0 {
			t.Fatal(errName(sp.ErrorCode))
		}
	}
	if sp := h.produce("t", 0, idem(id, epoch, 1, 1)); sp.ErrorCode != 0 || sp.BaseOffset != 1 {
		t.Fatalf("retry of the 5th newest batch: %s at %d", errName(sp.ErrorCode), sp.BaseOffset)
	}
	if sp := h.produce("t", 0, idem(id, epoch, 0, 1)); sp.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("retry of the 6th newest batch: %s", errName(sp.ErrorCode))
	}
}
