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
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# when -fuzztime expires while a worker is mid-call (go.dev/issue/75804, fixed
# in Go 1.27). A real finding always prints "Failing input written", so a bare
# deadline is retried once after a replay of the corpus, which is deterministic.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz_one() {
  "$go" test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}
deadline_race() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}
while read -r pkg name; do
  echo "fuzz: $name ($pkg)"
  fuzz_one && continue
  if deadline_race; then
    echo "fuzz: $name: bare deadline at -fuzztime (go.dev/issue/75804); replaying the corpus and fuzzing once more"
    "$go" test -run="^${name}\$" "$pkg"
    fuzz_one && continue
  fi
  exit 1
done <<<"$targets"
