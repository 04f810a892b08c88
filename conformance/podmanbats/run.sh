#!/bin/bash
# Runs podman's own system tests (bats, test/system of the podman v4 Go
# module, the version Debian ships) with podman driving runc (the baseline)
# and/or any runc-compatible runtime, side by side. Nothing of podman is
# kept in this repository: the module is fetched through the Go module
# proxy into the module cache at test time and its files are run from
# there, unchanged.
#
# Usage: conformance/podmanbats/run.sh [RUNTIME...]
#   RUNTIME is "runc" (Debian's /usr/sbin/runc) or a path to a runtime
#   binary; default: runc and bin/myrun.
# Env:
#   PODMAN_VERSION module version (default v4.3.1, Debian 12's podman)
#   PODMANBATS_CACHE logs dir (default .cache/podmanbats)
#   ONLY           bats files to run, e.g. "030-run.bats 075-exec.bats"
#                  (default: $FILES below)
#   FILTER         bats --filter regex (test names)
#   MIN_PASS       exit 1 if the last non-runc runtime passes fewer tests
#   FILE_TIMEOUT   timeout of one bats file, seconds (default 900)
# Every podman call goes through a wrapper with a private storage root, run
# root, tmpdir, containers.conf and network config dir, so the host's
# podman state is never read or written. See conformance/podmanbats/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${GO:=go}"
: "${PODMAN_VERSION:=v4.3.1}"
: "${PODMANBATS_CACHE:=$repo/.cache/podmanbats}"
: "${FILTER:=}"
: "${MIN_PASS:=0}"
: "${FILE_TIMEOUT:=900}"
# The files that exercise the runtime: create/start/exec/kill/pause/
# delete, terminals, mounts and volumes, namespaces, pods, networking,
# healthchecks (exec), cgroups and updates.
FILES="030-run.bats 032-sig-proxy.bats 035-logs.bats 040-ps.bats 045-start.bats 050-stop.bats 055-rm.bats
060-mount.bats 065-cp.bats 075-exec.bats 080-pause.bats 130-kill.bats 160-volumes.bats 170-run-userns.bats
180-blkio.bats 190-run-ipcns.bats 200-pod.bats 220-healthcheck.bats 280-update.bats
400-unprivileged-access.bats 420-cgroups.bats 450-interactive.bats 500-networking.bats"
: "${ONLY:=$FILES}"
# podman's test image (helpers.bash): quay.io/libpod/testimage:20220615,
# built by the suite's build-testimage from alpine. No network here: a
# stand-in from busybox-static is imported under that name (test_image).
TEST_IMAGE_TAG=20220615
TEST_IMAGE=quay.io/libpod/testimage:$TEST_IMAGE_TAG
logs=$PODMANBATS_CACHE/$PODMAN_VERSION
mkdir -p "$logs"

log() { echo "podmanbats: $*" >&2; }

# --- the image -----------------------------------------------------------

# test_image OUT writes a rootfs tarball with what the tests read from the
# real test image: busybox applets on PATH (alpine's busybox and
# busybox-extras), alpine's users and groups, /home/podman/testimage-id
# holding the tag (mtime 1600000000, read by 'run --tz') and the pause
# script the pod tests use.
test_image() {
	local out=$1 r app
	[ -x /bin/busybox ] || { log "busybox-static missing"; exit 2; }
	r=$(mktemp -d /tmp/podmanbats-rootfs-XXXXXX)
	# alpine's top-level directories (065-cp works in /srv).
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib,dev,proc,sys,etc,root,tmp,var/tmp,run,home/podman} \
		"$r"/{media,mnt,opt,srv,var/cache,var/lib,var/log,var/spool,var/empty}
	cp /bin/busybox "$r/bin/busybox"
	for app in $(/bin/busybox --list-full); do
		[ "$app" = bin/busybox ] && continue
		mkdir -p "$r/$(dirname "$app")"
		ln -sf /bin/busybox "$r/$app"
	done
	cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
	cat >"$r/etc/group" <<'EOF'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
