# What the engine harnesses (conformance/cri/run.sh, conformance/dropin/run.sh)
# share: argument checks, the child subreaper, and removing host state that
# appeared during a run. Sourced (bash); the caller sets `repo`.

# harness_runtime ARGS...: check for one RUNTIME argument and root, and print
# the runtime's absolute path; fails (status 2) on misuse.
harness_runtime() {
	local rt
	if [ $# -ne 1 ]; then
		echo "usage: $0 RUNTIME" >&2
		exit 2
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "$0: must run as root" >&2
		exit 2
	fi
	rt=$1
	case $rt in
	/*) ;;
	*/*) rt=$(cd "$(dirname "$rt")" && pwd)/$(basename "$rt") ;;
	*) rt=$(command -v "$rt") ;;
	esac
	[ -x "$rt" ] || { echo "$0: runtime $1 is not executable" >&2; exit 2; }
	echo "$rt"
}

# harness_reap VAR: unless VAR is set, re-run this script under a child
# subreaper (engines daemonize conmon, shims and pause processes; they are
# reaped promptly and none outlives the run).
harness_reap() { # VAR RUNTIME
	[ -n "${!1:-}" ] && return 0
	local cache=${CONFORMANCE_CACHE:-$repo/.cache/conformance}
	mkdir -p "$cache"
	(cd "$repo" && "${GO:-go}" build -o "$cache/dropin-subreaper" ./conformance/dropin/subreaper) || exit 2
	export "$1=1"
	exec "$cache/dropin-subreaper" "$0" "$2"
}

# harness_require HINT TOOL...: every TOOL is on PATH, or exit 2 naming HINT.
harness_require() {
	local hint=$1 tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$0: $tool missing: run $hint" >&2; exit 2; }
	done
}

# harness_snapshot DIR: record the cgroups and network namespaces that exist.
harness_snapshot() {
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$1/cgroups"
	ls /run/netns 2>/dev/null | sort >"$1/netns"
}

# harness_remove_new_cgroups DIR REGEX: rmdir the cgroups that appeared since
# harness_snapshot DIR and match REGEX, deepest first; only empty ones go.
harness_remove_new_cgroups() {
	local d
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$1/cgroups.after"
	comm -13 "$1/cgroups" "$1/cgroups.after" | grep -E "$2" |
		awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- | while read -r d; do
		rmdir "$d" 2>/dev/null || echo "cleanup: cgroup $d not empty" >&2
	done
}

# harness_remove_new_netns DIR PREFIX: unmount and remove the network
# namespaces named PREFIX* that appeared since harness_snapshot DIR.
harness_remove_new_netns() {
	local n
	ls /run/netns 2>/dev/null | sort | comm -13 "$1/netns" - | grep "^$2" | while read -r n; do
		echo "cleanup: removing netns $n" >&2
		umount "/run/netns/$n" 2>/dev/null
		rm -f "/run/netns/$n"
	done
}

# ---- a private containerd (conformance/cri/containerd.sh, dropin/containerd.sh)
# Everything of it is under one BASE directory: config.toml, root, state,
# opt, the sockets BASE/containerd.sock{,.ttrpc} and BASE/debug.sock, the
# log BASE/containerd.log and the pid file BASE/containerd.pid.

# harness_containerd_top BASE [PLUGIN...]: the top-level keys of its config
# (they must come before any table); the PLUGINs are disabled as well as the
# snapshotters this host does not have.
harness_containerd_top() {
	local b=$1 p list=
	shift
	for p in "$@" io.containerd.snapshotter.v1.aufs io.containerd.snapshotter.v1.btrfs \
		io.containerd.snapshotter.v1.devmapper io.containerd.snapshotter.v1.zfs; do
		list="$list${list:+, }\"$p\""
	done
	cat <<CONF
root = "$b/root"
state = "$b/state"
disabled_plugins = [$list]
CONF
}

# harness_containerd_tables BASE: its sockets, debug socket, no metrics, and
# the opt plugin's directory.
harness_containerd_tables() {
	cat <<CONF

[grpc]
  address = "$1/containerd.sock"

[ttrpc]
  address = "$1/containerd.sock.ttrpc"

[debug]
  address = "$1/debug.sock"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$1/opt"
CONF
}

# harness_containerd_start BASE TRIES CHECK...: start containerd with
# BASE/config.toml (its pid in BASE/containerd.pid and $harness_containerd_pid)
# and wait, TRIES times a tenth of a second at most, until CHECK succeeds;
# fails, showing the log's end, if containerd exits first.
harness_containerd_start() {
	local b=$1 tries=$2 i
	shift 2
	containerd --config "$b/config.toml" >"$b/containerd.log" 2>&1 &
	harness_containerd_pid=$!
	echo "$harness_containerd_pid" >"$b/containerd.pid"
	# shellcheck disable=SC2034 # a retry count
	for i in $(seq 1 "$tries"); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$harness_containerd_pid" 2>/dev/null || { tail -n 5 "$b/containerd.log"; return 1; }
		sleep 0.1
	done
}

# harness_containerd_stop BASE [CLEAN]: if the containerd of BASE still runs,
# run CLEAN (what the engine should remove itself), then TERM it (KILL after
# 5 s); then KILL the shims left behind (found by our socket address),
# unmount what is mounted under BASE and remove the pid file. Needs
# pids_referring and unmount_under (conformance/dropin/lib.sh, host.sh).
harness_containerd_stop() {
	local b=$1 clean=${2:-} pid
	[ -s "$b/containerd.pid" ] || return 0
	pid=$(cat "$b/containerd.pid")
	if kill -0 "$pid" 2>/dev/null; then
		[ -z "$clean" ] || "$clean"
		kill -TERM "$pid"
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for pid in $(pids_referring "$b/containerd.sock"); do
		kill -KILL "$pid" 2>/dev/null
	done
	unmount_under "$b"
	rm -f "$b/containerd.pid"
}
