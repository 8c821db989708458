package partlog_test

import (
	"testing"

	"github.com/streamlab/streamlab/core/partlog"
	"github.com/streamlab/streamlab/core/record"
)

// TestCompactKeepsCodec: the cleaner rewrites a batch with the records it
// keeps in the batch's own codec (LogCleaner.buildRetainedRecordsInto), and
// the result decodes.
func TestCompactKeepsCodec(t *testing.T) {
	for _, c := range []record.Compression{record.Gzip, record.Snappy, record.LZ4, record.Zstd} {
		l := partlog.New(dir, compactCfg(1))
		b := record.Build(record.Batch{Compression: c, Records: []record.Record{
			{Timestamp: t0, Key: []byte("k1"), Value: []byte("a")},
			{Timestamp: t0 + 7, Key: []byte("k2"), Value: []byte("b")},
		}})
		add(t, l, b, t0)
		add(t, l, kvBatch(t0, "k1=c"), t0)
		add(t, l, kvBatch(t0, "k9=z"), t0)
		l.Compact(t0, l.LogEndOffset())
		checked := false
		l.Batches(0, func(b partlog.Batch) bool {
			h := header(t, b.Raw)
			recs, err := record.StoredRecords(h)
			if err != nil {
				t.Fatalf("%v: the cleaned batch does not decode: %v", c, err)
			}
			if got := record.CompressionOf(h.Attributes); got != c {
				t.Errorf("%v: the cleaned batch is %v", c, got)
			}
			if len(recs) != 1 || string(recs[0].Key) != "k2" || string(recs[0].Value) != "b" {
				t.Errorf("%v: the cleaned batch keeps %v, want only k2=b", c, recs)
			}
			checked = true
			return false
		})
		if !checked {
			t.Fatalf("%v: no batch left", c)
		}
	}
}
