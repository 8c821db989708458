package gossip

import (
	"cmp"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/p2p/mesh"
)

// Recorder keeps a member's newest events for State.Events: the newest
// notable ones and the newest record traffic (which would crowd them out),
// without the messages and the metadata log's records (every voter reports
// those, so each member has them already). It is safe for concurrent use.
type Recorder struct {
	tell func(core.Event) (kind, text string)

	mu               sync.Mutex
	seq              uint64
	notable, traffic []recorded
}

type recorded struct {
	Told
	ev core.Event // told in words only when shared
}

// How many of each a State carries.
const (
	shareNotable = 12
	shareTraffic = 8
)

// NewRecorder is a Recorder that puts events in words with tell.
func NewRecorder(tell func(core.Event) (kind, text string)) *Recorder {
	return &Recorder{tell: tell}
}

// Record keeps what a mesh member reported at now (Unix ms).
func (r *Recorder) Record(e mesh.Event, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Fault != "" {
		r.seq++
		r.notable = keep(r.notable, recorded{Told: Told{Seq: r.seq, Time: now, Node: e.Node, Kind: "TeacherFault", Text: "the teacher's fault: " + e.Fault}}, shareNotable)
	}
	for _, ev := range e.Core {
		switch ev.(type) {
		case core.MessageSent, core.MessageDelivered, core.BrokerRegistered, core.BrokerFenced, core.BrokerUnfenced,
			core.PartitionLeaderChanged, core.IsrChanged, core.ControllerElected, core.ControllerResigned:
			continue
		}
		r.seq++
		rec := recorded{Told: Told{Seq: r.seq, Time: now, Node: e.Node}, ev: ev}
		if Traffic(ev) {
			r.traffic = keep(r.traffic, rec, shareTraffic)
		} else {
			r.notable = keep(r.notable, rec, shareNotable)
		}
	}
}

// Told is the events kept, oldest first, in words.
func (r *Recorder) Told() []Told {
	r.mu.Lock()
	all := append(append([]recorded(nil), r.notable...), r.traffic...)
	r.mu.Unlock()
	out := make([]Told, 0, len(all))
	for _, rec := range all {
		t := rec.Told
		if rec.ev != nil {
			t.Kind, t.Text = r.tell(rec.ev)
		}
		t.Kind, t.Text = cutText(t.Kind, maxKind), cutText(t.Text, maxText)
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Told) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// Traffic reports whether ev is record traffic: the records produced,
// appended, acknowledged, consumed, committed, and the failures on the way.
func Traffic(ev core.Event) bool {
	switch ev.(type) {
	case core.RecordAcked, core.RecordConsumed, core.RecordPartitioned, core.RecordsAppended,
		core.HighWatermarkAdvanced, core.OffsetCommitted, core.RequestFailed, core.ProduceRetried:
		return true
	}
	return false
}

func keep(list []recorded, r recorded, n int) []recorded {
	list = append(list, r)
	if len(list) > n {
		list = append(list[:0], list[len(list)-n:]...)
	}
	return list
}

// cutText keeps s to n bytes, on a rune boundary.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
