//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Helpers for the tests of the page (the single-tab cluster). They drive the
// page as a learner does, through its form and buttons, and read what it
// shows through stable ids and data- attributes (see ui/*.go).

// openPage starts a node and opens the page in a 1280×720 viewport, the
// smallest screen the page is made for.
func openPage(t *testing.T) *Browser {
	t.Helper()
	node := StartNode(t)
	b := NewBrowser(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}
	OpenApp(t, b.Ctx, node.URL+"/")
	return b
}

// eval runs a JavaScript expression and decodes its value.
func pageEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// produce types a record into the form and presses Produce.
func pageProduce(t *testing.T, ctx context.Context, key, value string) {
	t.Helper()
	pageEval[bool](t, ctx, fmt.Sprintf(`(() => {
		const set = (id, v) => { const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); };
		set('key', %q); set('value', %q);
		document.getElementById('produce').click();
		return true; })()`, key, value))
	// Let go-app handle the input and click events before the next action.
	time.Sleep(300 * time.Millisecond)
}

// click presses the button with that id.
func pageClick(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	if !pageEval[bool](t, ctx, fmt.Sprintf(`(() => { const b = document.getElementById(%q); if (!b || b.disabled) return false; b.click(); return true; })()`, id)) {
		t.Fatalf("no enabled button #%s", id)
	}
	time.Sleep(200 * time.Millisecond)
}

// setSpeed picks a simulation speed (percent of real time) in the clock bar.
func pageSetSpeed(t *testing.T, ctx context.Context, pct int) {
	t.Helper()
	pageEval[bool](t, ctx, fmt.Sprintf(`(() => { const s = document.getElementById('speed'); s.value = '%d';
		s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, pct))
	time.Sleep(200 * time.Millisecond)
}

// data reads a data- attribute of the first element matching sel ("" if
// there is none).
func pageData(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	return pageEval[string](t, ctx, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? (e.dataset[%q] ?? "") : ""; })()`, sel, name))
}

// count is how many elements match sel.
func pageCount(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return pageEval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// waitFor polls cond until it holds or timeout passes; then it saves a
// screenshot and fails with what.
func pageWait(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			Screenshot(t, ctx, "timeout")
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ackLine reads the page's check of acknowledged records for one acks
// setting: how many were acknowledged, are in the leaders' logs, are lost.
func pageAckLine(t *testing.T, ctx context.Context, acks string) (acked, present, lost string) {
	t.Helper()
	sel := fmt.Sprintf(`#ack-check .ack-line[data-acks=%q]`, acks)
	return pageData(t, ctx, sel, "acked"), pageData(t, ctx, sel, "present"), pageData(t, ctx, sel, "lost")
}

func pageNoExceptions(t *testing.T, b *Browser) {
	t.Helper()
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page:\n%v", ex)
	}
}

// pageSet sets a form field (an input or a select) as the learner would:
// its value, then the event its component listens to ("input" or
// "change").
func pageSet(t *testing.T, ctx context.Context, id, value, event string) {
	t.Helper()
	if !pageEval[bool](t, ctx, fmt.Sprintf(`(() => { const e = document.getElementById(%q); if (!e) return false;
		e.value = %q; e.dispatchEvent(new Event(%q, {bubbles: true})); return true; })()`, id, value, event)) {
		t.Fatalf("no field #%s", id)
	}
	time.Sleep(200 * time.Millisecond)
}

// pageScrollTo scrolls the element with that id to the top of the viewport,
// for a screenshot of it.
func pageScrollTo(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	pageEval[bool](t, ctx, fmt.Sprintf(`(() => { document.getElementById(%q).scrollIntoView({block: 'start'}); return true; })()`, id))
	time.Sleep(300 * time.Millisecond)
}

// pageLessonDone reports whether step n (1-based) of the open lesson is
// ticked (ui/lessons.go).
func pageLessonDone(t *testing.T, ctx context.Context, n int) bool {
	t.Helper()
	return pageData(t, ctx, fmt.Sprintf("#lesson-step-%d", n), "done") == "true"
}
