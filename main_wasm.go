//go:build wasm

package main

import (
	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/wasm/session"
)

func main() {
	sessionStore = session.New("streamlab-session", "streamlab.session.v1")
	routes()
	app.RunWhenOnBrowser() // never returns in the browser
}
