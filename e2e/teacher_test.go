//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var teacherLine = regexp.MustCompile(`Teacher view .*#teacher=([0-9a-f]+)`)

// TestTeacherFaults is the classroom's teacher view: the node runs a room;
// device 1 opens the node's teacher link, device 2 joins as a student. From
// device 1's room panel the teacher kills the student's broker, restarts
// it, cuts it off from the others and heals the network. Each time the
// student's own page shows what was done to it, and kgo through the node
// sees what Kafka would show: the broker fenced and left out of every ISR
// while acks=all goes on with the other two, then back in every ISR with
// every record. Nothing acknowledged is lost.
func TestTeacherFaults(t *testing.T) {
	Require(t)
	node := StartNode(t, "-classroom", "-room-brokers", "3")
	code := roomCode(t, node)
	m := teacherLine.FindStringSubmatch(node.Output())
	if m == nil {
		t.Fatalf("the node printed no teacher link:\n%s", node.Output())
	}
	url := fmt.Sprintf("%s/live?room=%s&session_timeout_ms=3000&request_timeout_ms=5000", node.URL, code)
	teacherDev := joinNamedDevices(t, node.URL, url+"#teacher="+m[1], code, "teacher's laptop")
	studentDev := joinNamedDevices(t, node.URL, url, code, "Ada's laptop")
	teacher, student := teacherDev.Tabs[0], studentDev.Tabs[0]
	sid := studentDev.IDs[0]
	teacherDev.waitLive(t, 3, 3)
	studentDev.waitLive(t, 3, 3)
	if href := pageEval[string](t, teacher, `location.href`); strings.Contains(href, "teacher") {
		t.Errorf("the teacher token is still in the address bar: %s", href)
	}
	if got := pageData(t, teacher, "#live-room", "teacher"); got != "true" {
		t.Fatalf("the teacher's room panel has data-teacher=%q", got)
	}
	if got := pageData(t, student, "#live-room", "teacher"); got != "false" {
		t.Fatalf("the student's room panel has data-teacher=%q: only the teacher may inject faults", got)
	}
	if n := pageCount(t, student, fmt.Sprintf("#live-room-kill-%d", sid)); n != 0 {
		t.Fatal("the student's page has the teacher's buttons")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const topic = "faults"
	cl, err := kgo.NewClient(kgo.SeedBrokers(node.Addr), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RecordDeliveryTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if r, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic); err != nil || r.Err != nil {
		t.Fatalf("create topic: %v %v", err, r.Err)
	}
	// state reports whether the student's broker is listed in the
	// metadata and whether every partition has a leader and all three
	// brokers in its ISR.
	state := func() (listed, full, ok bool) {
		md, err := adm.Metadata(ctx, topic)
		if err != nil || len(md.Topics[topic].Partitions) != 3 {
			return false, false, false
		}
		listed, full = slices.Contains(md.Brokers.NodeIDs(), int32(sid)), true
		for _, p := range md.Topics[topic].Partitions {
			full = full && p.Leader >= 0 && len(p.ISR) == 3
		}
		return listed, full, true
	}
	fenced := func() bool { listed, _, ok := state(); return ok && !listed }
	back := func() bool { listed, full, ok := state(); return ok && listed && full }
	acked := 0
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "r-%d", acked)}).FirstErr(); err != nil {
				t.Fatalf("record %d: %v", acked, err)
			}
			acked++
		}
	}
	studentState := func(want string) func() bool {
		return func() bool { return pageData(t, student, fmt.Sprintf("#live-room-member-%d", sid), "state") == want }
	}
	// click presses a teacher's button; wait logs how long what took
	// since then.
	var clicked time.Time
	click := func(button string) {
		t.Helper()
		clicked = time.Now()
		pageClick(t, teacher, button)
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		pageWait(t, teacher, 3*time.Minute, what, cond)
		t.Logf("figure: %s %v after the teacher's click", what, time.Since(clicked).Round(time.Millisecond))
	}
	pageWait(t, teacher, 90*time.Second, "every ISR full", back)
	produce(200)
	// The node (broker 1, the room's first member) shares its events too:
	// the student's log tells what the node's broker did.
	pageWait(t, student, 30*time.Second, "the student's log telling the node's events", func() bool {
		return pageCount(t, student, `#live-event-log .event[data-from="1"]`) > 0
	})

	kill, cut := fmt.Sprintf("live-room-kill-%d", sid), fmt.Sprintf("live-room-cut-%d", sid)
	click(kill)
	wait("the student's page shows its broker killed", studentState("killed"))
	studentLog := fmt.Sprintf("#live-log-%s-%d", topic, sid)
	wait("the teacher's page draws the student's broker killed, as the student shared it", func() bool {
		return pageData(t, teacher, studentLog, "heard") == "killed"
	})
	wait("the controller fenced the killed broker", fenced)
	if !slices.ContainsFunc(liveEvents(t, student), func(e liveEvent) bool { return strings.Contains(e.Text, "killed") }) {
		t.Errorf("the student's event log does not say its broker was killed: %v", liveEvents(t, student))
	}
	pageWait(t, teacher, time.Minute, "the teacher's page shows 2 brokers live", func() bool {
		return pageData(t, teacher, "#live-member", "live") == "2"
	})
	Screenshot(t, teacher, "classroom-teacher-kill")
	produce(200)

	click(kill) // now "Restart broker"
	wait("the restarted broker back in every ISR", back)
	if !studentState("running")() {
		t.Error("the student's page does not show its broker running again")
	}
	wait("the teacher's page draws the student's log again", func() bool { return pageData(t, teacher, studentLog, "heard") == "now" })
	produce(200)

	click(cut)
	wait("the student's page shows its broker cut off", studentState("cut off"))
	wait("the controller fenced the cut-off broker", fenced)
	produce(200)
	click("live-room-heal")
	wait("the healed broker back in every ISR", back)

	seen := map[string]bool{}
	for len(seen) < acked {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d acknowledged records: %v", len(seen), acked, err)
		}
		fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
	}
	pageNoExceptions(t, teacherDev.Browsers[0])
	pageNoExceptions(t, studentDev.Browsers[0])
}
