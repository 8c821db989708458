//go:build !wasm

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestInspectProduceRequest pauses the page, produces a record, steps the
// world until its Produce request is on the wire, clicks it, and checks the
// inspector decodes it: the API, its version, the topic, acks and the
// record itself. A broker and a partition open in the same panel.
func TestInspectProduceRequest(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	pageClick(t, ctx, "pause")
	pageProduce(t, ctx, "alice", "hello")
	const produce = `li.flight[data-api="Produce"][data-kind="request"]`
	for i := 0; pageCount(t, ctx, produce) == 0; i++ {
		if i == 100 {
			Screenshot(t, ctx, "no-produce")
			t.Fatal("no Produce request on the wire after 100 steps")
		}
		pageClick(t, ctx, "step")
	}
	pageEval[bool](t, ctx, fmt.Sprintf(`(() => { document.querySelector(%q).click(); return true; })()`, produce))
	pageWait(t, ctx, 5*time.Second, "the inspector showing the Produce request", func() bool {
		return pageData(t, ctx, "#inspector", "api") == "Produce"
	})
	if pageCount(t, ctx, produce+".selected") != 1 {
		t.Error("the clicked message is not highlighted")
	}
	version := pageData(t, ctx, "#inspector", "version")
	text := pageEval[string](t, ctx, `document.getElementById('inspector').innerText`)
	for _, want := range []string{"Produce request v" + version, `"events"`, "Acks -1", `key "alice", value "hello"`} {
		if version == "" || !strings.Contains(text, want) {
			t.Errorf("the inspector does not say %q:\n%s", want, text)
		}
	}
	pageScrollTo(t, ctx, "inspector")
	Screenshot(t, ctx, "inspector")

	pageEval[bool](t, ctx, `(() => { document.querySelector('#broker-2 h3').click(); return true; })()`)
	pageWait(t, ctx, 5*time.Second, "the inspector showing broker 2", func() bool {
		return pageData(t, ctx, "#inspector", "what") == "broker"
	})
	pageEval[bool](t, ctx, `(() => { document.querySelector('#partition-0 td').click(); return true; })()`)
	pageWait(t, ctx, 5*time.Second, "the inspector showing partition 0", func() bool {
		return pageData(t, ctx, "#inspector", "what") == "partition" &&
			strings.Contains(pageEval[string](t, ctx, `document.getElementById('inspector').innerText`), "LeaderEpoch")
	})
	pageClick(t, ctx, "inspector-close")
	if pageCount(t, ctx, "#inspector") != 0 {
		t.Error("the inspector is still open")
	}
	pageNoExceptions(t, b)
}

