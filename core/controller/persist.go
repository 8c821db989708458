package controller

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/storage"
)

// A voter keeps its raft state in three objects, named after Kafka's
// metadata log directory:
//
//	__cluster_metadata-0/quorum-state         the raft HardState (term, vote, commit), replaced on change
//	__cluster_metadata-0/raft.log             the raft entries after the snapshot, appended, cut on conflict
//	__cluster_metadata-0/snapshot.checkpoint  the last snapshot (the image as records), replaced
//
// Each holds frames: length u32, CRC-32C of the payload u32 (big endian),
// then the payload, a protobuf raftpb message. Writes go out through
// Ready.Writes, before the raft messages that depend on them.
const (
	metaDir      = "__cluster_metadata-0"
	stateName    = metaDir + "/quorum-state"
	logName      = metaDir + "/raft.log"
	snapshotName = metaDir + "/snapshot.checkpoint"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendFrame(b []byte, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// nextFrame returns the payload of the frame at the start of b and the size
// of the frame, or ok=false if b does not start with a whole, valid frame.
func nextFrame(b []byte) (payload []byte, size int, ok bool) {
	if len(b) < 8 {
		return nil, 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-8) {
		return nil, 0, false
	}
	payload = b[8 : 8+n]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return nil, 0, false
	}
	return payload, 8 + int(n), true
}

func marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("controller: marshal %T: %v", m, err)) // only for invalid UTF-8 in proto3 strings: none here
	}
	return b
}

// readFramed reads an object that holds one frame: ok=false if it is missing.
func readFramed(store storage.Store, name string, m proto.Message) (bool, error) {
	b, err := store.Read(name)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	payload, size, ok := nextFrame(b)
	if !ok || size != len(b) {
		return false, fmt.Errorf("controller: %s is corrupt", name)
	}
	return true, proto.Unmarshal(payload, m)
}

// recovered is what Open found in a store.
type recovered struct {
	snap    *pb.Snapshot // nil if none
	hs      *pb.HardState
	entries []*pb.Entry
	offsets []int64 // byte offset of each entry's frame in raft.log
	size    int64   // bytes of valid frames in raft.log
	cut     int64   // bytes of an invalid tail after them
}

func recoverStore(store storage.Store) (*recovered, error) {
	rec := &recovered{hs: &pb.HardState{}}
	snap := &pb.Snapshot{}
	if ok, err := readFramed(store, snapshotName, snap); err != nil {
		return nil, err
	} else if ok {
		rec.snap = snap
	}
	if _, err := readFramed(store, stateName, rec.hs); err != nil {
		return nil, err
	}
	b, err := store.Read(logName)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	next := rec.snap.GetMetadata().GetIndex() + 1
	for off := 0; off < len(b); {
		payload, size, ok := nextFrame(b[off:])
		e := &pb.Entry{}
		if !ok || proto.Unmarshal(payload, e) != nil || e.GetIndex() > next {
			break // a torn or corrupt tail (or a gap): cut it off
		}
		if e.GetIndex() == next { // older entries were compacted into the snapshot
			rec.entries = append(rec.entries, e)
			rec.offsets = append(rec.offsets, int64(off))
			next++
		}
		off += size
		rec.size = int64(off)
	}
	rec.cut = int64(len(b)) - rec.size
	return rec, nil
}

