package ui

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/controller"
	"github.com/streamlab/streamlab/core/lab"
	"github.com/streamlab/streamlab/core/record"
	"github.com/streamlab/streamlab/core/sim"
)

// Inspected is what the inspector shows: a message (a copy taken when it
// was clicked: it is delivered a few frames later), a broker, a partition
// or a consumer group member (read afresh from the lab at each redraw).
type Inspected struct {
	What      string // "message", "broker", "partition" or "member"
	Flight    sim.Flight
	Broker    core.NodeID
	Partition int32
	Member    core.NodeID
}

// inspectAction is the go-app action a click on something inspectable
// posts, with an Inspected as its value; the page handles it. An action
// spares passing a callback down through every component in between.
const inspectAction = "inspect"

func inspect(ctx app.Context, s Inspected) { ctx.NewActionWithValue(inspectAction, s) }

// flightKey names a message for the Network view's highlight.
func flightKey(f sim.Flight) string {
	e := f.Envelope
	return fmt.Sprintf("%d/%d/%d/%d/%d/%t/%d", f.SentAt, e.From, e.To, e.CorrelationID, e.Key(), e.Request != nil, len(e.Raft))
}

// Inspector is the side panel that shows one message, broker, partition or
// group member in full.
//
// For the e2e tests: the panel is #inspector with data-what; a message's
// has data-api (the API name) and data-version; a member's has data-member
// (c-n, as the group card's .member) and data-gone="true" once the member
// left its group.
type Inspector struct {
	app.Compo
	Lab *lab.Lab
	Sel *Inspected
	// Version is the lab's Version for a broker or a partition (their state
	// changes with notable events), 0 for a message, which never changes:
	// go-app redraws a child only when one of its exported fields changes,
	// and the tree is the dearest thing on the page to draw.
	Version uint64
	// Now is the virtual time in the group panel's steps for a member, 0
	// otherwise: a consumer's own state (its position, what it processed,
	// its MemberState) moves without a notable event, and the panel must
	// agree with the group card beside it, which follows the clock.
	Now     int64
	onClose func() // unexported: see Clock
}

// Render draws the panel.
func (in *Inspector) Render() app.UI {
	s := in.Sel
	if s == nil {
		return app.Div()
	}
	sec := app.Section().ID("inspector").Class("inspector card").DataSet("what", s.What)
	head := app.Div().Class("section-head").Body(
		app.H2().Text("Inspector"),
		app.Button().ID("inspector-close").Class("secondary").Text("Close").
			OnClick(func(app.Context, app.Event) { in.onClose() }),
	)
	switch s.What {
	case "message":
		e := s.Flight.Envelope
		if e.Raft != nil {
			return sec.DataSet("api", "raft").Body(head,
				app.P().Class("route").Text(fmt.Sprintf("%s → %s", nodeName(e.From), nodeName(e.To))),
				app.P().Class("mono").Text("raft "+controller.DescribeRaft(e.Raft)),
				app.P().Class("hint").Text(fmt.Sprintf("%d bytes of etcd raft protobuf between controller voters: the quorum's own protocol, not Kafka's.", len(e.Raft))),
			)
		}
		var msg any = e.Request
		kind, version := "request", int16(0)
		if e.Request != nil {
			version = e.Request.GetVersion()
		} else if e.Response != nil {
			msg, kind, version = e.Response, "response", e.Response.GetVersion()
		}
		api := core.APIName(e.Key())
		w := walker{budget: maxTreeNodes}
		return sec.DataSet("api", api).DataSet("version", version).DataSet("kind", kind).Body(head,
			app.P().Class("route").Text(fmt.Sprintf("%s → %s", nodeName(e.From), nodeName(e.To))),
			app.P().Class("mono").Text(fmt.Sprintf("%s %s v%d · correlation id %d · client.id %q", api, kind, version, e.CorrelationID, e.ClientID)),
			app.Div().Class("tree").Body(w.node(api+" "+kind, reflect.ValueOf(msg), 0)),
		)
	case "broker":
		for _, b := range in.Lab.Brokers() {
			if b.ID != s.Broker {
				continue
			}
			var replicas []lab.ReplicaView
			for _, pv := range in.Lab.PartitionViews() {
				if i := int(s.Broker) - 1; i >= 0 && i < len(pv.Brokers) && pv.Brokers[i].Holds {
					replicas = append(replicas, pv.Brokers[i])
				}
			}
			w := walker{budget: maxTreeNodes}
			return sec.Body(head, app.Div().Class("tree").Body(
				w.node(fmt.Sprintf("broker %d", s.Broker), reflect.ValueOf(b), 0),
				w.node("replicas it holds", reflect.ValueOf(replicas), 0)))
		}
	case "partition":
		for _, pv := range in.Lab.PartitionViews() {
			if pv.Partition == s.Partition {
				w := walker{budget: maxTreeNodes}
				return sec.Body(head, app.Div().Class("tree").Body(
					w.node(tp(in.Lab.Topic(), pv.Partition), reflect.ValueOf(pv), 0)))
			}
		}
	case "member":
		name, _ := lab.MemberName(s.Member)
		sec = sec.DataSet("member", name)
		for _, g := range in.Lab.Groups() {
			for _, m := range g.Members {
				if m.ID == s.Member {
					return sec.Body(append([]app.UI{head}, in.member(g, m)...)...)
				}
			}
		}
		// Gone: the lab drops a member once its coordinator no longer
		// counts it; its consumer stays known, with its group.id.
		text := fmt.Sprintf("No member %s at this point of the timeline.", name)
		if c := in.Lab.Member(s.Member); c != nil {
			text = fmt.Sprintf("Member %s left the group %s: it was closed or crashed, and its coordinator no longer counts it.", name, c.Config().GroupID)
		}
		return sec.DataSet("gone", "true").Body(head, app.P().Class("empty").Text(text))
	}
	return sec.Body(head, app.P().Class("empty").Text("nothing to show"))
}

