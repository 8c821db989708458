# Streamlab. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c

GO       ?= go
HTTP     ?= $(or $(STREAMLAB_HTTP),127.0.0.1:8080)
FUZZTIME ?= 5s
BENCH    ?= .
BENCH_PKGS ?= ./core/...

BIN       := bin/streamlab
WASM      := static/web/app.wasm
WASM_ENV  := GOOS=js GOARCH=wasm
# go_js_wasm_exec (runs wasm test binaries in node) lives here since Go 1.24.
WASM_PATH  = PATH="$$($(GO) env GOROOT)/lib/wasm:$$PATH"
# The shared dir sits beside the repo, here and in CI.
NETNS_RUN := ../shared/tools/netns-run

.PHONY: help run build wasm server test test-native test-wasm test-fuzz test-e2e bench clean

help: ## list the targets
	@echo "Streamlab make targets:"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z0-9-]*:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo "Variables: HTTP=$(HTTP) FUZZTIME=$(FUZZTIME) BENCH=$(BENCH) BENCH_PKGS=$(BENCH_PKGS)"

run: build ## build the wasm and the node, then serve the app (make run HTTP=127.0.0.1:9000)
	./$(BIN) -http $(HTTP)

build: wasm server ## build static/web/app.wasm and bin/streamlab

wasm: ## build static/web/app.wasm (GOOS=js GOARCH=wasm, stripped)
	$(WASM_ENV) $(GO) build -trimpath -ldflags='-s -w' -o $(WASM) .

server: ## build the native node, bin/streamlab
	$(GO) build -trimpath -o $(BIN) .

test: test-native test-wasm test-fuzz test-e2e ## run every test: native, wasm, fuzz, e2e

test-native: ## go test -race ./... (the e2e tests skip themselves here)
	$(GO) test -race ./...

test-wasm: ## core tests under GOOS=js GOARCH=wasm, run by node
	$(WASM_PATH) $(WASM_ENV) $(GO) test ./core/...

test-fuzz: ## every fuzz target for FUZZTIME (default 5s) each
	FUZZTIME=$(FUZZTIME) GO=$(GO) tools/fuzz.sh

test-e2e: build ## browser tests: headless Chromium in a loopback-only network namespace
	@test -f $(NETNS_RUN) || { echo "test-e2e: $(NETNS_RUN) not found (the shared dir must sit beside the repo)" >&2; exit 1; }
	$(GO) vet ./e2e/...   # compiles everything now: the namespace has no network
	STREAMLAB_E2E=1 STREAMLAB_BIN="$(CURDIR)/$(BIN)" sh $(NETNS_RUN) $(GO) test -count=1 ./e2e/...
	@if pgrep -a -f -- "$(CURDIR)/bi[n]/streamlab"; then echo "test-e2e: a node outlived the tests" >&2; exit 1; fi

bench: wasm ## benchmarks natively and in wasm/node, then the wasm download size
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCH_PKGS)
	$(WASM_PATH) $(WASM_ENV) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCH_PKGS)
	tools/wasmsize.sh $(WASM)

clean: ## remove build outputs and screenshots
	rm -rf bin $(WASM) e2e/out
