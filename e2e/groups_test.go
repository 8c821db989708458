//go:build !wasm

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// pageMember is a group member as the page shows it.
type pageMember struct {
	Name, State, Partitions string
}

// pageGroup reads a group card: its state, generation and members.
func pageGroup(t *testing.T, b *Browser, group string) (state, generation string, members []pageMember) {
	t.Helper()
	sel := fmt.Sprintf(`.group-card[data-group=%q]`, group)
	js := fmt.Sprintf(`JSON.stringify(Array.from(document.querySelectorAll(%q)).map(m => ({Name: m.dataset.member, State: m.dataset.state, Partitions: m.dataset.partitions})))`,
		sel+" .member")
	if err := json.Unmarshal([]byte(pageEval[string](t, b.Ctx, js)), &members); err != nil {
		t.Fatal(err)
	}
	return pageData(t, b.Ctx, sel, "state"), pageData(t, b.Ctx, sel, "generation"), members
}

// splitEvenly reports whether the members own the 6 partitions between
// them, each once, n each.
func splitEvenly(members []pageMember, n int) bool {
	var all []string
	for _, m := range members {
		ps := strings.Split(m.Partitions, ",")
		if m.State != "STABLE" || m.Partitions == "" || len(ps) != n {
			return false
		}
		all = append(all, ps...)
	}
	slices.Sort(all)
	return slices.Equal(all, []string{"0", "1", "2", "3", "4", "5"})
}

// TestPageConsumerGroupRebalances adds a consumer group with one member
// through the page's form, waits until the page shows it Stable with every
// partition, adds a second member and waits until the page shows the
// group rebalancing, then Stable again in a later generation with the
// partitions split 3/3 between the two, reading the records produced and
// committing them; the event log tells the rebalance.
func TestPageConsumerGroupRebalances(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx
	pageClick(t, ctx, "produce-10") // records for the group to read

	pageSet(t, ctx, "group-id", "scores", "input")
	pageClick(t, ctx, "add-group")
	var gen1 string
	pageWait(t, ctx, 60*time.Second, "group scores Stable with one member owning the 6 partitions", func() bool {
		state, gen, members := pageGroup(t, b, "scores")
		gen1 = gen
		return state == "Stable" && len(members) == 1 && splitEvenly(members, 6)
	})

	pageClick(t, ctx, "add-member-scores")
	// The coordinator's states show as they happen: c-1 learns of the
	// rebalance from its next heartbeat (every 3 s), so the group stays in
	// PreparingRebalance long enough to be seen.
	pageWait(t, ctx, 30*time.Second, "group scores rebalancing", func() bool {
		state, _, _ := pageGroup(t, b, "scores")
		return state == "PreparingRebalance" || state == "CompletingRebalance"
	})
	pageScrollTo(t, ctx, "groups")
	Screenshot(t, ctx, "rebalancing")
	pageWait(t, ctx, 60*time.Second, "group scores Stable again with the partitions split 3/3", func() bool {
		state, gen, members := pageGroup(t, b, "scores")
		return state == "Stable" && gen != gen1 && len(members) == 2 && splitEvenly(members, 3)
	})
	_, gen2, members := pageGroup(t, b, "scores")
	t.Logf("generation %s → %s: %+v", gen1, gen2, members)
	// The new owners fetch the committed offsets, read the 10 records and
	// commit: every partition's position and committed offset reach its
	// high watermark.
	pageWait(t, ctx, 30*time.Second, "every partition read and committed to its end", func() bool {
		return pageEval[bool](t, ctx, `(() => {
			const chips = document.querySelectorAll('.group-card[data-group="scores"] .gpart[data-partition]');
			let pos = 0;
			for (const c of chips) {
				if (c.dataset.lag !== "0" || c.dataset.committed !== c.dataset.position) return false;
				pos += Number(c.dataset.position);
			}
			return chips.length === 6 && pos === 10; })()`)
	})

	for _, kind := range []string{"MemberJoined", "GroupStateChanged", "Rebalanced"} {
		if pageCount(t, ctx, fmt.Sprintf(`.event[data-event=%q]`, kind)) == 0 {
			t.Errorf("the event log has no %s line", kind)
		}
	}
	log := pageEval[string](t, ctx, `document.querySelector('.event-list').textContent`)
	for _, want := range []string{"group scores: member c-2 joined", "rebalance started", "revoked from c-1"} {
		if !strings.Contains(log, want) {
			t.Errorf("the event log does not say %q", want)
		}
	}
	pageScrollTo(t, ctx, "groups")
	Screenshot(t, ctx, "rebalanced")
	pageScrollTo(t, ctx, "event-log")
	Screenshot(t, ctx, "told")
	pageNoExceptions(t, b)
}
