#!/bin/sh
# run.sh: `make bench`. Builds the Go driver and runs the runtime and image
# benchmarks side by side. Root only (containers, cgroups, mounts).
#
#   QUICK=1         fewer iterations and a 20 MB payload (a few minutes);
#                   BENCH_QUICK=1 is the same
#   SKIP_COUNTS=1   no strace/cachegrind counts (syscalls, threads, instructions)
#   RUNS=N          iterations per runtime measurement (default 100, quick 15)
#   RUNTIMES=a,b    runtimes to compare (default myrun,runc,crun)
#   SKIP_IMAGES=1   runtime part only;  SKIP_RUNTIME=1  image part only
#   UPDATE_DOC=1    write the results into docs/benchmarks.md
#   MYRUN=, MYIMG=  binaries to test (default bin/myrun, bin/myimg)
#   OUT=DIR         where results.md/results.json go (default /tmp/myrun-bench-results)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
"$here/install-deps.sh"
GO=${GO:-go}
drv=$(mktemp -d)/bench
trap 'rm -rf "$(dirname "$drv")"' EXIT
(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$drv" ./contrib/bench/driver)
set -- -runtimes "${RUNTIMES:-myrun,runc,crun}"
[ -n "${RUNS:-}" ] && set -- "$@" -runs "$RUNS"
[ "${QUICK:-${BENCH_QUICK:-0}}" = 1 ] && set -- "$@" -quick
[ "${SKIP_COUNTS:-0}" = 1 ] && set -- "$@" -skip-counts
[ "${SKIP_IMAGES:-0}" = 1 ] && set -- "$@" -skip-images
[ "${SKIP_RUNTIME:-0}" = 1 ] && set -- "$@" -skip-runtime
# myrun is measured as installed (install(1) writes it with write(2), as
# apt did runc and crun), not as the linker left it in the page cache:
# a freshly linked bin/myrun maps 1.5-2 MB more of itself per process
# (`--version` peak RSS 8.7 vs 7.0-7.2 MB for the same bytes; at 25327fb
# 9.6-9.7 vs 7.7-7.8, and 7.7-7.8 for bin/myrun once its page cache was
# dropped and read back), an effect of how the linker wrote the file,
# not of what users run (docs/benchmarks.md, speed18d).
if [ -z "${MYRUN:-}" ] && [ -x "$repo/bin/myrun" ]; then
	MYRUN=$(dirname "$drv")/myrun
	install -m 0755 "$repo/bin/myrun" "$MYRUN"
fi
[ -n "${MYRUN:-}" ] && set -- "$@" -myrun "$MYRUN"
[ -n "${MYIMG:-}" ] && set -- "$@" -myimg "$MYIMG"
[ -n "${OUT:-}" ] && set -- "$@" -out "$OUT"
[ "${UPDATE_DOC:-0}" = 1 ] && set -- "$@" -update-doc "$repo/docs/benchmarks.md"
cd "$repo"
REPO=$repo "$drv" "$@"
