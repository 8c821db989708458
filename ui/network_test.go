package ui

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core"
	"github.com/streamlab/streamlab/core/sim"
)

// Past maxFlights messages, the wire list draws the messages of one API and
// kind on one route once, with their count, group protocol messages each
// on their own line; every message is counted once.
func TestShownFlightsGathers(t *testing.T) {
	var all []sim.Flight
	add := func(from, to core.NodeID, req kmsg.Request) {
		all = append(all, sim.Flight{SentAt: int64(len(all)), At: int64(100 + len(all)),
			Envelope: core.Envelope{From: from, To: to, CorrelationID: int32(len(all)), Request: req}})
	}
	for i := range 40 {
		add(1001, core.NodeID(1+i%3), kmsg.NewPtrProduceRequest()) // 3 routes
		if i%10 == 0 {
			add(2001, 1, kmsg.NewPtrHeartbeatRequest()) // 4 group messages
		}
	}
	for i := range 3 {
		add(core.NodeID(i+1), 1001, nil) // raft-less, request-less: a response
		all[len(all)-1].Envelope.Response = kmsg.NewPtrProduceResponse()
	}
	lines := shownFlights(all)
	if len(lines) != 3+4+3 {
		t.Fatalf("%d lines, want 10: %+v", len(lines), lines)
	}
	total, group := 0, 0
	for i, l := range lines {
		total += l.count
		if groupAPI(l.Envelope) {
			group++
			if l.count != 1 {
				t.Errorf("line %d: a group message gathered %d", i, l.count)
			}
		}
		if i > 0 && l.At < lines[i-1].At {
			t.Errorf("line %d arrives before line %d", i, i-1)
		}
	}
	if total != len(all) || group != 4 {
		t.Errorf("the lines count %d messages (want %d), %d group messages (want 4)", total, len(all), group)
	}
	if few := shownFlights(all[:maxFlights]); len(few) != maxFlights || few[0].count != 1 {
		t.Errorf("%d messages: %d lines, want each on its own", maxFlights, len(few))
	}
}
