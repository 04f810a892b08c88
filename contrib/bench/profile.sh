#!/bin/sh
# profile.sh: where does a runtime spend `run /bin/true`? For each runtime:
# process/thread/exec counts and a timeline (strace --seccomp-bpf on the
# process syscalls only, so the rest runs at full speed), syscall counts
# (strace -f -c), perf stat over N runs, myrun's own --debug step timings,
# and with PERF=1 a perf profile of an unstripped myrun.
#
#   contrib/bench/profile.sh [myrun runc crun]     (root)
#   N=30 (perf stat runs)  MYRUN=bin/myrun  OUT=/tmp/myrun-bench-profile
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "profile: must run as root" >&2; exit 1; }
N=${N:-30}
OUT=${OUT:-/tmp/myrun-bench-profile}
MYRUN=${MYRUN:-$repo/bin/myrun}
[ $# -gt 0 ] || set -- myrun runc crun
work=$(mktemp -d /var/tmp/myrun-bench-profile.XXXXXX)
state=$(mktemp -d /run/myrun-bench-profile.XXXXXX)
cg=bench-prof-$$
cleanup() {
	for d in "$state"/*/*; do
		[ -d "$d" ] || continue
		rt=$(basename "$(dirname "$d")")
		run_rt "$rt" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
	done
	for d in /sys/fs/cgroup/*/$cg; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	rm -rf "$work" "$state"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/driver" ./contrib/bench/driver)
REPO=$repo "$work/driver" -make-bundle "$work/bundle" -cgroups-path "/$cg/c"

bin_of() {
	case $1 in
	myrun) echo "$MYRUN" ;;
	*) command -v "$1" ;;
	esac
}

# run_rt RT ARGS...: the runtime with its own --root; crun in a private mount
# namespace where the hybrid host's cgroup2 mount is hidden (it refuses hybrid).
run_rt() {
	rt=$1
	shift
	b=$(bin_of "$rt")
	mkdir -p "$state/$rt"
	if [ "$rt" = crun ]; then
		unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"' sh \
			${WRAP:-} "$b" --root "$state/$rt" "$@"
	else
		${WRAP:-} "$b" --root "$state/$rt" "$@"
	fi
}

i=0
nextid() { i=$((i + 1)); echo "prof-$i"; }

