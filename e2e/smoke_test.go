//go:build !wasm

package e2e

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestSmoke starts the node, opens the app in headless Chromium, waits for
// the wasm app to report ready, and saves a screenshot.
func TestSmoke(t *testing.T) {
	Require(t)
	node := StartNode(t)
	b := NewBrowser(t)
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}

	OpenApp(t, b.Ctx, node.URL+"/")

	title, err := chromedp.Run(b.Ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Streamlab" {
		t.Errorf("title %q, want Streamlab", title)
	}
	Screenshot(t, b.Ctx, "home")
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("uncaught exceptions in the page:\n%v", ex)
	}
	if err := node.Stop(); err != nil {
		t.Errorf("node did not shut down cleanly: %v", err)
	}
}
