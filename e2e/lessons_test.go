//go:build !wasm

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestLessonKeysThroughThePage opens lesson 1 in the page and does its
// steps with the page's own producer form: each step must turn ✓ only once
// the lab's state says so (the panel reads state, it scripts nothing).
func TestLessonKeysThroughThePage(t *testing.T) {
	Require(t)
	b := openPage(t)
	ctx := b.Ctx

	pageClick(t, ctx, "lessons-open")
	pageClick(t, ctx, "lesson-pick-1")
	if got := pageData(t, ctx, "#lessons", "open"); got != "true" {
		t.Fatalf("lessons panel open = %q", got)
	}
	if pageLessonDone(t, ctx, 1) || pageData(t, ctx, "#lesson-step-1", "current") != "true" {
		t.Fatal("step 1 done, or not current, before anything was produced")
	}
	steps := []struct{ key, why string }{
		{"user-1", "a record with key user-1 acknowledged"},
		{"alice", "keyed records in two partitions"},
		{"user-1", "user-1 again, in order in its partition"},
	}
	for i, s := range steps {
		pageProduce(t, ctx, s.key, fmt.Sprint("lesson ", i))
		pageWait(t, ctx, 20*time.Second, fmt.Sprintf("step %d ✓: %s", i+1, s.why), func() bool { return pageLessonDone(t, ctx, i+1) })
		if i+2 <= 3 && pageLessonDone(t, ctx, i+2) {
			t.Errorf("step %d done before its record was produced", i+2)
		}
	}
	pageWait(t, ctx, 20*time.Second, "step 4 ✓: the consumer read both user-1 records", func() bool { return pageLessonDone(t, ctx, 4) })
	if pageCount(t, ctx, "#lessons .lesson-done") != 1 {
		t.Error("lesson 1 not shown done")
	}
	pageScrollTo(t, ctx, "lessons")
	Screenshot(t, ctx, "lesson-1-done")

	pageClick(t, ctx, "lesson-next")
	if got := pageEval[string](t, ctx, `document.getElementById('lesson-title').textContent`); got != "2. Offsets and the log" {
		t.Errorf("next lesson title %q", got)
	}
	if pageLessonDone(t, ctx, 1) {
		t.Error("lesson 2 step 1 done without Produce 10")
	}
	pageClick(t, ctx, "lessons-close")
	if pageCount(t, ctx, "#lesson-steps, .lesson-step") != 0 {
		t.Error("closed panel still shows steps")
	}
	pageNoExceptions(t, b)
}
