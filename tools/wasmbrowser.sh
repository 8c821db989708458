#!/usr/bin/env bash
# wasmbrowser.sh: run Go wasm test binaries in headless Chromium, with
# wasmbrowsertest (pinned below) as the runner.
#
#   tools/wasmbrowser.sh build     builds the runner into bin/ (needs the
#                                  network the first time: run it outside
#                                  netns-run)
#   GOOS=js GOARCH=wasm go test -exec "$PWD/tools/wasmbrowser.sh" ./wasm/...
#
# Why not a `tool` line in go.mod: in this module the runner would build
# against chromedp v0.22.1 (the generic API, which e2e uses), and
# wasmbrowsertest v0.11.0 only compiles with the chromedp v0.10.0 its own
# go.mod asks for. So it is built as its own module, with its own go.sum.
#
# The browser is WASMBROWSER_CHROME (default Debian's /usr/lib/chromium/chromium)
# with the flags DESIGN.md lists; chromedp adds --headless, a fresh
# --user-data-dir, and --no-sandbox when run as root. Chrome's processes must not
# outlive a test binary: any left, found by their user-data-dir, are killed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runner=$root/bin/wasmbrowsertest
version=v0.11.0

if [ "${1:-}" = build ]; then
  go=${GO:-go}
  dir=$(cd "${TMPDIR:-/tmp}" && env -u GOOS -u GOARCH GOFLAGS= "$go" mod download -json "github.com/agnivade/wasmbrowsertest@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "wasmbrowser.sh: could not download wasmbrowsertest $version" >&2; exit 1; }
  mkdir -p "$root/bin"
  (cd "$dir" && env -u GOOS -u GOARCH GOFLAGS= GOWORK=off "$go" build -o "$runner" .)
  exit 0
fi

[ -x "$runner" ] || { echo "wasmbrowser.sh: no $runner: run tools/wasmbrowser.sh build first" >&2; exit 2; }
chrome=${WASMBROWSER_CHROME:-/usr/lib/chromium/chromium}
[ -x "$chrome" ] || { echo "wasmbrowser.sh: no browser at $chrome (set WASMBROWSER_CHROME)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wasmbrowser.XXXXXX")
cleanup() {
  local p
  for p in /proc/[0-9]*; do
    # A process may exit between the glob and the read.
    if { tr '\0' '\n' <"$p/cmdline"; } 2>/dev/null | grep -q -- "^--user-data-dir=$tmp/"; then
      echo "wasmbrowser.sh: killing leftover browser process ${p#/proc/}" >&2
      kill -9 "${p#/proc/}" 2>/dev/null || true
    fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# chromedp tries browser names on PATH in order, headless_shell first: a shim
# of that name at PATH's front makes it start ours, with our flags. WebRTC
# in a loopback-only namespace: loopback host candidates allowed, and a
# fake microphone that getUserMedia gets without asking. Without that
# permission Chromium only gathers on the default route's interface (none
# here): no candidate at all. Tests that use WebRTC call getUserMedia once.
mkdir "$tmp/bin"
cat >"$tmp/bin/headless_shell" <<EOF
#!/bin/sh
exec "$chrome" --disable-gpu --disable-quic --disable-component-update \\
  --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream --use-fake-device-for-media-stream "\$@"
EOF
chmod +x "$tmp/bin/headless_shell"

# chromedp v0.10.0 logs every DevTools event it cannot decode; a newer
# Chromium sends enum values it does not know (IPAddressSpace "Loopback")
# in events the runner never reads. Those lines are dropped.
set +e
{ PATH="$tmp/bin:$PATH" TMPDIR=$tmp "$runner" "$@" 2>&1 1>&3 3>&- |
  grep -v --line-buffered 'could not unmarshal event: unknown ' >&2; } 3>&1
status=${PIPESTATUS[0]}
exit "$status"
