# Streamlab. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c

GO       ?= go
HTTP     ?= $(or $(STREAMLAB_HTTP),127.0.0.1:8080)
FUZZTIME ?= 5s
BENCH    ?= .
BENCH_PKGS ?= ./core/...
BROWSER_PKGS ?= ./wasm/...

BIN       := bin/streamlab
WASM      := static/web/app.wasm
WASM_ENV  := GOOS=js GOARCH=wasm
# go_js_wasm_exec (runs wasm test binaries in node) lives here since Go 1.24.
WASM_PATH  = PATH="$$($(GO) env GOROOT)/lib/wasm:$$PATH"
# The shared dir sits beside the repo, here and in CI.
NETNS_RUN := ../shared/tools/netns-run
# The -exec that runs wasm test binaries in headless Chromium.
WASMBROWSER := tools/wasmbrowser.sh

.PHONY: help run build wasm server test test-native test-sim test-wasm test-browser test-fuzz test-e2e bench soak clean

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

test: test-native test-sim test-wasm test-browser test-fuzz test-e2e ## run every test: native, simulations, wasm, browser, fuzz, e2e

# The failover simulations run once, in test-sim, where their summary
# lines are printed.
SIMS := TestFailover

test-native: ## go test -race ./... except the replication simulations (the e2e tests skip themselves here)
	$(GO) test -race -skip '$(SIMS)' ./...

test-sim: ## failover simulations on a 3-broker cluster (SEEDS, default 500) with a summary line per configuration
	@STREAMLAB_SEEDS=$(or $(SEEDS),500) $(GO) test -count=1 -v -timeout 80m -run '$(SIMS)' ./core/server \
		| grep -E -- '^(sim|control): config=|config=.* seed=|^ +(t=[0-9]+ |replay: |trace: )|^(--- FAIL|FAIL|ok|panic)'

test-wasm: ## core tests under GOOS=js GOARCH=wasm, run by node
	$(WASM_PATH) $(WASM_ENV) $(GO) test -skip '$(SIMS)' ./core/...

test-browser: ## wasm tests of BROWSER_PKGS (default ./wasm/...) in headless Chromium, in a loopback-only network namespace
	@test -f $(NETNS_RUN) || { echo "test-browser: $(NETNS_RUN) not found (the shared dir must sit beside the repo)" >&2; exit 1; }
	GO=$(GO) $(WASMBROWSER) build   # the runner, bin/wasmbrowsertest: may download its modules
	$(WASM_ENV) $(GO) vet $(BROWSER_PKGS)   # compiles everything now: the namespace has no network
	$(WASM_ENV) sh $(NETNS_RUN) $(GO) test -count=1 -exec "$(CURDIR)/$(WASMBROWSER)" $(BROWSER_PKGS)
	@if pgrep -a -f -- 'user-data-dir=[^ ]*/wasmbrowse[r]\.'; then echo "test-browser: a browser outlived the tests" >&2; exit 1; fi

test-fuzz: ## every fuzz target for FUZZTIME (default 5s) each
	FUZZTIME=$(FUZZTIME) GO=$(GO) tools/fuzz.sh

test-e2e: build ## browser tests: headless Chromium in a loopback-only network namespace
	@test -f $(NETNS_RUN) || { echo "test-e2e: $(NETNS_RUN) not found (the shared dir must sit beside the repo)" >&2; exit 1; }
	tools/worker.sh install            # the pinned wrangler (npm ci): the namespace has no network
	GO=$(GO) tools/worker.sh build     # bin/worker/: the classroom worker's wasm and JS glue
	$(GO) vet ./e2e/...   # compiles everything now: the namespace has no network
	STREAMLAB_E2E=1 STREAMLAB_BIN="$(CURDIR)/$(BIN)" sh $(NETNS_RUN) $(GO) test -count=1 -timeout 30m ./e2e/...
	@if pgrep -a -f -- "$(CURDIR)/bi[n]/streamlab"; then echo "test-e2e: a node outlived the tests" >&2; exit 1; fi
	@if pgrep -a -f -- "$(CURDIR)/tools/worke[r]/node_modules"; then echo "test-e2e: a wrangler outlived the tests" >&2; exit 1; fi

# The Kafka benchmarks (e2e/kafka_bench_test.go): kgo against the node binary
# and against franz-go's in-process kfake, KAFKA_BENCHTIME records a run,
# KAFKA_BENCHCOUNT runs; the raw output goes to KAFKA_BENCH_OUT.
KAFKA_BENCH      ?= Kafka
KAFKA_BENCHTIME  ?= 200000x
KAFKA_BENCHCOUNT ?= 3
KAFKA_BENCH_OUT  ?= bin/kafka-bench.txt

