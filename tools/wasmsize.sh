#!/usr/bin/env bash
# wasmsize.sh [FILE]: the download size of the wasm app, raw, gzip -9 and
# brotli -q 11 (what a server would send precompressed). MB = 10^6 bytes.
set -euo pipefail
f=${1:-static/web/app.wasm}
if [ ! -f "$f" ]; then
  echo "wasmsize: $f is missing: run make wasm" >&2
  exit 1
fi
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB (%d bytes)", b / 1e6, b }'; }

echo "wasm size of $f:"
echo "  raw     $(mb "$(stat -c %s "$f")")"
echo "  gzip    $(mb "$(gzip -9 -c "$f" | wc -c)")"
if command -v brotli >/dev/null; then
  echo "  brotli  $(mb "$(brotli -q 11 -c "$f" | wc -c)")   (budget: 4.5 MB)"
else
  echo "  brotli  not measured: the brotli CLI is not installed (apt-get install brotli)"
fi
