package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
)

func TestCompactionConfigs(t *testing.T) {
	b := DefaultConfig(1)
	for _, tc := range []struct {
		configs map[string]string
		err     string // a substring of the error, "" for valid
		check   func(partlog.Config) bool
	}{
		{nil, "", func(c partlog.Config) bool {
			return c.CleanupPolicy == partlog.Delete && c.MinCleanableDirtyRatio == 0.5 && c.DeleteRetentionMs == 86400000 &&
				c.MinCompactionLagMs == 0 && c.MaxCompactionLagMs == 1<<63-1
		}},
		{map[string]string{"cleanup.policy": "compact"}, "", func(c partlog.Config) bool {
			return c.CleanupPolicy.Compacts() && !c.CleanupPolicy.Deletes()
		}},
		{map[string]string{"cleanup.policy": "compact, delete"}, "", func(c partlog.Config) bool {
			return c.CleanupPolicy.Compacts() && c.CleanupPolicy.Deletes()
		}},
		{map[string]string{"cleanup.policy": "delete,compact"}, "", func(c partlog.Config) bool {
			return c.CleanupPolicy.String() == "compact,delete"
		}},
		{map[string]string{"min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0", "min.compaction.lag.ms": "5", "max.compaction.lag.ms": "5"}, "", func(c partlog.Config) bool {
			return c.MinCleanableDirtyRatio == 0.01 && c.DeleteRetentionMs == 0 && c.MinCompactionLagMs == 5 && c.MaxCompactionLagMs == 5
		}},
		{map[string]string{"cleanup.policy": "Compact"}, "Invalid value Compact for configuration cleanup.policy: String must be one of: compact, delete", nil},
		{map[string]string{"cleanup.policy": ""}, "String must be one of: compact, delete", nil},
		{map[string]string{"min.cleanable.dirty.ratio": "1.5"}, "Invalid value 1.5 for configuration min.cleanable.dirty.ratio: Value must be no more than 1", nil},
		{map[string]string{"min.cleanable.dirty.ratio": "-0.1"}, "Value must be at least 0", nil},
		{map[string]string{"min.cleanable.dirty.ratio": "half"}, "Not a number of type DOUBLE", nil},
		{map[string]string{"delete.retention.ms": "-1"}, "Invalid value -1 for configuration delete.retention.ms: Value must be at least 0", nil},
		{map[string]string{"min.compaction.lag.ms": "-1"}, "Value must be at least 0", nil},
		{map[string]string{"max.compaction.lag.ms": "0"}, "Invalid value 0 for configuration max.compaction.lag.ms: Value must be at least 1", nil},
		{map[string]string{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"}, "conflict topic config setting min.compaction.lag.ms (10) > max.compaction.lag.ms (5)", nil},
	} {
		tc2, err := parseTopicConfig(tc.configs, b)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.configs, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", tc.configs, err, tc.err)
		case tc.err == "" && !tc.check(tc2.log):
			t.Errorf("%v: %+v", tc.configs, tc2.log)
		}
	}
	tc, _ := parseTopicConfig(map[string]string{"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "1"}, b)
	eff := tc.effective()
	if eff["cleanup.policy"] != "compact" || eff["min.cleanable.dirty.ratio"] != "1.0" || eff["delete.retention.ms"] != "86400000" ||
		eff["max.compaction.lag.ms"] != "9223372036854775807" || eff["min.compaction.lag.ms"] != "0" {
		t.Errorf("effective %v", eff)
	}
}

// A compacted topic through the broker: duplicate keys are produced, the
// retention check runs the cleaner, and a fetch from 0 sees the latest value
// of every key at its original offset, before and after a restart.
func TestCompactedTopicThroughStep(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("prices", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "14"}) // one batch per segment
	for _, kv := range [][2]string{{"apple", "1"}, {"pear", "2"}, {"apple", "3"}, {"fig", "4"}, {"pear", "5"}, {"apple", "6"}} {
		if sp := h.produce("prices", 0, batch(h.now, kv[0], kv[1])); sp.ErrorCode != 0 {
			t.Fatal(errName(sp.ErrorCode))
		}
	}
	sp := h.fetch("prices", 0, 0, 1<<20)
	if offs, _ := fetchedRecords(t, sp.RecordBatches); len(offs) != 6 {
		t.Fatalf("before cleaning: %v", offs)
	}
	h.events = nil
	h.tick(h.cfg.RetentionCheckIntervalMs)
	var compacted []core.LogCompacted
	for _, e := range h.events {
		if c, ok := e.(core.LogCompacted); ok {
			compacted = append(compacted, c)
		}
	}
	if len(compacted) != 1 || compacted[0].Topic != "prices" || !slices.Equal(compacted[0].RemovedOffsets, []int64{0, 1}) ||
		compacted[0].CleanedUpTo != 5 || compacted[0].BytesAfter >= compacted[0].BytesBefore {
		t.Fatalf("compaction events %+v", compacted)
	}
	// The active segment (offset 5) is never cleaned, so apple=3 stays
	// until apple=6 leaves it.
	want := []string{"apple=3", "fig=4", "pear=5", "apple=6"}
	check := func(when string) {
		t.Helper()
		sp := h.fetch("prices", 0, 0, 1<<20)
		offs, kvs := fetchedRecords(t, sp.RecordBatches)
		if sp.ErrorCode != 0 || !slices.Equal(offs, []int64{2, 3, 4, 5}) || !slices.Equal(kvs, want) || sp.LogStartOffset != 0 || sp.HighWatermark != 6 {
			t.Fatalf("%s: fetch from 0: %s %v %v start %d hw %d", when, errName(sp.ErrorCode), offs, kvs, sp.LogStartOffset, sp.HighWatermark)
		}
		// Fetching inside the gap starts at the next batch.
		offs, _ = fetchedRecords(t, h.fetch("prices", 0, 1, 1<<20).RecordBatches)
		if !slices.Equal(offs, []int64{2, 3, 4, 5}) {
			t.Fatalf("%s: fetch from 1: %v", when, offs)
		}
		if off, _, code := h.listOffset("prices", 0, -2); code != 0 || off != 0 {
			t.Fatalf("%s: earliest %d %s", when, off, errName(code))
		}
	}
	check("after cleaning")
	h.open()
	check("after a restart")
	// Nothing new: the next check does not clean again.
	h.events = nil
	h.tick(h.cfg.RetentionCheckIntervalMs)
	for _, e := range h.events {
		if c, ok := e.(core.LogCompacted); ok {
			t.Fatalf("cleaned again with nothing dirty: %+v", c)
		}
	}
}

// A compacted topic refuses records without a key (LogValidator.validateKey).
func TestCompactedTopicRefusesNullKeys(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("c", 1, map[string]string{"cleanup.policy": "compact"})
	null := record.Build(record.Batch{Records: []record.Record{{Timestamp: 1, Value: []byte("v")}}})
	if sp := h.produce("c", 0, null); sp.ErrorCode != kerr.InvalidRecord.Code {
		t.Fatalf("null key on a compacted topic: %s", errName(sp.ErrorCode))
	}
	if sp := h.produce("c", 0, batch(1, "k", "v")); sp.ErrorCode != 0 {
		t.Fatalf("keyed record: %s", errName(sp.ErrorCode))
	}
}
