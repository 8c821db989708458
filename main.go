// Command streamlab is the composition root of Streamlab.
//
// Built for js/wasm (static/web/app.wasm) it runs the go-app UI in the
// browser (main_wasm.go). Built natively it is the node: it serves the PWA
// and, later, signaling, a native broker and the Kafka listener
// (main_native.go). Server-only code (net/http, app.Handler) stays in the
// !wasm files: it would add megabytes to the browser download.
package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/ui"
)

// routes registers the UI routes. Both builds need them: the browser renders
// them, and the node's app.Handler prerenders them (it answers 404 for a path
// with no route).
func routes() {
	app.Route("/", func() app.Composer { return &ui.Page{Store: sessionStore} })
	app.Route("/live", func() app.Composer { return &ui.LivePage{Cluster: liveCluster} })
}

// sessionStore keeps the page's session across reloads: set by main_wasm.go
// in the browser, nil on the node (prerendering keeps nothing).
var sessionStore ui.SessionStore

// liveCluster joins live clusters of tabs: set by main_live_wasm.go in the
// browser, nil on the node (the page then renders a placeholder).
var liveCluster ui.LiveCluster