// memberGroup is the group of an inspected member, without the other
// members' details (their own inspector shows them).
type memberGroup struct {
	GroupID, State, Protocol      string
	Generation                    int32
	Coordinator, OffsetsPartition int32
	Members                       []string
	Unowned                       []int32
}

// consumerGroupState is what the member's consumer itself knows of its
// group, which can differ from the coordinator's view during a rebalance.
type consumerGroupState struct {
	Generation, AssignedGeneration int32
	Coordinator                    core.NodeID // -1: not known
	Protocol                       string
	Closed                         bool
	Stats                          client.ConsumerStats
}

// member draws a group member: a summary in words, then its view, its
// group, its consumer's own state and configuration as trees.
func (in *Inspector) member(g lab.GroupView, m lab.MemberView) []app.UI {
	topic := in.Lab.Topic()
	state := groupMemberState(m)
	if state == "left" {
		state += " (LeaveGroup sent)"
	}
	var parts []int32
	for _, p := range m.Partitions {
		parts = append(parts, p.Partition)
	}
	assigned := "assigned: " + tps(topic, parts)
	if len(parts) == 0 {
		assigned = "assigned: nothing; " + noPartitions(m)
	}
	mg := memberGroup{GroupID: g.Config.Name, State: g.State, Protocol: g.Protocol, Generation: g.Generation,
		Coordinator: g.Coordinator, OffsetsPartition: g.OffsetsPartition, Unowned: g.Unowned}
	for _, o := range g.Members {
		mg.Members = append(mg.Members, o.Name)
	}
	w := walker{budget: maxTreeNodes}
	kids := []app.UI{
		w.node("member "+m.Name, reflect.ValueOf(m), 0),
		w.node("group "+g.Config.Name, reflect.ValueOf(mg), 0),
	}
	if c := in.Lab.Member(m.ID); c != nil {
		cs := consumerGroupState{Generation: c.Generation(), AssignedGeneration: c.AssignedGeneration(),
			Coordinator: -1, Protocol: c.Protocol(), Closed: c.Closed(), Stats: c.Stats()}
		if id, ok := c.Coordinator(); ok {
			cs.Coordinator = id
		}
		kids = append(kids,
			w.node("its consumer's view", reflect.ValueOf(cs), 0),
			w.node("consumer config", reflect.ValueOf(c.Config()), 0))
	}
	memberID := m.MemberID
	if memberID == "" {
		memberID = "none yet (not joined)"
	}
	return []app.UI{
		app.P().Class("route").Text(fmt.Sprintf("%s in group.id=%s · generation %d · %s", m.Name, g.Config.Name, max(g.Generation, 0), state)),
		app.P().Class("mono").Text("member id: " + memberID),
		app.P().Class("member-assigned").Text(assigned),
		app.Div().Class("tree").Body(kids...),
	}
}

// The tree's bounds: a Fetch response can carry a megabyte of records and
// the page draws on the main thread.
const (
	maxTreeNodes  = 400
	maxTreeDepth  = 10
	maxTreeItems  = 20 // elements of a list
	maxBatches    = 5  // record batches decoded per byte field
	maxRecords    = 10 // records shown per batch
	maxHexPreview = 16 // bytes
)

