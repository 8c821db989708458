//go:build js && wasm

// Command worker is the classroom signaling service (package p2p/room) as a
// Cloudflare Worker: room.Handler on rooms kept in D1, served with
// github.com/syumai/workers. Devices join a room by its code through it and
// relay their WebRTC signals, so that a class forms one cluster without
// anyone running the node.
//
// Build and run it with tools/worker.sh (build, dev, deploy); wrangler.toml
// here binds the D1 database as DB and the rate limiter as LIMITER, and
// migrations/ holds the schema.
//
// Every request runs in a fresh instance of this program (syumai/workers'
// worker.mjs instantiates the wasm per request), so everything shared lives
// in D1, and the handler's in-memory per-IP token bucket, which would start
// empty each time, is off: entry.mjs rate-limits before the Go starts, with
// Cloudflare's rate limiting binding keyed by CF-Connecting-IP.
package main

import (
	"database/sql"
	"log"
	"net/http"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare/d1"

	"github.com/streamlab/streamlab/p2p/room"
	"github.com/streamlab/streamlab/wasm/worker/d1store"
)

// binding is the D1 database's binding name in wrangler.toml.
const binding = "DB"

func main() {
	h, err := handler()
	if err != nil {
		// Serve the error rather than fail every request with an opaque
		// exception.
		log.Printf("streamlab worker: %v", err)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"error":"internal error: the worker has no D1 database bound as ` + binding + `"}` + "\n"))
		})
	}
	workers.Serve(h)
}

func handler() (http.Handler, error) {
	c, err := d1.OpenConnector(binding)
	if err != nil {
		return nil, err
	}
	return room.NewHandler(room.Config{
		Store: d1store.New(sql.OpenDB(c)),
		Rate:  -1, // see the package comment
	}), nil
}
