//go:build js && wasm

package live

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/server"
	"github.com/streamlab/streamlab/wasm/idbstore"
	"github.com/streamlab/streamlab/wasm/webrtctest"
)

// TestCorruptChunkRefetch: "corruption found on read (CRC) is reported and
// the replica re-fetches from the leader". Three members, orders RF=3 with
// one partition, 300 records acked; a follower is closed, one chunk row of
// its partition's segment is changed in IndexedDB behind its back, and it
// joins again with the same id. Two kinds of damage, one after the other:
//
//  1. a byte flipped in the stored row, as the disk (or anything else)
//     might: idbstore's chunk CRC-32C catches it on read;
//  2. a row rewritten with a valid chunk around a batch whose Kafka CRC no
//     longer matches (the store's check passes; partlog's recovery
//     catches it), to see the broker's own recovery path end to end.
//
// For each: the member must start, report the damage as a LogRecovered
// event, fetch what it lost from the leader (its log end offset back at the
// leader's), be back in the ISR, and hold the acknowledged records intact.
func TestCorruptChunkRefetch(t *testing.T) {
	webrtctest.AllowLocalCandidates(t)
	cluster := fmt.Sprintf("corrupttest%d", time.Now().UnixNano())
	obs := &observer{acked: map[string]record{}, read: map[string]bool{}}
	var emu sync.Mutex
	var recovered []core.LogRecovered
	var storageFailed []string
	cfg := Config{
		Cluster: cluster,
		Configure: func(c *server.Config) {
			c.Controller.SessionTimeoutMs = 3000
			c.HeartbeatIntervalMs = 500
		},
		Events: func(e Event) {
			obs.event(e)
			for _, ev := range e.Core {
				switch ev := ev.(type) {
				case core.LogRecovered:
					emu.Lock()
					recovered = append(recovered, ev)
					emu.Unlock()
				case core.StorageFailed:
					emu.Lock()
					storageFailed = append(storageFailed, fmt.Sprintf("broker %d: %s", e.Node, ev.Err))
					emu.Unlock()
				}
			}
		},
		Logf: t.Logf,
	}
	join := func(id core.NodeID) (*Member, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := cfg
		c.ID = id
		return Join(ctx, c)
	}
	members := map[core.NodeID]*Member{}
	t.Cleanup(func() {
		for _, m := range members {
			m.Close()
		}
		for id := core.NodeID(1); id <= 3; id++ {
			deleteDatabase(t, DatabaseName(cluster, id))
		}
	})
	for id := core.NodeID(1); id <= 3; id++ {
		m, err := join(id)
		if err != nil {
			t.Fatal(err)
		}
		members[id] = m
	}
	waitFor(t, 90*time.Second, "the brokers to register and unfence", func() bool {
		for _, m := range members {
			if !unfenced(m) {
				return false
			}
		}
		return true
	})
	m1 := members[1]
	brokers := []core.NodeID{1, 2, 3}
	req := kmsg.NewCreateTopicsRequestTopic()
	req.Topic, req.NumPartitions, req.ReplicationFactor = topic, 1, 3
	req.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
	admin, err := m1.AddClient(func(id core.NodeID) core.Machine { return client.NewAdmin(id, brokers, req) })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the topic with 3 replicas in sync", func() bool {
		var aerr error
		admin.Do(func(mc core.Machine) { aerr = mc.(*client.Admin).Err() })
		if aerr != nil {
			t.Fatalf("creating %s: %v", topic, aerr)
		}
		for _, m := range members {
			if info := partition(m, 0); info.Leader < 0 || len(info.ISR) < 3 {
				return false
			}
		}
		return true
	})
	admin.Close()

	// Small batches (linger 0): many rows in the segment.
	prod, err := m1.AddClient(func(id core.NodeID) core.Machine {
		return client.NewProducer(client.ProducerConfig{ID: id, Bootstrap: brokers, Acks: client.AcksAll, LingerMs: -1, BatchSize: 1000, RequestTimeoutMs: 5000, Seed: uint64(id)})
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	prod.Do(func(mc core.Machine) {
		for i := range n {
			mc.(*client.Producer).Send(client.Record{Topic: topic, Partition: 0, Value: value(i)})
		}
	})
	waitAcked(t, obs, n, 90*time.Second)

	// The victim: a follower, not member 1 (which runs the clients).
	leader := core.NodeID(partition(m1, 0).Leader)
	victim := core.NodeID(3)
	if leader == 3 {
		victim = 2
	}
	t.Logf("leader of %s-0 is %d; damaging follower %d", topic, leader, victim)
	want := storedRecords(members[leader])
	if len(want) < n {
		t.Fatalf("the leader holds %d records, want %d", len(want), n)
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("broker %d to replicate everything", victim), func() bool {
		return leo(members[victim]) == leo(members[leader])
	})

	for round, damage := range []string{
		"byte flipped in the stored row (idbstore chunk CRC)",
		"valid chunk around a batch with a bad Kafka CRC (partlog recovery)",
	} {
		t.Logf("round %d: %s", round+1, damage)
		if m := members[victim]; m != nil {
			m.Close()
			delete(members, victim)
		}
		db := DatabaseName(cluster, victim)
		seg := fmt.Sprintf("logs/%s-0/%020d.log", topic, 0)
		rows := rawRows(t, db, seg)
		// A row in the middle with a batch in it.
		var full []uint64
		for _, r := range rows {
			if len(r.value) > 9+61 {
				full = append(full, r.seq)
			}
		}
		if len(full) < 3 {
			t.Fatalf("segment %s has %d rows with a batch (%d rows in all), want 3 or more", seg, len(full), len(rows))
		}
		seq := full[len(full)/2]
		var row []byte
		for _, r := range rows {
			if r.seq == seq {
				row = slices.Clone(r.value)
			}
		}
		if round == 0 {
			row[len(row)-20] ^= 0x40
		} else {
			// Undo round 1 first if the row still holds it: a chunk of
			// the payload the leader's log has at the same place is
			// not known here, so flip the byte back, check the chunk
			// CRC, and then damage the batch inside a valid chunk.
			if _, err := decodeTestChunk(seg, seq, row); err != nil {
				row[len(row)-20] ^= 0x40
			}
			payload, err := decodeTestChunk(seg, seq, row)
			if err != nil {
				t.Fatalf("row %d of %s: %v", seq, seg, err)
			}
			payload = slices.Clone(payload)
			payload[len(payload)-20] ^= 0x40 // inside the Kafka CRC's span
			row = encodeTestChunk(seg, seq, payload)
		}
		rawPut(t, db, seg, seq, row)
		t.Logf("round %d: changed row %d of %d of %s in %s", round+1, seq, len(rows), seg, db)

		emu.Lock()
		recovered, storageFailed = nil, nil
		emu.Unlock()
		start := time.Now()
		m, err := join(victim)
		if err != nil {
			t.Errorf("round %d (%s): broker %d does not start again: %v (errors.Is ErrCorrupt: %v)",
				round+1, damage, victim, err, errors.Is(err, idbstore.ErrCorrupt))
			continue // the row is still bad: round 2 repairs its chunk
		}
		members[victim] = m
		waitFor(t, 90*time.Second, fmt.Sprintf("round %d: broker %d back at the leader's log end offset and in the ISR", round+1, victim), func() bool {
			info := partition(m1, 0)
			l := members[core.NodeID(info.Leader)]
			return l != nil && leo(m) == leo(l) && slices.Contains(info.ISR, int32(victim))
		})
		t.Logf("figure: round %d: broker %d reopened and back in the ISR in %v", round+1, victim, time.Since(start).Round(time.Millisecond))
		emu.Lock()
		recs, fails := slices.Clone(recovered), slices.Clone(storageFailed)
		emu.Unlock()
		if len(fails) > 0 {
			t.Errorf("round %d: storage failures: %v", round+1, fails)
		}
		var mine []core.LogRecovered
		for _, r := range recs {
			if r.Topic == topic && strings.HasPrefix(r.Segment, "logs/") {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			t.Errorf("round %d: no LogRecovered event for %s-0 (events: %+v)", round+1, topic, recs)
		} else {
			t.Logf("round %d: reported %+v", round+1, mine)
		}
		got := storedRecords(m)
		if len(got) < len(want) {
			t.Errorf("round %d: broker %d holds %d records after catching up, want %d", round+1, victim, len(got), len(want))
		}
		for off, v := range want {
			if got[off] != v {
				t.Errorf("round %d: broker %d has %q at offset %d, the leader %q", round+1, victim, got[off], off, v)
				break
			}
		}
	}
}

func leo(m *Member) int64 {
	out := int64(-1)
	m.Server(func(s *server.Server) {
		if info, ok := s.Broker().Partition(topic, 0); ok {
			out = info.LogEndOffset
		}
	})
	return out
}

// storedRecords is partition 0's log of m, by offset.
func storedRecords(m *Member) map[int64]string {
	out := map[int64]string{}
	m.Server(func(s *server.Server) {
		for _, r := range s.Broker().Records(topic, 0, 0, 1<<30) {
			out[r.Offset] = string(r.Value)
		}
	})
	return out
}

type rawRow struct {
	seq   uint64
	value []byte
}

func openRaw(t *testing.T, database string) *idb.Database {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := idb.Global().Open(ctx, database, 0, func(*idb.Database, uint, uint) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	db, err := req.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// rawRows reads the chunk rows of object name, as stored.
func rawRows(t *testing.T, database, name string) []rawRow {
	t.Helper()
	db := openRaw(t, database)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	txn, err := db.Transaction(idb.TransactionReadOnly, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	st, err := txn.ObjectStore("chunks")
	if err != nil {
		t.Fatal(err)
	}
	r, err := idb.NewKeyRangeBound(js.ValueOf([]any{name, 0}), js.ValueOf([]any{name, js.Global().Get("Infinity")}), false, false)
	if err != nil {
		t.Fatal(err)
	}
	req, err := st.OpenCursorRange(r, idb.CursorNext)
	if err != nil {
		t.Fatal(err)
	}
	var rows []rawRow
	err = req.Iter(ctx, func(c *idb.CursorWithValue) error {
		k, err := c.Key()
		if err != nil {
			return err
		}
		v, err := c.Value()
		if err != nil {
			return err
		}
		b := make([]byte, v.Length())
		js.CopyBytesToGo(b, v)
		rows = append(rows, rawRow{seq: uint64(k.Index(1).Float()), value: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// rawPut stores value as row (name, seq).
func rawPut(t *testing.T, database, name string, seq uint64, value []byte) {
	t.Helper()
	db := openRaw(t, database)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	txn, err := db.Transaction(idb.TransactionReadWrite, "chunks")
	if err != nil {
		t.Fatal(err)
	}
	st, err := txn.ObjectStore("chunks")
	if err != nil {
		t.Fatal(err)
	}
	v := js.Global().Get("Uint8Array").New(len(value))
	js.CopyBytesToJS(v, value)
	if _, err := st.PutKey(js.ValueOf([]any{name, float64(seq)}), v); err != nil {
		t.Fatal(err)
	}
	if err := txn.Await(ctx); err != nil {
		t.Fatal(err)
	}
}

// The chunk format of wasm/idbstore/format.go, redone here (it is not
// exported): version, CRC-32C of name, seq, version, length and payload,
// length, payload.
var testCastagnoli = crc32.MakeTable(crc32.Castagnoli)

func testChunkCRC(name string, seq uint64, b []byte) uint32 {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], seq)
	c := crc32.Update(0, testCastagnoli, []byte(name))
	c = crc32.Update(c, testCastagnoli, key[:])
	c = crc32.Update(c, testCastagnoli, b[:1])
	return crc32.Update(c, testCastagnoli, b[5:])
}

func encodeTestChunk(name string, seq uint64, payload []byte) []byte {
	b := []byte{1, 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	binary.BigEndian.PutUint32(b[1:], testChunkCRC(name, seq, b))
	return b
}

func decodeTestChunk(name string, seq uint64, b []byte) ([]byte, error) {
	if len(b) < 9 || b[0] != 1 || int(binary.BigEndian.Uint32(b[5:9])) != len(b)-9 {
		return nil, errors.New("bad chunk header")
	}
	if binary.BigEndian.Uint32(b[1:5]) != testChunkCRC(name, seq, b) {
		return nil, errors.New("bad chunk CRC")
	}
	return b[9:], nil
}
