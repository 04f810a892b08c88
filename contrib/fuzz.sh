#!/bin/sh
# Runs every Go fuzz target in the repository for FUZZTIME each (default
# 10s), then the libFuzzer targets of the C parsers. Usage:
# contrib/fuzz.sh [package-pattern...]   (default ./...)
# A crash is written to testdata/fuzz/<Target>/ beside the test: commit
# it, it is then a regular regression test of `go test`.
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
GO=${GO:-go}
# Minimising is bounded by count, not time: targets whose coverage varies
# with goroutine scheduling (parallel gunzip, file writers) otherwise spend
# the whole run minimising inputs that never reproduce.
MINTIME=${FUZZMINIMIZETIME:-50x}
# Store and layer targets fsync a lot: tmpfs keeps them fast.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
[ $# -gt 0 ] || set -- ./...
fail=0
runs=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for pkg in $($GO list "$@"); do
	dir=$($GO list -f '{{.Dir}}' "$pkg")
	[ -f "$dir/fuzz_test.go" ] || continue
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(f \*testing\.F).*/\1/p' "$dir/fuzz_test.go"); do
		runs=$((runs + 1))
		echo "== $pkg $target ($FUZZTIME)"
		corpus="$dir/testdata/fuzz/$target"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		if $GO test "$pkg" -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$MINTIME" >"$out" 2>&1; then
			grep 'execs:' "$out" | tail -1
		elif [ "$(ls "$corpus" 2>/dev/null | wc -l)" -eq "$before" ] &&
			grep -q '^    context deadline exceeded$' "$out"; then
			# Go <1.27's fuzz coordinator can report its own -fuzztime
			# deadline as a failure (golang/go#75804); no input was
			# written, so nothing was found.
			grep 'execs:' "$out" | tail -1
			echo "note: $target: fuzztime deadline reported as a failure by the Go fuzz coordinator (golang/go#75804); no crasher written"
		else
			grep -v '^fuzz: elapsed' "$out"
			echo "FAIL: $pkg $target (the input is in $corpus)"
			fail=1
		fi
	done
done

# The C parsers of the constructor (libcontainer/nsexec/fuzz/*.c): libFuzzer
# targets built with clang, ASan and UBSan. Leak checking is off: the
# process they parse for exits or execs right after. A crasher is written to
# .cache/fuzz/<target>/; add it to the target's corpus/ directory.
secs=$(echo "$FUZZTIME" | sed -n 's/^\([0-9]*\)s$/\1/p; s/^\([0-9]*\)m$/\1 60/p' | awk '{ print $1 * ($2 ? $2 : 1) }')
[ -n "$secs" ] || { echo "fuzz: FUZZTIME $FUZZTIME: want Ns or Nm for the C targets" >&2; exit 1; }
CLANG=${CLANG:-clang}
cdir=libcontainer/nsexec/fuzz
for src in "$cdir"/*.c; do
	target=$(basename "$src" .c)
	work=.cache/fuzz/$target
	mkdir -p "$work/corpus"
	runs=$((runs + 1))
	echo "== $cdir $target (${secs}s, libFuzzer)"
	if ! $CLANG -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -I libcontainer/nsexec "$src" -o "$work/fuzzer"; then
		echo "FAIL: $target does not build"
		fail=1
		continue
	fi
	if ASAN_OPTIONS=detect_leaks=0 "$work/fuzzer" -max_total_time="$secs" -detect_leaks=0 \
		-artifact_prefix="$work/" "$work/corpus" "$cdir/corpus/$target" >"$out" 2>&1; then
		tail -n 1 "$out"
	else
		grep -v '^#' "$out" | tail -n 40
		echo "FAIL: $cdir $target (the input is in $work/)"
		fail=1
	fi
done
echo "fuzz: $runs targets, $FUZZTIME each"
exit $fail
