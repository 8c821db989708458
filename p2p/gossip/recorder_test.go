package gossip

import (
	"strings"
	"testing"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/mesh"
)

// A Recorder keeps the newest notable events and record traffic apart,
// skips the messages and the metadata log's records, tells them in words
// within the bounds, oldest first.
func TestRecorder(t *testing.T) {
	r := NewRecorder(func(ev core.Event) (string, string) {
		if _, ok := ev.(core.ReplicaRoleChanged); ok {
			return "ReplicaRoleChanged", strings.Repeat("é", maxText) // cut on a rune
		}
		return "RecordAcked", "acked"
	})
	r.Record(mesh.Event{Node: 2, Fault: "broker 2 killed"}, 1)
	r.Record(mesh.Event{Node: 2, Core: []core.Event{core.IsrChanged{}, core.MessageSent{}, core.ReplicaRoleChanged{}}}, 2)
	for i := range 3 * shareTraffic {
		r.Record(mesh.Event{Node: 2001, Core: []core.Event{core.RecordAcked{Offset: int64(i)}}}, int64(3+i))
	}
	got := r.Told()
	if len(got) != 2+shareTraffic {
		t.Fatalf("%d events told, want %d: %+v", len(got), 2+shareTraffic, got)
	}
	if got[0].Kind != "TeacherFault" || got[1].Kind != "ReplicaRoleChanged" || got[2].Kind != "RecordAcked" || got[2].Node != 2001 {
		t.Errorf("kinds %q %q %q", got[0].Kind, got[1].Kind, got[2].Kind)
	}
	if len(got[1].Text) > maxText || !strings.HasPrefix(got[1].Text, "é") || strings.ContainsRune(got[1].Text, '\uFFFD') {
		t.Errorf("a %d-byte text, not cut on a rune within %d", len(got[1].Text), maxText)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("not oldest first: %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
	st := State{Broker: 2, Events: got}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b, 2); err != nil {
		t.Errorf("what a Recorder tells does not decode: %v", err)
	}
}
