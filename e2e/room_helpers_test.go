//go:build !wasm

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// roomDevices are Chromium instances with profiles of their own — devices
// — that joined a classroom room from the /live page.
type roomDevices struct {
	Browsers []*Browser
	Tabs     []context.Context // each browser's tab
	IDs      []int             // the broker id each one got
	Closed   map[int]bool      // devices the test closed: not read when it fails
}

// joinRoomDevices starts n devices, opens url (a /live page with ?room=code)
// in each, checks the code field shows code, and joins: each one waits for
// its broker id. A failing test logs what each open device shows.
func joinRoomDevices(t *testing.T, origin, url, code string, n int) *roomDevices {
	t.Helper()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("device %d", i+1))
	}
	return joinNamedDevices(t, origin, url, code, names...)
}

// joinNamedDevices is joinRoomDevices with a device name for each.
func joinNamedDevices(t *testing.T, origin, url, code string, names ...string) *roomDevices {
	t.Helper()
	d := &roomDevices{Closed: map[int]bool{}}
	for range names {
		b := newLiveBrowser(t, origin)
		d.Browsers, d.Tabs = append(d.Browsers, b), append(d.Tabs, b.Ctx)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, ctx := range d.Tabs {
				if !d.Closed[i] {
					text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("main") || document.body).innerText`))
					t.Logf("device %d shows:\n%s", i+1, text)
				}
			}
		}
	})
	for i, ctx := range d.Tabs {
		liveOpen(t, ctx, url)
		if got := pageEval[string](t, ctx, `document.getElementById("live-room-code").value`); got != code {
			t.Fatalf("device %d: the room code field shows %q, the URL says %q", i+1, got, code)
		}
		pageSet(t, ctx, "live-device", names[i], "input")
		pageClick(t, ctx, "live-room-join")
		pageWait(t, ctx, 90*time.Second, fmt.Sprintf("device %d joined", i+1), func() bool {
			return pageData(t, ctx, "#live-member", "id") != ""
		})
		id, _ := strconv.Atoi(pageData(t, ctx, "#live-member", "id"))
		d.IDs = append(d.IDs, id)
	}
	return d
}

// waitLive waits until every device shows brokers live brokers in its
// metadata and members members in the room.
func (d *roomDevices) waitLive(t *testing.T, brokers, members int) {
	t.Helper()
	for i, ctx := range d.Tabs {
		pageWait(t, ctx, 90*time.Second, fmt.Sprintf("device %d shows %d brokers live and %d room members", i+1, brokers, members), func() bool {
			return pageData(t, ctx, "#live-member", "live") == strconv.Itoa(brokers) && pageData(t, ctx, "#live-room", "members") == strconv.Itoa(members)
		})
	}
}