mail:x:12:mail
news:x:13:news
floppy:x:11:root
audio:x:18:
ftp:x:21:
utmp:x:22:
cdrom:x:19:
dialout:x:20:root
input:x:23:
video:x:27:root
games:x:35:
users:x:100:games
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
EOF
	# Applets alpine's busybox has and Debian's busybox-static lacks,
	# that the tests call: printenv; and alpine's /etc/mtab.
	cat >"$r/bin/printenv" <<'PRINTENV'
#!/bin/sh
# printenv [NAME...] (podmanbats stand-in for busybox's applet)
[ $# -eq 0 ] && exec env
rc=0
for v; do
	if eval "[ -n \"\${$v+set}\" ]"; then eval "printf '%s\\n' \"\$$v\""; else rc=1; fi
done
exit $rc
PRINTENV
	chmod 0755 "$r/bin/printenv"
	ln -s ../proc/mounts "$r/etc/mtab"
	printf 'NAME="podmanbats busybox"\nID=busybox\nPRETTY_NAME="busybox-static stand-in for quay.io/libpod/testimage"\n' >"$r/etc/os-release"
	echo "$TEST_IMAGE_TAG" >"$r/home/podman/testimage-id"
	touch --date=@1600000000 "$r/home/podman/testimage-id"
	printf '#!/bin/sh\necho Confirmed: testimage pause invoked as $0\nwhile :; do\n    sleep 0.1\ndone\n' >"$r/home/podman/pause"
	chmod 0755 "$r" "$r/home/podman/pause"
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 0700 "$r/root"
	tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$out" .
	rm -rf "$r"
}

# --- private podman ------------------------------------------------------

# The host paths podman (root), conmon, netavark and the runtime keep state
# in. The whole run happens in a mount namespace of its own where each of
# them is a private directory below BASE, so the suite sees podman's
# defaults (400-unprivileged-access checks /var/lib/containers/storage,
# 050-stop and 055-rm /run/RUNTIME) while the host's podman, runc and
# myrun state and network namespaces are neither read nor written, and
# every mount the run made (overlay layers, shm, netns) goes with the
# namespace.
private_dirs() {
	echo /var/lib/containers /run/containers /run/libpod /run/netns "/run/$1"
}

# setup_podman BASE RUNTIME: containers.conf, storage.conf, a network of its
# own and the podman wrapper the suite gets as $PODMAN.
setup_podman() {
	local base=$1 rt=$2 name id
	name=$(basename "$rt")
	mkdir -p "$base"/{networks,bin,bats}
	cat >"$base/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$base/events.log"
lock_type = "file"
num_locks = 2048
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$name"]
runtime_supports_nocgroups = ["crun", "krun", "$name"]

[network]
network_backend = "netavark"
network_config_dir = "$base/networks"
CONF
	cat >"$base/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
CONF
	# The default network "podman" on a bridge and subnet of our own, so
	# that the run never touches podman0 or 10.88.0.0/16.
	id=$(printf 'podmanbats-%s' "$$" | sha256sum | cut -d' ' -f1)
	printf '{"name":"podman","id":"%s","driver":"bridge","network_interface":"%s","created":"2024-01-01T00:00:00Z","subnets":[{"subnet":"%s.0/24","gateway":"%s.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}\n' \
		"$id" "$BRIDGE" "$SUBNET" "$SUBNET" >"$base/networks/podman.json"
	cat >"$base/bin/podman" <<WRAP
#!/bin/sh
# podmanbats: podman with a private configuration, runtime $rt
CONTAINERS_CONF='$base/containers.conf' CONTAINERS_STORAGE_CONF='$base/storage.conf' \\
	exec /usr/bin/podman --runtime '$rt' "\$@"
WRAP
	chmod 0755 "$base/bin/podman"
}