// walker draws a value as a tree of <details>, field by field, spending
// one of its budget's nodes on each.
type walker struct{ budget int }

func (w *walker) node(name string, v reflect.Value, depth int) app.UI {
	w.budget--
	if w.budget < 0 {
		return leaf(name, "… (cut: too big to show)")
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return leaf(name, "null")
		}
		v = v.Elem()
	}
	if depth >= maxTreeDepth {
		return leaf(name, "…")
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		var kids []app.UI
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type == reflect.TypeFor[kmsg.Tags]() {
				continue // tagged fields nobody set: Kafka's wire detail, not the message's
			}
			kids = append(kids, w.node(f.Name, v.Field(i), depth+1))
		}
		return branch(name, t.Name(), depth, kids)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return w.bytes(name, v.Bytes(), depth)
		}
		var kids []app.UI
		for i := 0; i < min(v.Len(), maxTreeItems); i++ {
			kids = append(kids, w.node(fmt.Sprint(i), v.Index(i), depth+1))
		}
		if v.Len() > maxTreeItems {
			kids = append(kids, leaf("", fmt.Sprintf("… %d more", v.Len()-maxTreeItems)))
		}
		return branch(name, fmt.Sprintf("[%d]", v.Len()), depth, kids)
	case reflect.Map:
		return leaf(name, fmt.Sprintf("%d entries", v.Len()))
	case reflect.String:
		return leaf(name, fmt.Sprintf("%q", v.String()))
	}
	return leaf(name, fmt.Sprint(v.Interface()))
}

// bytes shows a byte field: record batches decoded, anything else as its
// length and the first bytes.
func (w *walker) bytes(name string, b []byte, depth int) app.UI {
	if name != "Records" && name != "RecordBatches" || len(b) == 0 {
		return leaf(name, preview(b))
	}
	var kids []app.UI
	n := 0
	_, err := record.Iterate(b, func(h kmsg.RecordBatch, _ []byte) bool {
		if n++; n > maxBatches {
			return false
		}
		recs, err := record.StoredRecords(h)
		var rs []app.UI
		for i, r := range recs {
			if i == maxRecords {
				rs = append(rs, leaf("", fmt.Sprintf("… %d more", len(recs)-maxRecords)))
				break
			}
			w.budget--
			rs = append(rs, leaf(fmt.Sprintf("offset %d", h.FirstOffset+int64(r.OffsetDelta)),
				fmt.Sprintf("key %s, value %s", text(r.Key), text(r.Value))))
		}
		if err != nil {
			rs = append(rs, leaf("error", err.Error()))
		}
		kids = append(kids, branch(fmt.Sprintf("batch at offset %d", h.FirstOffset),
			fmt.Sprintf("%d records, producer id %d, epoch %d, base sequence %d, leader epoch %d",
				h.NumRecords, h.ProducerID, h.ProducerEpoch, h.FirstSequence, h.PartitionLeaderEpoch), depth+1, rs))
		return w.budget > 0
	})
	if n > maxBatches {
		kids = append(kids, leaf("", "… more batches"))
	}
	if err != nil {
		kids = append(kids, leaf("error", err.Error()))
	}
	return branch(name, fmt.Sprintf("%d bytes of record batches", len(b)), depth, kids)
}

func branch(name, what string, depth int, kids []app.UI) app.UI {
	return app.Details().Open(depth < 7).Body(
		app.Summary().Body(app.Span().Class("tree-name").Text(name), app.Text(" "), app.Span().Class("tree-type").Text(what)),
		app.Div().Class("tree-kids").Body(kids...),
	)
}

func leaf(name, value string) app.UI {
	return app.Div().Class("tree-leaf").Body(app.Span().Class("tree-name").Text(name), app.Text(" "), app.Span().Class("tree-value").Text(value))
}

// preview is a byte string's length and its first bytes in hex.
func preview(b []byte) string {
	if b == nil {
		return "null"
	}
	s := fmt.Sprintf("%d bytes", len(b))
	if len(b) > 0 {
		s += ": " + hex.EncodeToString(b[:min(len(b), maxHexPreview)])
		if len(b) > maxHexPreview {
			s += "…"
		}
	}
	return s
}

// text shows a record key or value: quoted if it reads as text, else as
// preview does.
func text(b []byte) string {
	if b == nil || !utf8.Valid(b) || strings.ContainsFunc(string(b), func(r rune) bool { return r < ' ' }) {
		return preview(b)
	}
	return fmt.Sprintf("%q", showBytes(b))
}
