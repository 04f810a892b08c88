# Shared helpers for the drop-in harness (sourced by run.sh; bash).
# Case protocol: a case is a shell function run in a subshell under
# `timeout`; it succeeds by returning 0, fails with `die REASON`, and skips
# with `skip REASON`. Its output goes to $DROPIN_TMP/logs/NAME.log.

DROPIN_PASSED=0
DROPIN_FAILED=0
DROPIN_SKIPPED=0
: "${DROPIN_TIMEOUT:=60}"
: "${DROPIN_ONLY:=}"

die() {
	printf '%s\n' "$*" >"$CASE_REASON"
	exit 1
}

skip() {
	printf '%s\n' "$*" >"$CASE_REASON"
	exit 77
}

# tcase NAME FUNCTION [TIMEOUT]
tcase() {
	local name=$1 fn=$2 to=${3:-$DROPIN_TIMEOUT} rc reason log where=
	if [ -n "$DROPIN_ONLY" ] && ! [[ $name =~ $DROPIN_ONLY ]]; then
		return 0
	fi
	log=$DROPIN_TMP/logs/${name//\//_}.log
	CASE_REASON=$DROPIN_TMP/logs/${name//\//_}.reason
	export CASE_REASON
	: >"$CASE_REASON"
	# A fresh bash with our functions exported: timeout(1) kills its whole
	# process group, so a hanging runtime or engine call ends with the case.
	timeout -k 5 "$to" bash -c "$fn" >"$log" 2>&1 </dev/null
	rc=$?
	reason=$(head -c 300 "$CASE_REASON" | tr '\n' ' ')
	reason=${reason% }
	# The temp dir is removed at the end unless kept or copied.
	if [ -n "${DROPIN_KEEP:-}" ]; then
		where=" (log: $log)"
	elif [ -n "${DROPIN_ARTIFACTS:-}" ]; then
		where=" (log: $DROPIN_ARTIFACTS/logs/$(basename "$log"))"
	fi
	case $rc in
	0)
		DROPIN_PASSED=$((DROPIN_PASSED + 1))
		echo "ok $name"
		;;
	77)
		DROPIN_SKIPPED=$((DROPIN_SKIPPED + 1))
		echo "skip $name: $reason"
		;;
	124 | 137)
		DROPIN_FAILED=$((DROPIN_FAILED + 1))
		echo "FAIL $name: timed out after ${to}s$where"
		;;
	*)
		DROPIN_FAILED=$((DROPIN_FAILED + 1))
		echo "FAIL $name: ${reason:-exit status $rc}$where"
		;;
	esac
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		sed 's/^/    | /' "$log" | tail -n 8
	fi
	return 0
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || die "$1: got '$2', want '$3'"
}

# expect_contains WHAT HAYSTACK NEEDLE
expect_contains() {
	case $2 in
	*"$3"*) ;;
	*) die "$1: '$(printf %s "$2" | head -c 200)' does not contain '$3'" ;;
	esac
}

# retry N CMD...: run CMD up to N times, 0.2 s apart, until it succeeds.
retry() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

# in_tty CMD...: run CMD with a real terminal (script(1)); prints its output
# with carriage returns removed. script runs CMD through $SHELL, which need not
# be bash (CI's is not): pin it, so the exported helper functions exist.
in_tty() {
	local q
	q=$(printf '%q ' "$@")
	SHELL=/bin/bash script -qefc "$q" /dev/null </dev/null | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

# cgroup_file PID CONTROLLER FILE: the host path of FILE in PID's v1 cgroup.
cgroup_file() {
	local path
	path=$(awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' "/proc/$1/cgroup")
	[ -n "$path" ] || return 1
	echo "/sys/fs/cgroup/$2$path/$3"
}

# make_trace_wrapper REAL WRAPPER_DIR LOG: a script with the real runtime's
# basename (engines derive the runtime's name from it, e.g. podman's
# runtime_supports_json) that logs each call's argv, exit status and time, and
# keeps a copy of every bundle's config.json in LOG.configs/ID.json and the
# error lines of a failed call's --log file in LOG.errors.
make_trace_wrapper() {
	local real=$1 dir=$2 log=$3 w
	w=$dir/$(basename "$real")
	mkdir -p "$dir" "$log.configs"
	cat >"$w" <<WRAP
#!/bin/sh
# drop-in trace wrapper: argv and exit status of every runtime call
printf '%s %s\n' "\$\$" "\$*" >>'$log'
prev= bundle= last= rlog=
for a; do
	case \$prev in --bundle|-b) bundle=\$a ;; --log) rlog=\$a ;; esac
	prev=\$a last=\$a
done
[ -n "\$bundle" ] && cp "\$bundle/config.json" '$log.configs'/"\$last.json" 2>/dev/null
t0=\$(date +%s%N)
'$real' "\$@"
rc=\$?
printf '%s rc=%s ms=%s\n' "\$\$" "\$rc" "\$(( (\$(date +%s%N) - t0) / 1000000 ))" >>'$log'
# A failed call's error lines from the runtime's own log (engines pass
# --log FILE and read it back): what the engine should have reported.
[ "\$rc" != 0 ] && [ -n "\$rlog" ] && grep '"level":"error"' "\$rlog" >>'$log.errors' 2>/dev/null
exit \$rc
WRAP
	chmod 0755 "$w"
	: >>"$log"
	echo "$w"
}

# pids_referring STRING: PIDs (but ours) whose command line contains STRING.
pids_referring() {
	local p c
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$BASHPID" ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $c in *"$1"*) echo "${p#/proc/}" ;; esac
	done
}

# last_runtime_error TRACE_LOG: the message of the last error line a traced
# runtime wrote to its --log file (JSON log format).
last_runtime_error() {
	tail -n 1 "$1.errors" 2>/dev/null | sed -n 's/.*"msg":"\(\([^"\\]\|\\.\)*\)".*/\1/p'
}

export -f pids_referring last_runtime_error die skip expect_eq expect_contains retry in_tty cgroup_file
