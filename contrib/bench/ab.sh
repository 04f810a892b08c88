#!/bin/sh
# ab.sh OLD NEW: A/B two myrun binaries by counts that do not drift with
# the machine's load (root). Alternating runs; prints the median of N for
#  - syscalls per verb (strace -f -c), all and without the scheduler's
#    (futex, nanosleep, sched_yield, epoll_pwait, tgkill, getpid, rt_sigreturn),
#  - user-space instructions per verb (cachegrind; only the verbs valgrind
#    3.19 can run: --version, create's parent, state, delete),
#  - syscalls and context switches of `run` and `exec` without a tracer
#    (perf stat on the raw_syscalls:sys_enter tracepoint, which needs no
#    PMU): strace slows every syscall, which stretches the Go runtime's
#    time-based scheduling (sysmon's 20 us ticks, 10 ms preemption) and so
#    inflates the scheduler calls it counts. Skipped when perf cannot.
#   N=5  OUT=/tmp/myrun-ab
set -eu
[ $# = 2 ] || { echo "usage: $0 OLD NEW" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "ab: must run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N=${N:-5}
OUT=${OUT:-/tmp/myrun-ab}
work=$(mktemp -d /var/tmp/myrun-ab.XXXXXX)
state=$(mktemp -d /run/myrun-ab.XXXXXX)
cg=myrun-ab-$$
cleanup() {
	for b in "$1" "$2"; do
		for d in "$state"/*; do [ -d "$d" ] && "$b" --root "$state" delete --force "$(basename "$d")" >/dev/null 2>&1 || true; done
	done
	for d in /sys/fs/cgroup/*/$cg /sys/fs/cgroup/unified/$cg; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	rm -rf "$work" "$state"
}
trap 'cleanup "$A" "$B"' EXIT INT TERM
A=$(realpath "$1")
B=$(realpath "$2")
mkdir -p "$OUT"
: >"$OUT/sys"
: >"$OUT/ins"
: >"$OUT/perf"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/driver" ./contrib/bench/driver)
REPO=$repo "$work/driver" -make-bundle "$work/true" -cgroups-path "/$cg/t" /bin/true
REPO=$repo "$work/driver" -make-bundle "$work/sleep" -cgroups-path "/$cg/s" /bin/sleep 100000

# sc FILE: "calls work" from an strace -c summary
sc() {
	awk '$NF == "total" { t = $4 }
		$NF ~ /^(futex|nanosleep|sched_yield|epoll_pwait|epoll_wait|tgkill|getpid|rt_sigreturn|restart_syscall)$/ && $1 ~ /\./ { s += $4 }
		END { print t, t - s }' "$1"
}
ir() { grep -o 'I *refs: *[0-9,]*' "$1" | tr -d , | awk '{ print $NF }'; }
tr_() { strace -f -c -o "$work/s" "$@" >/dev/null 2>&1; sc "$work/s"; }
# pc CMD...: "syscalls context-switches" of CMD and its children, no tracer
pc() {
	perf stat -x, -e raw_syscalls:sys_enter,context-switches "$@" 2>"$work/p" >/dev/null || true
	awk -F, '$3 ~ /sys_enter/ { s = $1 } $3 ~ /context-switches/ { c = $1 } END { print s, c }' "$work/p"
}
haveperf=0
perf stat -x, -e raw_syscalls:sys_enter true 2>/dev/null && haveperf=1
vg() { GODEBUG=asyncpreemptoff=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" >/dev/null 2>"$work/v" || true; ir "$work/v"; }

i=0
while [ $i -lt "$N" ]; do
	i=$((i + 1))
	# shellcheck disable=SC2154 # bin is set by the eval
	for tag in A B; do
		eval bin=\$$tag
		R="--root $state"
		id=ab-$tag-$i
		echo "$tag run $(tr_ "$bin" $R run --bundle "$work/true" "$id-r")" >>"$OUT/sys"
		"$bin" $R create --bundle "$work/true" "$id"
		echo "$tag state $(tr_ "$bin" $R state "$id")" >>"$OUT/sys"
		echo "$tag start $(tr_ "$bin" $R start "$id")" >>"$OUT/sys"
		k=0
		while [ $k -lt 200 ] && ! "$bin" $R state "$id" | grep -q '"stopped"'; do k=$((k + 1)); sleep 0.01; done
		echo "$tag delete $(tr_ "$bin" $R delete "$id")" >>"$OUT/sys"
		"$bin" $R run -d --bundle "$work/sleep" "$id-x" >/dev/null
		echo "$tag exec $(tr_ "$bin" $R exec "$id-x" /bin/true)" >>"$OUT/sys"
		if [ $haveperf = 1 ]; then
			echo "$tag exec $(pc "$bin" $R exec "$id-x" /bin/true)" >>"$OUT/perf"
			echo "$tag run $(pc "$bin" $R run --bundle "$work/true" "$id-p")" >>"$OUT/perf"
		fi
		echo "$tag --version $(vg "$bin" --version)" >>"$OUT/ins"
		echo "$tag state $(vg "$bin" $R state "$id-x")" >>"$OUT/ins"
		"$bin" $R kill "$id-x" KILL
		k=0
		while [ $k -lt 200 ] && ! "$bin" $R state "$id-x" | grep -q '"stopped"'; do k=$((k + 1)); sleep 0.01; done
		echo "$tag delete $(vg "$bin" $R delete "$id-x")" >>"$OUT/ins"
		echo "$tag create $(vg "$bin" $R create --bundle "$work/true" "$id-c")" >>"$OUT/ins"
		"$bin" $R delete --force "$id-c" >/dev/null 2>&1 || true
	done
done

med() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "A = $A"
echo "B = $B"
echo "syscalls (strace -f -c, median of $N): verb  A all / A excl. scheduler  ->  B all / B excl. scheduler"
for v in run state start delete exec; do
	printf '  %-8s %6s / %6s  ->  %6s / %6s\n' "$v" \
		"$(awk -v v=$v '$1 == "A" && $2 == v { print $3 }' "$OUT/sys" | med)" "$(awk -v v=$v '$1 == "A" && $2 == v { print $4 }' "$OUT/sys" | med)" \
		"$(awk -v v=$v '$1 == "B" && $2 == v { print $3 }' "$OUT/sys" | med)" "$(awk -v v=$v '$1 == "B" && $2 == v { print $4 }' "$OUT/sys" | med)"
done
echo "instructions (cachegrind, runtime process only, median of $N): verb  A -> B"
for v in --version create state delete; do
	printf '  %-10s %10s  ->  %10s\n' "$v" \
		"$(awk -v v=$v '$1 == "A" && $2 == v { print $3 }' "$OUT/ins" | med)" "$(awk -v v=$v '$1 == "B" && $2 == v { print $3 }' "$OUT/ins" | med)"
done
if [ $haveperf = 1 ]; then
	echo "syscalls / context switches without a tracer (perf stat, median of $N): verb  A  ->  B"
	for v in run exec; do
		printf '  %-8s %6s / %5s  ->  %6s / %5s\n' "$v" \
			"$(awk -v v=$v '$1 == "A" && $2 == v { print $3 }' "$OUT/perf" | med)" "$(awk -v v=$v '$1 == "A" && $2 == v { print $4 }' "$OUT/perf" | med)" \
			"$(awk -v v=$v '$1 == "B" && $2 == v { print $3 }' "$OUT/perf" | med)" "$(awk -v v=$v '$1 == "B" && $2 == v { print $4 }' "$OUT/perf" | med)"
	done
fi
rm -f "$OUT/sys" "$OUT/ins" "$OUT/perf"