// persist turns a raft Ready into storage writes, in the order raft needs:
// a snapshot, then entries, then the HardState that may commit them. It
// keeps the MemoryStorage in step.
func (c *Controller) persist(rd raft.Ready) {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := c.ms.ApplySnapshot(rd.Snapshot); err != nil {
			panic(fmt.Sprintf("controller: apply snapshot: %v", err))
		}
		c.writes = append(c.writes,
			storage.Write{Op: storage.OpPut, Name: snapshotName, Data: appendFrame(nil, marshal(rd.Snapshot))},
			storage.Write{Op: storage.OpPut, Name: logName, Data: []byte{}})
		c.logFirst, c.offsets, c.logSize = rd.Snapshot.GetMetadata().GetIndex()+1, nil, 0
		c.loadSnapshot(rd.Snapshot)
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].GetIndex()
		if k := first - c.logFirst; first >= c.logFirst && k < uint64(len(c.offsets)) {
			// A new leader overwrote our uncommitted tail.
			c.logSize = c.offsets[k]
			c.offsets = c.offsets[:k]
			c.writes = append(c.writes, storage.Write{Op: storage.OpTruncate, Name: logName, Size: c.logSize, Sync: rd.MustSync})
		}
		var buf []byte
		for _, e := range rd.Entries {
			c.offsets = append(c.offsets, c.logSize+int64(len(buf)))
			buf = appendFrame(buf, marshal(e))
		}
		c.logSize += int64(len(buf))
		c.writes = append(c.writes, storage.Write{Op: storage.OpAppend, Name: logName, Data: buf, Sync: rd.MustSync})
		if err := c.ms.Append(rd.Entries); err != nil {
			panic(fmt.Sprintf("controller: append: %v", err))
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := c.ms.SetHardState(rd.HardState); err != nil {
			panic(fmt.Sprintf("controller: hard state: %v", err))
		}
		c.writes = append(c.writes, storage.Write{Op: storage.OpPut, Name: stateName, Data: appendFrame(nil, marshal(rd.HardState))})
	}
}

// maybeSnapshot snapshots the image every SnapshotEvery applied entries,
// compacts the raft log and rewrites raft.log without the compacted part.
// A lagging voter then catches up from the snapshot (MsgSnap).
func (c *Controller) maybeSnapshot() {
	if c.cfg.SnapshotEvery < 0 || c.applied < c.snapIndex+uint64(c.cfg.SnapshotEvery) {
		return
	}
	snap, err := c.ms.CreateSnapshot(c.applied, c.confState(), EncodeBatch(c.image.Records()))
	if err != nil {
		panic(fmt.Sprintf("controller: snapshot: %v", err))
	}
	if err := c.ms.Compact(c.applied); err != nil {
		panic(fmt.Sprintf("controller: compact: %v", err))
	}
	var ents []*pb.Entry
	if last, _ := c.ms.LastIndex(); last > c.applied {
		if ents, err = c.ms.Entries(c.applied+1, last+1, 1<<62); err != nil {
			panic(fmt.Sprintf("controller: entries: %v", err))
		}
	}
	var buf []byte
	c.offsets = c.offsets[:0]
	for _, e := range ents {
		c.offsets = append(c.offsets, int64(len(buf)))
		buf = appendFrame(buf, marshal(e))
	}
	c.logFirst, c.logSize, c.snapIndex = c.applied+1, int64(len(buf)), c.applied
	c.writes = append(c.writes,
		storage.Write{Op: storage.OpPut, Name: snapshotName, Data: appendFrame(nil, marshal(snap))},
		storage.Write{Op: storage.OpPut, Name: logName, Data: buf})
}

// loadSnapshot replaces the image with a snapshot's.
func (c *Controller) loadSnapshot(snap *pb.Snapshot) {
	recs, err := DecodeBatch(snap.GetData())
	if err != nil {
		panic(fmt.Sprintf("controller: snapshot: %v", err))
	}
	idx := snap.GetMetadata().GetIndex()
	im := NewImage()
	if _, err := im.Apply(int64(idx), recs...); err != nil {
		panic(fmt.Sprintf("controller: snapshot: %v", err))
	}
	c.image, c.applied, c.snapIndex = im, idx, idx
	c.events = append(c.events, core.MetadataApplied{Offset: int64(idx), Epoch: int64(snap.GetMetadata().GetTerm()),
		Records: []string{fmt.Sprintf("snapshot: %d brokers, %d topics", len(im.brokers), len(im.topics))},
		CRC:     crc32.Checksum(snap.GetData(), castagnoli), Snapshot: true})
}
