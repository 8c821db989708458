package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamlab/streamlab/core"
)

// restart reopens the broker from its store as a new process would.
func (h *harness) restart(b backend) {
	h.t.Helper()
	h.store = b.reopen(h.t, h.store)
	h.events = nil
	h.open()
}

func (h *harness) logOffsets(topic string) (start, end int64) {
	p := h.n.partition(topic, 0)
	return p.log.LogStartOffset(), p.log.LogEndOffset()
}

func TestRestartKeepsEverything(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("t", 2, map[string]string{"segment.bytes": "200", "retention.ms": "86400000"})
		for i := 0; i < 6; i++ {
			h.produce("t", int32(i%2), batch(t0, fmt.Sprint("k", i), "v"))
		}
		h.restart(b)
		if len(h.events) != 0 {
			t.Fatalf("clean restart reported %v", h.events)
		}
		tp := h.n.topics["t"]
		if tp == nil || len(tp.parts) != 2 || tp.cfg.log.RetentionMs != 86400000 {
			t.Fatal("topic metadata lost")
		}
		if segs := tp.parts[0].log.Segments(); len(segs) < 2 {
			t.Fatalf("segment.bytes=200 should have rolled: %+v", segs)
		}
		offsets, kvs := fetchedRecords(t, h.fetch("t", 0, 0, 1<<20).RecordBatches)
		if fmt.Sprint(offsets) != "[0 1 2]" || fmt.Sprint(kvs) != "[k0=v k2=v k4=v]" {
			t.Fatalf("after restart: %v %v", offsets, kvs)
		}
		if sp := h.produce("t", 0, batch(t0, "k6", "v")); sp.BaseOffset != 3 {
			t.Fatalf("next offset after restart: %d", sp.BaseOffset)
		}
	})
}

func TestRecoveryCutsTornTail(t *testing.T) {
	for _, damage := range []struct {
		name string
		cut  func(seg []byte, last int) []byte
	}{
		{"torn write", func(seg []byte, last int) []byte { return seg[:len(seg)-5] }},
		{"bit flip", func(seg []byte, last int) []byte { seg[last+40] ^= 1; return seg }},
		{"garbage tail", func(seg []byte, last int) []byte { return append(seg, 0, 0, 0, 9, 1, 2) }},
	} {
		forEachBackend(t, func(t *testing.T, b backend) {
			t.Run(damage.name, func(t *testing.T) {
				h := newHarness(t, b.open(t))
				h.createTopic("t", 1, nil)
				var lastStart int
				for i := 0; i < 3; i++ {
					lastStart = int(h.n.partition("t", 0).log.Size())
					h.produce("t", 0, batch(t0, fmt.Sprint("k", i), "v"))
				}
				name := "logs/t-0/00000000000000000000.log"
				seg, err := h.store.Read(name)
				if err != nil {
					t.Fatal(err)
				}
				damaged := damage.cut(seg, lastStart)
				if err := h.store.Put(name, damaged); err != nil {
					t.Fatal(err)
				}
				h.restart(b)
				want := int64(2)
				if damage.name == "garbage tail" {
					want = 3
				}
				if _, end := h.logOffsets("t"); end != want {
					t.Fatalf("log end %d after recovery, want %d", end, want)
				}
				var rec *core.LogRecovered
				for _, ev := range h.events {
					if r, ok := ev.(core.LogRecovered); ok {
						rec = &r
					}
				}
				if rec == nil || rec.NextOffset != want || rec.TruncatedBytes <= 0 || rec.Reason == "" {
					t.Fatalf("no LogRecovered event: %+v", h.events)
				}
				// The store itself was cut too: a second restart is clean.
				h.restart(b)
				if len(h.events) != 0 {
					t.Fatalf("second restart still recovering: %v", h.events)
				}
				if sp := h.produce("t", 0, batch(t0, "new", "v")); sp.BaseOffset != want {
					t.Fatalf("append after recovery at %d, want %d", sp.BaseOffset, want)
				}
				offsets, _ := fetchedRecords(t, h.fetch("t", 0, 0, 1<<20).RecordBatches)
				if int64(len(offsets)) != want+1 {
					t.Fatalf("records after recovery: %v", offsets)
				}
			})
		})
	}
}

func TestCorruptMetadataIsAnError(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("t", 1, nil)
		h.produce("t", 0, batch(t0, "k", "v"))
		if err := h.store.Put("meta/topics/t", []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(h.cfg, b.reopen(t, h.store)); err == nil || !strings.Contains(err.Error(), "meta/topics/t") {
			t.Fatalf("Open with corrupt metadata: %v", err)
		}
		// Nothing was deleted: the log is still there.
		if seg, err := h.store.Read("logs/t-0/00000000000000000000.log"); err != nil || len(seg) == 0 {
			t.Fatalf("log lost: %v", err)
		}
	})
}

func TestRetentionByTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("t", 1, map[string]string{"segment.bytes": "100", "retention.ms": "100000"})
		for i := 0; i < 3; i++ {
			h.produce("t", 0, batch(h.now, fmt.Sprint("k", i), "v"))
		}
		h.tick(250000)
		if start, _ := h.logOffsets("t"); start != 0 {
			t.Fatalf("deleted before log.retention.check.interval.ms: start %d", start)
		}
		h.produce("t", 0, batch(h.now, "k3", "v")) // young: must survive
		h.tick(50000)
		start, end := h.logOffsets("t")
		if start != 3 || end != 4 {
			t.Fatalf("after retention: start %d end %d", start, end)
		}
		deleted := 0
		for _, ev := range h.events {
			if d, ok := ev.(core.SegmentDeleted); ok && d.Reason == "retention.ms" {
				deleted++
			}
		}
		if deleted != 3 {
			t.Fatalf("%d SegmentDeleted events", deleted)
		}
		if sp := h.fetch("t", 0, 0, 1<<20); sp.ErrorCode != kerr.OffsetOutOfRange.Code || sp.LogStartOffset != 3 {
			t.Fatalf("fetch below log start: %s, log start %d", errName(sp.ErrorCode), sp.LogStartOffset)
		}
		if off, _, _ := h.listOffset("t", 0, -2); off != 3 {
			t.Fatalf("earliest %d", off)
		}
		// Everything expires: offsets keep counting.
		h.tick(300000)
		if start, end := h.logOffsets("t"); start != 4 || end != 4 {
			t.Fatalf("all expired: start %d end %d", start, end)
		}
		h.restart(b)
		if start, end := h.logOffsets("t"); start != 4 || end != 4 {
			t.Fatalf("after restart: start %d end %d", start, end)
		}
		if sp := h.produce("t", 0, batch(h.now, "k4", "v")); sp.BaseOffset != 4 {
			t.Fatalf("offset reused: %d", sp.BaseOffset)
		}
	})
}

func TestRetentionBySize(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		one := len(batch(t0, "k0", "v"))
		h.createTopic("t", 1, map[string]string{"segment.bytes": fmt.Sprint(one), "retention.bytes": fmt.Sprint(2 * one)})
		for i := 0; i < 5; i++ {
			h.produce("t", 0, batch(t0, fmt.Sprint("k", i), "v"))
		}
		h.tick(300000)
		start, end := h.logOffsets("t")
		// Kafka deletes the oldest segments while size - segment >= retention.bytes.
		if start != 3 || end != 5 || h.n.partition("t", 0).log.Size() != int64(2*one) {
			t.Fatalf("after size retention: start %d end %d size %d", start, end, h.n.partition("t", 0).log.Size())
		}
	})
}
