#!/usr/bin/env bash
# fuzz.sh: run every fuzz target of the module for $FUZZTIME (default 5s) each.
# Targets are discovered with `go test -list`, so new ones are picked up.
# A failing input is written to the package's testdata/fuzz/ by go test: commit
# it with the fix, it then runs in every plain `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-5s}
go=${GO:-go}

list=$("$go" test -list '^Fuzz' ./...) || { printf '%s\n' "$list"; exit 1; }
# Names come first, then the package's "ok  <pkg>  <time>" line.
targets=$(awk '
  /^Fuzz/ { names = names " " $1; next }
  /^ok/   { n = split(names, a, " "); for (i = 1; i <= n; i++) print $2, a[i]; names = "" }
' <<<"$list")

if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets yet"
  exit 0
fi
echo "fuzz: $(wc -l <<<"$targets") targets, $fuzztime each"
while read -r pkg name; do
  echo "fuzz: $name ($pkg)"
  "$go" test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg"
done <<<"$targets"