# enter_private BASE RUNTIME (in the new mount namespace): BASE/mnt/PATH
# over each of private_dirs.
enter_private() {
	local base=$1 d
	mount --make-rprivate /
	for d in $(private_dirs "$(basename "$2")"); do
		mkdir -p "$base/mnt$d"
		mount --bind "$base/mnt$d" "$d"
	done
	chmod 0700 "$base/mnt/var/lib/containers"
}

import_image() {
	"$1/bin/podman" import -q \
		--change 'WORKDIR /home/podman' \
		--change 'CMD ["/bin/echo", "This container is intended for podman CI testing"]' \
		--change "LABEL created_by=myrun-conformance/podmanbats/run.sh" \
		--change "LABEL created_at=2022-06-15T00:00:00Z" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$IMAGE_TAR" "$TEST_IMAGE" >/dev/null
}

# --- cleanup -------------------------------------------------------------

snapshot() {
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$1/cgroups"
	iptables-save 2>/dev/null | grep -c NETAVARK >"$1/netavark" || true
}

# pids_below BASE: PIDs whose command line names BASE (conmon, the
# runtime, podman's cleanup), never our own.
pids_below() {
	local p c
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		[ "${p#/proc/}" = "$BASHPID" ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $c in *"$1/"*) echo "${p#/proc/}" ;; esac
	done
}

# other_runs: PIDs of other invocations of this script.
other_runs() {
	local p c ppid
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] && continue
		[ "${p#/proc/}" = "$BASHPID" ] && continue
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $c in
		*bash*"podmanbats/run.sh"*)
			# Not our own forks (command substitutions before their exec).
			ppid=$(awk '{ print $4 }' "$p/stat" 2>/dev/null) || continue
			[ "$ppid" = "$$" ] || [ "$ppid" = "$BASHPID" ] || echo "${p#/proc/}"
			;;
		esac
	done
}

# stop_podman BASE (in the namespace): every pod and container removed,
# so that netavark tears down veths and firewall rules.
stop_podman() {
	timeout 120 "$1/bin/podman" pod rm -fa -t 0 >/dev/null 2>&1 || true
	timeout 120 "$1/bin/podman" rm -fa -t 0 >/dev/null 2>&1 || true
}

# cleanup_host BASE SNAP RUNTIME (after the namespace is gone): cgroups,
# bridge and firewall rules of this run. Returns the number of leftovers.
cleanup_host() {
	local base=$1 snap=$2 n=0 d ids t rule c
	# The container and pod IDs this setup made (its event log names them).
	ids=$(jq -r 'select(.Type == "container" or .Type == "pod") | .ID' "$base/events.log" 2>/dev/null | sort -u | tr '\n' '|')
	ids=${ids%|}
	# New cgroups: the containers' libpod-ID dirs, and libpod_parent and
	# its conmon dir if they did not exist before (rmdir fails while
	# another podman on the host uses them: those are left alone). conmon
	# also makes its cgroup below controllers this host does not mount
	# (plain tmpfs under /sys/fs/cgroup): plain dirs, removed with their
	# files.
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$snap/cgroups.after"
	while IFS= read -r d; do
		case $d in
		*/libpod_parent | */libpod_parent/conmon)
			if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; then
				rm -rf "$d"
			else
				rmdir "$d" 2>/dev/null || true
			fi
			continue
			;;
		esac
		[ -n "$ids" ] && [[ $d =~ libpod_parent/(libpod-(conmon-)?)?($ids) ]] || continue
		log "left behind: cgroup $d"
		n=$((n + 1))
		if [ "$(stat -f -c %T "$d" 2>/dev/null)" = tmpfs ]; then
			rm -rf "$d"
		else
			rmdir "$d" 2>/dev/null || log "left behind: cgroup $d not empty"
		fi
	done < <(comm -13 "$snap/cgroups" "$snap/cgroups.after" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-)
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link del "$BRIDGE" || true
	fi
	# netavark's rules for our subnet, and the chains they jump to (named
	# by a hash of the network).
	local chains
	for t in filter nat; do
		chains=$(iptables-save -t "$t" 2>/dev/null | grep -F "$SUBNET." | grep -o -- '-j NETAVARK-[0-9A-F]*' | cut -d' ' -f2 | sort -u)
		iptables-save -t "$t" 2>/dev/null | grep -F "$SUBNET." | grep '^-A ' | sed 's/^-A/-D/' | while read -r rule; do
			log "left behind: iptables -t $t $rule"
			eval "iptables -t $t $rule" || true
		done
		for c in $chains; do
			iptables -t "$t" -F "$c" 2>/dev/null && iptables -t "$t" -X "$c" 2>/dev/null
		done
	done
	# Mount points this run made on the host, unless another run of this
	# lane (whose namespace has them mounted) is still going.
	if [ -z "$(other_runs)" ]; then
		for d in $(private_dirs "$3"); do
			[ -e "$base/created$d" ] && rmdir "$d" 2>/dev/null
		done
	fi
	if awk -v p="$base/" 'index($5, p) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		log "mounts remain below $base: not removing it"
		n=$((n + 1))
	else
		rm -rf "$base"
	fi
	return "$n"
}

