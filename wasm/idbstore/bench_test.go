//go:build js && wasm

package idbstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall/js"
	"testing"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/streamlab/streamlab/core/storage"
)

var benchSizes = []int{16 << 10, 1 << 20}

func benchData(size int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// BenchmarkAppend is the persistence throughput of a partition's appends:
// the store (Append: encode, checksum, one put, wait for the commit) next to
// raw IndexedDB puts of the same bytes, one transaction per put as the store
// does and 16 puts per transaction (IndexedDB's best case). Put is the store's
// strict-durability write (flushed to disk before it returns).
//
// store-apply-8 is the host's path for a Ready of 8 appends: storage.Apply,
// which hands them to the store's ApplyBatch, one transaction for the 8;
// raw-8-per-txn is the same puts with plain IndexedDB, for comparison.
func BenchmarkAppend(b *testing.B) {
	for _, size := range benchSizes {
		data := benchData(size)
		prefix := fmt.Sprintf("batch=%dKiB/", size>>10)
		b.Run(prefix+"store-append", func(b *testing.B) {
			s := mustOpen(b, newDatabase(b))
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if err := s.Append("topic-0/00000000000000000000.log", data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(prefix+"store-put", func(b *testing.B) {
			s := mustOpen(b, newDatabase(b))
			b.SetBytes(int64(size))
			b.ResetTimer()
			for range b.N {
				if err := s.Put("meta", data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(prefix+"store-apply-8", func(b *testing.B) { benchApply(b, data, 8) })
		b.Run(prefix+"raw-put", func(b *testing.B) { benchRaw(b, data, 1) })
		b.Run(prefix+"raw-8-per-txn", func(b *testing.B) { benchRaw(b, data, 8) })
		b.Run(prefix+"raw-16-per-txn", func(b *testing.B) { benchRaw(b, data, 16) })
	}
}

// benchApply appends data b.N times to one object through storage.Apply,
// perReady appends per call (the writes of one Ready).
func benchApply(b *testing.B, data []byte, perReady int) {
	s := mustOpen(b, newDatabase(b))
	writes := make([]storage.Write, perReady)
	for i := range writes {
		writes[i] = storage.Write{Op: storage.OpAppend, Name: "topic-0/00000000000000000000.log", Data: data}
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i += perReady {
		if err := storage.Apply(s, writes[:min(perReady, b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRaw puts data b.N times into a plain object store, perTxn puts per
// transaction, each transaction awaited until complete.
func benchRaw(b *testing.B, data []byte, perTxn int) {
	db := openRaw(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	rawPuts(b, db, data, 0, b.N, perTxn)
}

// openRaw opens a new database with one plain object store, "raw", closed
// when the benchmark ends.
func openRaw(b *testing.B) *idb.Database {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := idb.Global().Open(ctx, newDatabase(b), 1, func(db *idb.Database, _, _ uint) error {
		_, err := db.CreateObjectStore("raw", idb.ObjectStoreOptions{})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// rawPuts puts data n times into db's "raw" store under keys first,
// first+1, ..., perTxn puts per transaction, each awaited until complete.
func rawPuts(b *testing.B, db *idb.Database, data []byte, first, n, perTxn int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var txn *idb.Transaction
	var st *idb.ObjectStore
	commit := func() {
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := txn.Await(ctx); err != nil {
			b.Fatal(err)
		}
		txn = nil
	}
	for i := range n {
		if txn == nil {
			var err error
			if txn, err = db.Transaction(idb.TransactionReadWrite, "raw"); err != nil {
				b.Fatal(err)
			}
			if st, err = txn.ObjectStore("raw"); err != nil {
				b.Fatal(err)
			}
		}
		v := uint8Array.New(len(data))
		js.CopyBytesToJS(v, data)
		if _, err := st.PutKey(js.ValueOf(first+i), v); err != nil {
			b.Fatal(err)
		}
		if (i+1)%perTxn == 0 {
			commit()
		}
	}
	if txn != nil {
		commit()
	}
}

// BenchmarkPersistence compares, in one run and interleaved (so that a
// busy machine slows them alike), the store's appends of 16 KiB one per
// call (store-append, one transaction each), the same appends through
// storage.Apply 8 per call (store-apply-8: a Ready of 8 writes, one
// transaction), and raw IndexedDB puts of the same bytes 8 and 16 per
// transaction. Each iteration writes 64 appends with each; the metrics are
// each one's MB/s over the whole run, and store-apply-8's share of the raw
// batched puts' throughput (the target: at least 50%).
func BenchmarkPersistence(b *testing.B) {
	const size, round = 16 << 10, 64
	data := benchData(size)
	const log = "topic-0/00000000000000000000.log"
	one, batched := mustOpen(b, newDatabase(b)), mustOpen(b, newDatabase(b))
	raw8, raw16 := openRaw(b), openRaw(b)
	writes := make([]storage.Write, 8)
	for i := range writes {
		writes[i] = storage.Write{Op: storage.OpAppend, Name: log, Data: data}
	}
	names := []string{"store-append", "store-apply-8", "raw-8-per-txn", "raw-16-per-txn"}
	runs := []func(i int){
		func(int) {
			for range round {
				if err := one.Append(log, data); err != nil {
					b.Fatal(err)
				}
			}
		},
		func(int) {
			for range round / len(writes) {
				if err := storage.Apply(batched, writes); err != nil {
					b.Fatal(err)
				}
			}
		},
		func(i int) { rawPuts(b, raw8, data, i*round, round, 8) },
		func(i int) { rawPuts(b, raw16, data, i*round, round, 16) },
	}
	spent := make([]time.Duration, len(runs))
	b.ResetTimer()
	for i := range b.N {
		for k := range runs {
			j := (i + k) % len(runs) // each goes first in turn
			start := time.Now()
			runs[j](i)
			spent[j] += time.Since(start)
		}
	}
	b.StopTimer()
	mbs := make([]float64, len(runs))
	for j, d := range spent {
		mbs[j] = float64(b.N*round*size) / 1e6 / d.Seconds()
		b.ReportMetric(mbs[j], names[j]+"-MB/s")
	}
	b.ReportMetric(100*mbs[1]/mbs[2], "apply-8/raw-8-%")
	b.ReportMetric(100*mbs[1]/mbs[3], "apply-8/raw-16-%")
	b.ReportMetric(100*mbs[0]/mbs[2], "append/raw-8-%")
}

// BenchmarkRead is recovery: reading back a 16 MiB object written in
// batch-sized appends (one cursor step per chunk).
func BenchmarkRead(b *testing.B) {
	const total = 16 << 20
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("batch=%dKiB", size>>10), func(b *testing.B) {
			s := mustOpen(b, newDatabase(b))
			data := benchData(size)
			for range total / size {
				if err := s.Append("log", data); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				if got, err := s.Read("log"); err != nil || len(got) != total {
					b.Fatalf("Read: %d bytes, %v", len(got), err)
				}
			}
		})
	}
}
