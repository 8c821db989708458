package storage

import (
	"bytes"
	"testing"
)

// TestMemoryChunks: many small appends are a few chunks (objects for the
// garbage collector to mark), and read back as written, also after a
// truncation in the middle of a chunk.
func TestMemoryChunks(t *testing.T) {
	m := NewMemory()
	var want []byte
	for i := range 2000 {
		rec := bytes.Repeat([]byte{byte(i)}, 1+i%300)
		want = append(want, rec...)
		if err := m.Append("seg", rec); err != nil {
			t.Fatal(err)
		}
	}
	if n, max := len(m.objs["seg"]), len(want)/maxChunk+8; n > max {
		t.Fatalf("%d bytes in %d chunks, want at most %d", len(want), n, max)
	}
	if got, _ := m.Read("seg"); !bytes.Equal(got, want) {
		t.Fatal("read back something else")
	}
	if err := m.Truncate("seg", 100_001); err != nil {
		t.Fatal(err)
	}
	m.Append("seg", []byte("tail"))
	want = append(want[:100_001:100_001], "tail"...)
	if got, _ := m.Read("seg"); !bytes.Equal(got, want) {
		t.Fatal("read back something else after a truncation")
	}
}