# --- run -----------------------------------------------------------------

# results FILE prints "passed failed skipped" of a TAP file.
results() {
	awk '/^ok / { if ($0 ~ / # skip/) s++; else p++ } /^not ok / { f++ } END { printf "%d %d %d\n", p, f, s }' "$1"
}

# inner LABEL RUNTIME BASE: in the private mount namespace, under the
# subreaper (conmon daemonizes and PID 1 does not reap here): the image,
# then the bats files one at a time, then every container removed.
inner() {
	local label=$1 rt=$2 base=$3 f args=(--tap) p t0
	enter_private "$base" "$rt"
	import_image "$base"
	[ -n "$FILTER" ] && args+=(--filter "$FILTER")
	for f in $ONLY; do
		t0=$SECONDS
		(cd "$SUITE" && TMPDIR=$base/bats PODMAN=$base/bin/podman timeout -k 10 "$FILE_TIMEOUT" \
			bats "${args[@]}" "$SUITE/$f" >"$logs/$label/${f%.bats}.tap" 2>"$logs/$label/${f%.bats}.stderr" </dev/null) || true
		log "$label: $f: $(results "$logs/$label/${f%.bats}.tap" | awk '{ printf "%d passed, %d failed, %d skipped", $1, $2, $3 }') in $((SECONDS - t0)) s"
	done
	stop_podman "$base"
	for p in $(pids_below "$base"); do
		log "left behind: process $p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | cut -c1-100)): killing"
		kill -9 "$p" 2>/dev/null || true
	done
}

run_one() {
	local label=$1 rt=$2 base snap n=0 start=$SECONDS d
	base=$(mktemp -d /tmp/podmanbats-"$label"-XXXXXX)
	chmod 0755 "$base"
	snap=$base/snap
	mkdir -p "$snap"
	rm -rf "${logs:?}/$label"
	mkdir -p "$logs/$label"
	# Mount points the host lacks are made (and removed afterwards).
	for d in $(private_dirs "$(basename "$rt")"); do
		[ -d "$d" ] && continue
		mkdir -p "$d" "$base/created$d"
	done
	snapshot "$snap"
	setup_podman "$base" "$rt"
	log "$label: PODMAN=$base/bin/podman (runtime $rt)"
	unshare -m --propagation private "$SUBREAPER" "$0" --inner "$label" "$rt" "$base" || true
	cleanup_host "$base" "$snap" "$(basename "$rt")" || n=$?
	log "$label: done in $((SECONDS - start)) s; $n leftovers cleaned; TAP in $logs/$label/"
}