for rt in "$@"; do
	b=$(bin_of "$rt") || { echo "profile: $rt not found" >&2; continue; }
	[ -x "$b" ] || { echo "profile: $b not executable" >&2; continue; }
	echo "== $rt ($b, $(stat -c %s "$b") bytes)"
	# warm up page cache
	run_rt "$rt" run --bundle "$work/bundle" "$(nextid)" >/dev/null

	# 1. processes, threads and execs (strace, process syscalls only)
	WRAP="strace -f --seccomp-bpf -e trace=execve,execveat,clone,clone3,fork,vfork -o $OUT/$rt.proc" \
		run_rt "$rt" run --bundle "$work/bundle" "$(nextid)" >/dev/null
	awk '/execve\(|execveat\(/ && !/resumed/ { ex++; split($0, a, "\""); n = a[2]; if (n == "") n = "<execveat fd>"; execs = execs " " n }
		/clone3?\(/ && /CLONE_THREAD/ { th++ }
		(/clone3?\(|vfork\(|fork\(/) && !/CLONE_THREAD/ && !/resumed/ { pr++ }
		END { printf "  execs: %d (%s)\n  processes forked: %d, threads created: %d\n", ex, execs, pr, th }' "$OUT/$rt.proc"

	# 1b. timeline from sched tracepoints (cheap, unlike strace -f on Go)
	if command -v perf >/dev/null 2>&1; then
		k=0
		while [ $k -lt 10 ]; do
			k=$((k + 1))
			WRAP="perf record -q -e sched:sched_process_fork,sched:sched_process_exec,sched:sched_process_exit -o $work/sched.$rt.$k" \
				run_rt "$rt" run --bundle "$work/bundle" "$(nextid)" >/dev/null 2>&1
			perf script -i "$work/sched.$rt.$k" >"$OUT/$rt.sched.$k" 2>/dev/null
		done
		"$work/driver" -timeline "$OUT/$rt".sched.* || true
	fi

	# 2. syscall counts of the whole tree
	WRAP="strace -f -c -o $OUT/$rt.count" run_rt "$rt" run --bundle "$work/bundle" "$(nextid)" >/dev/null
	awk '/total/ { printf "  syscalls: %d (errors %s)\n", $4, $5 }' "$OUT/$rt.count"
	printf "  top by calls:"
	sed -n '3,$p' "$OUT/$rt.count" | grep -v -- '---\|total' | sort -k4 -n -r | head -8 |
		awk '{ printf " %s=%d", $NF, $4 }'
	echo

	# 3. perf stat over N runs (software events; this VM has no PMU)
	if command -v perf >/dev/null 2>&1; then
		: >"$OUT/$rt.perf"
		k=0
		while [ $k -lt "$N" ]; do
			k=$((k + 1))
			WRAP="perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults -o $OUT/$rt.perf --append" \
				run_rt "$rt" run --bundle "$work/bundle" "$(nextid)" >/dev/null
		done
		awk -F, '$3 ~ /task-clock|context-switches|cpu-migrations|page-faults/ { s[$3] += $1; n[$3]++ }
			END { printf "  perf stat (mean of %d runs): task-clock %.2f ms, ctx-switches %.1f, migrations %.1f, page-faults %.0f\n",
				n["task-clock"], s["task-clock"] / n["task-clock"], s["context-switches"] / n["context-switches"],
				s["cpu-migrations"] / n["cpu-migrations"], s["page-faults"] / n["page-faults"] }' "$OUT/$rt.perf"
	fi

	# 4. myrun's own step timings
	if [ "$rt" = myrun ]; then
		run_rt myrun --debug run --bundle "$work/bundle" "$(nextid)" >"$OUT/myrun.debug" 2>&1 || true
		grep -E 'msg="?(start init|namespaces ready|prepare rootfs|finalize rootfs|pivot_root|created|wait for start|set user)' "$OUT/myrun.debug" |
			sed 's/^time=[^ ]* level=debug /  debug: /' | head -12
	fi
done

# 5. optional CPU profile of myrun built with symbols, all runs in one session
if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null 2>&1; then
	echo "== perf record: myrun with symbols, $N runs"
	(cd "$repo" && CGO_ENABLED=1 GOEXPERIMENT=jsonv2 go build -trimpath -tags 'netgo osusergo urfave_cli_no_template' -ldflags "-linkmode external -extldflags '-static'" -o "$work/myrun-sym" ./runtime)
	perf record -q -F 15000 -g -o "$work/perf.data" -- sh -c '
		i=0; while [ $i -lt "$1" ]; do i=$((i + 1)); "$2" --root "$3" run --bundle "$4" "perf-$i" >/dev/null 2>&1; done' \
		sh "$N" "$work/myrun-sym" "$state/myrun" "$work/bundle"
	echo "  samples by process (myrun-sym = parent, digits = the sealed init, true = workload):"
	perf report -q -i "$work/perf.data" --sort comm --stdio -g none 2>/dev/null | head -5 | sed 's/^/   /'
	echo "  parent, inclusive, myrun/json/cgroups frames:"
	perf report -q -i "$work/perf.data" --comm myrun-sym --children --sort sym --stdio -g none 2>/dev/null |
		grep -E 'myrun-org|encoding/json\.(Unmarshal|Marshal|cachedTypeFields|typeEncoder)|opencontainers/cgroups|runtime\.schedinit' |
		head -25 | tee "$OUT/myrun.perf-top" | sed 's/^/   /'
	echo "  parent, kernel, inclusive:"
	perf report -q -i "$work/perf.data" --comm myrun-sym --children --sort sym --stdio -g none 2>/dev/null |
		grep '\[k\]' | head -12 | sed 's/^/   /'
fi
echo "raw traces: $OUT"
