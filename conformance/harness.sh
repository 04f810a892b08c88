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