main() {
	if [ "$(id -u)" != 0 ]; then
		echo "$0: must run as root" >&2
		exit 2
	fi
	local t
	for t in bats jq socat podman conmon; do
		command -v "$t" >/dev/null || { echo "$0: $t missing (conformance/podmanbats/install-deps.sh)" >&2; exit 2; }
	done
	SUITE=$(cd /tmp && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/containers/podman/v4@$PODMAN_VERSION" | jq -r .Dir)/test/system
	[ -f "$SUITE/helpers.bash" ] || { log "module has no test/system: $SUITE"; exit 2; }
	SUBREAPER=$logs/subreaper
	(cd "$repo" && "$GO" build -o "$SUBREAPER" ./conformance/dropin/subreaper)
	IMAGE_TAR=$logs/testimage.tar
	test_image "$IMAGE_TAR"
	# A bridge and subnet of this run for podman's default network.
	BRIDGE=pbats$(($$ % 10000))
	# (10.89 is conformance/dropin's, 10.91 conformance/cri's.)
	SUBNET=10.96.$(($$ % 250))
	export SUITE SUBREAPER IMAGE_TAR BRIDGE SUBNET ONLY FILTER FILE_TIMEOUT logs

	local runtimes=("$@") labels=() r path label
	[ ${#runtimes[@]} -gt 0 ] || runtimes=(runc "$repo/bin/myrun")
	for r in "${runtimes[@]}"; do
		if [ "$r" = runc ]; then
			path=/usr/sbin/runc
			label=runc
		else
			case $r in /*) path=$r ;; *) path=$(cd "$(dirname "$r")" && pwd)/$(basename "$r") ;; esac
			[ -x "$path" ] || { log "not executable: $path"; exit 2; }
			label=$(basename "$path")
		fi
		run_one "$label" "$path"
		labels+=("$label")
	done
	summary "${labels[@]}"
}

# summary LABEL...: per-file and total counts side by side, the tests that
# pass with runc but fail with another runtime, and the MIN_PASS floor.
summary() {
	local f label p fl s line tp last="" last_pass=0
	declare -A tot
	printf '%-28s' "file"
	for label; do printf ' %22s' "$label pass/fail/skip"; done
	echo
	for f in $ONLY; do
		line=$(printf '%-28s' "${f%.bats}")
		for label; do
			tp=$logs/$label/${f%.bats}.tap
			read -r p fl s < <(results "$tp")
			line+=$(printf ' %22s' "$p/$fl/$s")
			tot[$label.p]=$((${tot[$label.p]:-0} + p))
			tot[$label.f]=$((${tot[$label.f]:-0} + fl))
			tot[$label.s]=$((${tot[$label.s]:-0} + s))
		done
		echo "$line"
	done
	line=$(printf '%-28s' total)
	for label; do
		line+=$(printf ' %22s' "${tot[$label.p]}/${tot[$label.f]}/${tot[$label.s]}")
	done
	echo "$line"
	for label; do
		[ "$label" = runc ] && continue
		last=$label
		last_pass=${tot[$label.p]}
		[ -d "$logs/runc" ] || continue
		for f in $ONLY; do
			comm -13 <(sed -n 's/^not ok [0-9]* \(.*\)$/\1/p' "$logs/runc/${f%.bats}.tap" | sort) \
				<(sed -n 's/^not ok [0-9]* \(.*\)$/\1/p' "$logs/$label/${f%.bats}.tap" | sort) |
				sed "s|^|FAIL $label only: ${f%.bats}: |"
		done
	done
	echo "podman-bats: $(for label; do printf '%s %s passed; ' "$label" "${tot[$label.p]}"; done)"
	if [ -n "$last" ] && [ "$last_pass" -lt "$MIN_PASS" ]; then
		echo "podman-bats: $last passed $last_pass, fewer than MIN_PASS=$MIN_PASS" >&2
		exit 1
	fi
}

if [ "${1:-}" = --inner ]; then
	shift
	inner "$@"
	exit 0
fi
main "$@"
exit