// TestInspectGroupMember starts a group of two members through the page's
// form, waits until they split the partitions, clicks the second member's
// name and checks the inspector shows that member: its group and the
// partitions its card shows. The panel follows the member: removed, it
// says the member left the group.
func TestInspectGroupMember(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx
	pageClick(t, ctx, "produce-10") // records for the group to read

	pageSet(t, ctx, "group-id", "scores", "input")
	pageSet(t, ctx, "group-members", "2", "change")
	pageClick(t, ctx, "add-group")
	var c2 pageMember
	pageWait(t, ctx, 90*time.Second, "group scores Stable with the partitions split 3/3 between c-1 and c-2", func() bool {
		state, _, members := pageGroup(t, b, "scores")
		if state != "Stable" || len(members) != 2 || !splitEvenly(members, 3) {
			return false
		}
		c2 = members[1]
		return c2.Name == "c-2"
	})

	const name = `.group-card[data-group="scores"] .member[data-member="c-2"] .member-name`
	if !pageEval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; e.click(); return true; })()`, name)) {
		t.Fatal("no name to click for member c-2")
	}
	pageWait(t, ctx, 10*time.Second, "the inspector showing member c-2", func() bool {
		return pageData(t, ctx, "#inspector", "what") == "member" && pageData(t, ctx, "#inspector", "member") == "c-2"
	})
	text := pageEval[string](t, ctx, `document.getElementById('inspector').innerText`)
	want := []string{"c-2 in group.id=scores", "GroupID \"scores\"", "consumer config"}
	var assigned []string
	for _, p := range strings.Split(c2.Partitions, ",") {
		assigned = append(assigned, "events-"+p)
	}
	want = append(want, "assigned: "+strings.Join(assigned, ", "))
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the inspector does not say %q:\n%s", w, text)
		}
	}
	pageScrollTo(t, ctx, "inspector")
	Screenshot(t, ctx, "inspector-member")

	pageClick(t, ctx, "remove-c-2")
	pageWait(t, ctx, 60*time.Second, "the inspector saying c-2 left the group", func() bool {
		return pageData(t, ctx, "#inspector", "gone") == "true" &&
			strings.Contains(pageEval[string](t, ctx, `document.getElementById('inspector').innerText`), "Member c-2 left the group scores")
	})
	pageNoExceptions(t, b)
}

// TestNetworkFaultsThroughThePage loses 20% of messages and produces until
// the producer has retried: every acknowledged record is in the leaders'
// logs. Then it splits broker 1 from brokers 2 and 3: the majority
// side's controller fences broker 1, which is live again once healed.
func TestNetworkFaultsThroughThePage(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	pageSetSpeed(t, ctx, 1000) // request.timeout.ms (10 s) passes in a second
	pageSet(t, ctx, "loss", "20", "change")
	if got := pageData(t, ctx, "#fault-panel", "loss"); got != "20" {
		t.Fatalf("loss %q after choosing 20%%", got)
	}
	n := 0
	for ; n < 30 && pageCount(t, ctx, `.event[data-event="ProduceRetried"]`) == 0; n++ {
		pageProduce(t, ctx, fmt.Sprint("k", n), fmt.Sprint("v", n))
		time.Sleep(500 * time.Millisecond)
	}
	pageWait(t, ctx, 90*time.Second, "a produce retried", func() bool {
		return pageCount(t, ctx, `.event[data-event="ProduceRetried"]`) > 0
	})
	pageScrollTo(t, ctx, "fault-panel")
	Screenshot(t, ctx, "message-loss")
	// Records may fail (delivery.timeout.ms) while the lossy cluster churns:
	// failing is allowed, losing an acknowledged one is not. One more, with
	// the loss over, is acknowledged.
	pageSet(t, ctx, "loss", "0", "change")
	pageProduce(t, ctx, "after", "loss")
	pageWait(t, ctx, 90*time.Second, "a record acknowledged after the loss", func() bool {
		acked, present, _ := pageAckLine(t, ctx, "all")
		return acked != "" && acked != "0" && present == acked
	})
	if _, _, lost := pageAckLine(t, ctx, "all"); lost != "0" {
		t.Errorf("%s acknowledged records lost with 20%% message loss and acks=all", lost)
	}

	pageEval[bool](t, ctx, `(() => { const c = document.getElementById('side-a-1'); c.checked = true;
		c.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	time.Sleep(200 * time.Millisecond)
	pageClick(t, ctx, "partition-brokers")
	pageWait(t, ctx, 60*time.Second, "broker 1 cut off and fenced", func() bool {
		return pageData(t, ctx, "#broker-1", "isolated") == "true" && pageData(t, ctx, "#broker-1", "state") == "fenced"
	})
	if c := pageData(t, ctx, "#controller-summary", "active"); c == "1" {
		t.Error("broker 1, alone on its side, is still the active controller")
	}
	Screenshot(t, ctx, "partition")
	pageClick(t, ctx, "heal-network")
	pageWait(t, ctx, 60*time.Second, "broker 1 live again", func() bool {
		return pageData(t, ctx, "#broker-1", "isolated") == "false" && pageData(t, ctx, "#broker-1", "state") == "live"
	})
	if _, _, lost := pageAckLine(t, ctx, "all"); lost != "0" {
		t.Errorf("%s acknowledged records lost after the split", lost)
	}
	pageNoExceptions(t, b)
}
