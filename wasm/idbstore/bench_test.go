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
		b.Run(prefix+"raw-put", func(b *testing.B) { benchRaw(b, data, 1) })
		b.Run(prefix+"raw-16-per-txn", func(b *testing.B) { benchRaw(b, data, 16) })
	}
}

// benchRaw puts data b.N times into a plain object store, perTxn puts per
// transaction, each transaction awaited until complete.
func benchRaw(b *testing.B, data []byte, perTxn int) {
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
	defer db.Close()
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
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := range b.N {
		if txn == nil {
			if txn, err = db.Transaction(idb.TransactionReadWrite, "raw"); err != nil {
				b.Fatal(err)
			}
			if st, err = txn.ObjectStore("raw"); err != nil {
				b.Fatal(err)
			}
		}
		v := uint8Array.New(len(data))
		js.CopyBytesToJS(v, data)
		if _, err := st.PutKey(js.ValueOf(i), v); err != nil {
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