# awk over the go test output: the median of each metric over the runs, the
# node next to kfake, and the node/kfake ratio of records/s.
define KAFKA_BENCH_SUMMARY
function med(k,   c, i, j, t, a) {
	c = cnt[k]
	if (!c) return -1
	for (i = 1; i <= c; i++) a[i] = val[k, i] + 0
	for (i = 2; i <= c; i++)
		for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return (c % 2) ? a[(c+1)/2] : (a[c/2] + a[c/2+1]) / 2
}
BEGIN { sub(/x$$/, "", recs) }
function num(x, fmt) { return x < 0 ? "-" : sprintf(fmt, x) }
/^BenchmarkKafka[A-Za-z]+\/target=/ {
	name = $$1; sub(/-[0-9]+$$/, "", name)
	n = split(name, part, "/")
	op = tolower(substr(part[1], 15)); target = substr(part[2], 8)
	v = substr(part[3], 7); acks = n > 3 ? substr(part[4], 6) : "-"
	row = op " " v " " acks
	if (!(row in seen)) { seen[row] = 1; rows[++nrows] = row }
	for (i = 3; i < NF; i += 2) { k = row SUBSEP target SUBSEP $$(i+1); val[k, ++cnt[k]] = $$i }
}
END {
	if (!nrows) { print "bench: no Kafka benchmark results" | "cat 1>&2"; exit 1 }
	printf "\nKafka, kgo client (no compression, default linger): median of %s runs of %s records\n", runs, recs
	printf "ratio = streamlab/kfake records/s (>1: the node is faster); p50/p99 = produce latency, Produce call to promise, under saturating load\n"
	printf "%-8s %-5s %-4s | %15s %8s | %15s %8s | %6s | %17s | %17s\n", "op", "value", "acks", "streamlab rec/s", "MB/s", "kfake rec/s", "MB/s", "ratio", "streamlab p50/p99", "kfake p50/p99"
	for (r = 1; r <= nrows; r++) {
		split(rows[r], f, " ")
		s = rows[r] SUBSEP "streamlab" SUBSEP; kf = rows[r] SUBSEP "kfake" SUBSEP
		sr = med(s "rec/s"); kr = med(kf "rec/s")
		ratio = sr > 0 && kr > 0 ? sprintf("%.2f", sr / kr) : "n/a"
		sl = med(s "p50-ms") < 0 ? "-" : sprintf("%.1f/%.1f ms", med(s "p50-ms"), med(s "p99-ms"))
		kl = med(kf "p50-ms") < 0 ? "-" : sprintf("%.1f/%.1f ms", med(kf "p50-ms"), med(kf "p99-ms"))
		printf "%-8s %-5s %-4s | %15s %8s | %15s %8s | %6s | %17s | %17s\n", f[1], f[2], f[3], num(sr, "%.0f"), num(med(s "MB/s"), "%.1f"), num(kr, "%.0f"), num(med(kf "MB/s"), "%.1f"), ratio, sl, kl
	}
}
endef
export KAFKA_BENCH_SUMMARY

bench: build ## benchmarks natively and in wasm/node, the wasm download size, then kgo against the node vs kfake
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCH_PKGS)
	$(WASM_PATH) $(WASM_ENV) $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem $(BENCH_PKGS)
	tools/wasmsize.sh $(WASM)
	STREAMLAB_BIN="$(CURDIR)/$(BIN)" $(GO) test -run '^$$' -bench '$(KAFKA_BENCH)' -benchtime=$(KAFKA_BENCHTIME) -count=$(KAFKA_BENCHCOUNT) ./e2e/ | tee $(KAFKA_BENCH_OUT)
	@awk -v runs=$(KAFKA_BENCHCOUNT) -v recs=$(KAFKA_BENCHTIME) "$$KAFKA_BENCH_SUMMARY" $(KAFKA_BENCH_OUT)
	@if pgrep -a -f -- "$(CURDIR)/bi[n]/streamlab"; then echo "bench: a node outlived the benchmarks" >&2; exit 1; fi

soak: ## the failover simulations over more seeds (make soak SEEDS=2000)
	$(MAKE) --no-print-directory test-sim SEEDS=$(or $(SEEDS),2000)

clean: ## remove build outputs and screenshots
	rm -rf bin $(WASM) e2e/out
