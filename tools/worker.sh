#!/usr/bin/env bash
# worker.sh: build, run and deploy the classroom signaling worker
# (wasm/worker: room.Handler on D1, served by github.com/syumai/workers) with
# the wrangler pinned in tools/worker/package.json.
#
#   tools/worker.sh install        npm ci of tools/worker (needs the npm
#                                  registry: run it outside netns-run; a
#                                  no-op when node_modules is current)
#   tools/worker.sh build          the JS glue (syumai/workers' workers-assets-gen)
#                                  and the wasm, into bin/worker/ with a copy
#                                  of wrangler.toml (with WORKER_D1_ID as its
#                                  database_id, if set) and migrations/
#                                  (needs the Go modules: run it outside
#                                  netns-run)
#   tools/worker.sh dev [PORT]     applies the migrations to a local D1, then
#                                  wrangler dev --local on 127.0.0.1:PORT
#                                  (default 8787), offline; its state goes to
#                                  WORKER_STATE (default bin/worker/state).
#                                  It execs wrangler: kill its process group
#                                  to stop it (wrangler starts workerd).
#                                  WORKER_RATE_LIMIT=N: N requests per 10 s
#                                  per client (default 600, wrangler.toml).
#                                  WORKER_STDIN_WATCH=1: the group leader
#                                  stops the group when stdin closes (tests)
#   tools/worker.sh deploy         migrations to the remote D1, then wrangler
#                                  deploy (needs `wrangler login` or
#                                  CLOUDFLARE_API_TOKEN, and a build with
#                                  WORKER_D1_ID set to the D1 database's id)
#   tools/worker.sh wrangler ARGS  the pinned wrangler, run in bin/worker/
#                                  (e.g. `d1 create streamlab-classroom`)
#
# Node 20 or later (wrangler 4.60.0 runs on node 20; newer ones need 22).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/tools/worker
out=$root/bin/worker
wrangler=$tools/node_modules/.bin/wrangler
go=${GO:-go}

# No metrics, no prompts (wrangler's update check fails quietly offline).
export WRANGLER_SEND_METRICS=false CLOUDFLARE_TELEMETRY_DISABLED=1 CI=true
export WRANGLER_LOG_PATH=$out/logs

die() { echo "worker.sh: $*" >&2; exit 2; }

need_wrangler() {
  [ -x "$wrangler" ] || die "no $wrangler: run tools/worker.sh install first"
}

need_build() {
  [ -f "$out/build/app.wasm" ] && [ -f "$out/wrangler.toml" ] || die "no $out/build/app.wasm: run tools/worker.sh build first"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
install)
  command -v npm >/dev/null || die "npm not found (node 20 or later with npm)"
  stamp=$tools/node_modules/.streamlab-lock
  sum=$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)
  if [ -x "$wrangler" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
    exit 0
  fi
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$sum" >"$stamp"
  ;;
build)
  # workers-assets-gen empties its output directory: it goes first.
  (cd "$root" && env -u GOOS -u GOARCH "$go" run github.com/syumai/workers/cmd/workers-assets-gen -mode=go -o "$out/build")
  (cd "$root" && GOOS=js GOARCH=wasm "$go" build -trimpath -ldflags='-s -w' -o "$out/build/app.wasm" ./wasm/worker)
  cp "$root/wasm/worker/entry.mjs" "$out/build/entry.mjs"
  cp "$root/wasm/worker/wrangler.toml" "$out/wrangler.toml"
  if [ -n "${WORKER_D1_ID:-}" ]; then
    sed -i "s/^database_id = .*/database_id = \"$WORKER_D1_ID\"/" "$out/wrangler.toml"
  fi
  rm -rf "$out/migrations"
  cp -r "$root/wasm/worker/migrations" "$out/migrations"
  echo "worker.sh: built $out/build ($(du -k "$out/build/app.wasm" | cut -f1) KiB of wasm, $(gzip -9 -c "$out/build/app.wasm" | wc -c) bytes gzipped)"
  ;;
dev)
  need_wrangler
  need_build
  port=${1:-8787}
  state=${WORKER_STATE:-$out/state}
  mkdir -p "$state"
  # wrangler's own files (its dev registry, logs) stay out of ~/.config.
  export XDG_CONFIG_HOME=$out/config
  cd "$out"
  config=wrangler.toml
  if [ -n "${WORKER_RATE_LIMIT:-}" ]; then
    # A config of this run's own, in its state directory, with absolute
    # paths to the build and the migrations.
    config=$state/wrangler.toml
    sed -e "s|^simple = { limit = [0-9]*,|simple = { limit = $WORKER_RATE_LIMIT,|" \
      -e "s|^main = \"build/|main = \"$out/build/|" \
      -e "s|^migrations_dir = \"|migrations_dir = \"$out/|" wrangler.toml >"$config"
  fi
  "$wrangler" d1 migrations apply streamlab-classroom --local --config "$config" --persist-to "$state" >&2
  args=(dev --local --config "$config" --ip 127.0.0.1 --port "$port" --inspector-port 0
    --persist-to "$state" --show-interactive-dev-session=false)
  if [ "${WORKER_STDIN_WATCH:-}" != 1 ]; then
    exec "$wrangler" "${args[@]}"
  fi
  # For tests: stop wrangler and what it started (workerd) when stdin
  # closes, that is when the test that started this died without stopping
  # it. That test made this shell a process group leader.
  "$wrangler" "${args[@]}" </dev/null &
  w=$!
  # (A background job's stdin is /dev/null unless redirected: fd 3.)
  exec 3<&0
  (while IFS= read -r _; do :; done <&3; kill -TERM -- "-$$" 2>/dev/null) &
  watcher=$!
  rc=0
  wait "$w" || rc=$?
  kill "$watcher" 2>/dev/null || true
  exit "$rc"
  ;;
deploy)
  need_wrangler
  need_build
  cd "$out"
  if grep -q '^database_id = "00000000-0000-0000-0000-000000000000"' wrangler.toml; then
    die "no database_id: build with WORKER_D1_ID=<the id \`tools/worker.sh wrangler d1 create streamlab-classroom\` printed>"
  fi
  "$wrangler" d1 migrations apply streamlab-classroom --remote
  "$wrangler" deploy
  ;;
wrangler)
  need_wrangler
  mkdir -p "$out"
  cd "$out"
  exec "$wrangler" "$@"
  ;;
*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
