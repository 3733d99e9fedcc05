#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzXxx(f *testing.F)) of every module in
# go.work, one at a time, each for FUZZTIME (default 30s) with FUZZ_PARALLEL
# workers (default 2). A failing input is written by `go test` to
# testdata/fuzz/<FuzzName>/ in the target's package, to be kept as a
# regression case. Exits non-zero if any target failed.
#
#   deploy/fuzz.sh                      # from the repository root
#   FUZZTIME=5m FUZZ_PARALLEL=1 deploy/fuzz.sh
set -euo pipefail

cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-30s}"
parallel="${FUZZ_PARALLEL:-2}"

run=0
failed=()
raced=()

# The output of the target running, kept to tell Go's own deadline race
# from a failure; removed on exit.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# reproducers DIR NAME counts the failing inputs of fuzz target NAME that
# go test has written in the package in DIR.
reproducers() {
	local corpus="$1/testdata/fuzz/$2"
	if [[ -d $corpus ]]; then
		find "$corpus" -type f | wc -l
	else
		echo 0
	fi
}

# fuzz MODULE DIR PKG NAME runs one target; it fails if the target does.
# Go before 1.27 may fail a target with "context deadline exceeded" as
# -fuzztime ends, having found nothing (golang/go#75804): such a run, which
# wrote no failing input, counts as passed and is listed apart.
fuzz() {
	local module="$1" dir="$2" pkg="$3" name="$4" before
	before="$(reproducers "$dir" "$name")"
	if (cd "$module" && go test -run '^$' -fuzz "^$name\$" -fuzztime="$fuzztime" -parallel="$parallel" "$pkg" </dev/null) 2>&1 | tee "$log"; then
		return 0
	fi
	if [[ "$(reproducers "$dir" "$name")" == "$before" ]] && grep -qx '[[:space:]]*context deadline exceeded' "$log"; then
		echo "--> $name: \"context deadline exceeded\" at the end of -fuzztime, no failing input: Go's race (golang/go#75804), counted as passed"
		raced+=("$pkg $name")
		return 0
	fi
	return 1
}

# `go list -m` in workspace mode lists the modules that go.work uses.
while read -r module; do
	# Only packages whose test files declare a fuzz target are asked for
	# their list: `go test -list` builds and starts each test binary (and
	# runs its TestMain, which for the end-to-end tests builds the system).
	while read -r pkg dir; do
		if ! grep -qs '^func Fuzz' "$dir"/*_test.go; then
			continue
		fi
		if ! listing="$(cd "$module" && go test -list '^Fuzz' "$pkg" </dev/null)"; then
			echo "$listing"
			echo "FAIL: cannot list the fuzz targets of $pkg" >&2
			failed+=("$pkg (listing)")
			continue
		fi
		for name in $(grep '^Fuzz' <<<"$listing" || true); do
			echo
			echo "==> $pkg $name (fuzztime $fuzztime, $parallel workers)"
			run=$((run + 1))
			if ! fuzz "$module" "$dir" "$pkg" "$name"; then
				failed+=("$pkg $name")
			fi
		done
	done < <(cd "$module" && go list -f '{{.ImportPath}} {{.Dir}}' ./...)
done < <(go list -m -f '{{.Dir}}')

echo
echo "fuzz: $run targets run, ${#failed[@]} failed"
for f in "${raced[@]}"; do
	echo "  passed, but stopped by Go's fuzztime race: $f"
done
for f in "${failed[@]}"; do
	echo "  FAIL $f"
done
if ((${#failed[@]} > 0)); then
	exit 1
fi
if ((run == 0)); then
	echo "fuzz: no fuzz target found" >&2
	exit 1
fi
