# Podman 4.3 section (sourced by run.sh; bash). podman_section MODE runs
# every case as root (MODE=root) or as the test user (MODE=rootless), with a
# private store and configuration under $DROPIN_TMP/podman-MODE.

# pm ARGS...: podman with the private setup and the traced runtime.
pm() {
	if [ "$PM_MODE" = rootless ]; then
		runuser -u "$DROPIN_USER" -- env -i PATH="$PATH" HOME="$PM_BASE/home" \
			USER="$DROPIN_USER" LOGNAME="$DROPIN_USER" \
			XDG_RUNTIME_DIR="$PM_XDG" XDG_CONFIG_HOME="$PM_BASE/home/.config" \
			CONTAINERS_CONF="$PM_BASE/containers.conf" \
			CONTAINERS_STORAGE_CONF="$PM_BASE/storage.conf" \
			podman --root "$PM_BASE/root" --runroot "$PM_BASE/runroot" \
			--tmpdir "$PM_BASE/tmp" --runtime "$PM_RUNTIME" "$@"
	else
		CONTAINERS_CONF="$PM_BASE/containers.conf" \
			CONTAINERS_STORAGE_CONF="$PM_BASE/storage.conf" \
			podman --root "$PM_BASE/root" --runroot "$PM_BASE/runroot" \
			--tmpdir "$PM_BASE/tmp" --runtime "$PM_RUNTIME" "$@"
	fi
}

# needs_cgroups: rootless podman on cgroup v1 has no cgroup control, for
# runc as for any runtime.
needs_cgroups() {
	if [ "$PM_MODE" = rootless ] && ! [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		skip "rootless podman has no cgroup control on cgroup v1"
	fi
}

pm_pid() { pm inspect --format '{{.State.Pid}}' "$1"; }
pm_status() { pm inspect --format '{{.State.Status}}' "$1"; }

# pm_cgroup NAME CONTROLLER FILE: the value of FILE in the container's cgroup.
pm_cgroup() {
	local pid f
	pid=$(pm_pid "$1") || die "inspect $1 failed"
	f=$(cgroup_file "$pid" "$2" "$3") || die "no $2 cgroup for pid $pid"
	cat "$f" || die "cannot read $f"
}

export -f pm needs_cgroups pm_pid pm_status pm_cgroup

podman_setup() {
	local mode=$1 base=$DROPIN_TMP/podman-$1 owner=root
	mkdir -p "$base"/{root,runroot,tmp,networks,home,bin}
	cat >"$base/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$base/events.log"
lock_type = "file"
num_locks = 256
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$(basename "$DROPIN_RUNTIME")"]
runtime_supports_nocgroups = ["crun", "krun", "$(basename "$DROPIN_RUNTIME")"]
tmp_dir = "$base/tmp"
volume_path = "$base/root/volumes"

[network]
network_backend = "netavark"
network_config_dir = "$base/networks"
CONF
	cat >"$base/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$base/root"
runroot = "$base/runroot"
CONF
	# The default network "podman" on a bridge and subnet of our own, so
	# that the run never touches podman0 or 10.88.0.0/16.
	printf '{"name":"podman","id":"%s","driver":"bridge","network_interface":"%s","created":"2024-01-01T00:00:00Z","subnets":[{"subnet":"%s.0/24","gateway":"%s.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}\n' \
		"$(printf 'dropin%s' "$DROPIN_ID" | sha256sum | cut -d' ' -f1)" "$DROPIN_BRIDGE" "$DROPIN_SUBNET" "$DROPIN_SUBNET" \
		>"$base/networks/podman.json"
	PM_MODE=$mode
	PM_BASE=$base
	PM_XDG=
	PM_TRACE=$base/trace.log
	if [ "$mode" = rootless ]; then
		owner=$DROPIN_USER
		PM_XDG=/run/user/$DROPIN_UID
	fi
	PM_RUNTIME=$(make_trace_wrapper "$DROPIN_TMP/bin/$(basename "$DROPIN_RUNTIME")" "$base/bin" "$PM_TRACE")
	chown -R "$owner:" "$base"
	export PM_MODE PM_BASE PM_XDG PM_RUNTIME PM_TRACE
	pm import --change CMD=/bin/sh "$DROPIN_TMP/image/rootfs.tar" "$DROPIN_IMAGE" >/dev/null
}

# podman_teardown: remove every container and the store; podman is expected
# to have cleaned up already (checked by the leftovers case).
podman_teardown() {
	[ -n "${PM_BASE:-}" ] || return 0
	timeout 60 bash -c 'pm rm -fa -t 0' >/dev/null 2>&1
	timeout 60 bash -c 'pm system reset -f' >/dev/null 2>&1
	if [ "$PM_MODE" = rootless ] && [ -r "$PM_XDG/libpod/tmp/pause.pid" ]; then
		kill -9 "$(cat "$PM_XDG/libpod/tmp/pause.pid")" 2>/dev/null
	fi
	unmount_under "$PM_BASE"
	PM_BASE=
}

# ---- cases -----------------------------------------------------------

pc_echo() {
	local out
	out=$(pm run --rm "$DROPIN_IMAGE" echo hello-dropin) || die "run failed: $out"
	expect_eq output "$out" hello-dropin
}

pc_exit_code() {
	pm run --rm "$DROPIN_IMAGE" sh -c 'exit 3'
	expect_eq "exit status" "$?" 3
}

pc_run_detached() {
	pm run -d --name d1 "$DROPIN_IMAGE" sh -c 'echo started-d1; exec sleep 600' || die "run -d failed"
	expect_eq status "$(pm_status d1)" running
}

pc_ps() {
	local out
	out=$(pm ps --format '{{.Names}} {{.Status}}') || die "ps failed"
	expect_contains "ps" "$out" "d1 Up"
}

pc_logs() {
	retry 25 bash -c 'pm logs d1 2>&1 | grep -q started-d1' || die "logs: $(pm logs d1 2>&1 | head -c 200)"
}

pc_exec() {
	local out
	out=$(pm exec d1 echo exec-ok) || die "exec failed: $out"
	expect_eq output "$out" exec-ok
	pm exec d1 sh -c 'exit 5'
	expect_eq "exec exit status" "$?" 5
	out=$(pm exec -e X=1 -w /tmp --user 1000 d1 sh -c 'echo $X $(pwd) $(id -u)') || die "exec with options failed: $out"
	expect_eq "exec -e -w --user" "$out" "1 /tmp 1000"
}

pc_exec_tty() {
	local out
	out=$(in_tty pm exec -t d1 tty) || die "exec -t failed: $out"
	expect_contains "tty" "$out" /dev/pts/
}

pc_stop() {
	pm stop -t 2 d1 >/dev/null || die "stop failed"
	expect_eq status "$(pm_status d1)" exited
}

pc_rm() {
	pm rm d1 >/dev/null || die "rm failed"
	! pm container exists d1 || die "d1 still exists"
}

pc_run_tty() {
	local out
	out=$(in_tty pm run --rm -t "$DROPIN_IMAGE" tty) || die "run -t failed: $out"
	expect_contains "tty" "$out" /dev/pts/0
}

pc_memory() {
	needs_cgroups
	pm run -d --name mem --memory 64m "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run --memory failed"
	expect_eq memory.limit_in_bytes "$(pm_cgroup mem memory memory.limit_in_bytes)" 67108864
	pm rm -f -t 0 mem >/dev/null
}

pc_pids_limit() {
	needs_cgroups
	pm run -d --name pids --pids-limit 42 "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run --pids-limit failed"
	expect_eq pids.max "$(pm_cgroup pids pids pids.max)" 42
	pm rm -f -t 0 pids >/dev/null
}

pc_cpus() {
	needs_cgroups
	pm run -d --name cpus --cpus 0.5 "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run --cpus failed"
	local q p
	q=$(pm_cgroup cpus cpu cpu.cfs_quota_us)
	p=$(pm_cgroup cpus cpu cpu.cfs_period_us)
	expect_eq "cfs quota/period" "$q/$p" 50000/100000
	pm rm -f -t 0 cpus >/dev/null
}

pc_read_only() {
	pm run --rm --read-only "$DROPIN_IMAGE" touch /rootfs-write 2>/dev/null && die "write to / succeeded"
	pm run --rm --read-only "$DROPIN_IMAGE" touch /tmp/ok || die "write to /tmp failed"
}

pc_user() {
	local out
	out=$(pm run --rm --user 1000:1000 "$DROPIN_IMAGE" id) || die "run failed: $out"
	expect_contains id "$out" "uid=1000(user) gid=1000(user)"
}

# An idmapped volume (podman's ":idmap") in a user-namespaced container:
# the host's root-owned file is root's inside, and a write lands as the
# host's root. Root only: rootless podman cannot idmap host directories.
pc_idmap_volume() {
	[ "$PM_MODE" = root ] || skip "idmapped mounts need root on the host"
	local dir=$DROPIN_TMP/idmap-vol out
	mkdir -p "$dir" && touch "$dir/host-file" || die "cannot make $dir"
	out=$(pm run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 -v "$dir:/data:idmap" \
		"$DROPIN_IMAGE" sh -c 'stat -c "%u:%g" /data/host-file && touch /data/from-ctr') || die "run failed: $out"
	expect_eq "owner inside" "$out" 0:0
	expect_eq "owner of the container's file on the host" "$(stat -c %u:%g "$dir/from-ctr")" 0:0
}

pc_cap_drop() {
	pm run --rm "$DROPIN_IMAGE" sh -c 'touch /tmp/f && chown 1:1 /tmp/f' || die "chown failed with default capabilities"
	pm run --rm --cap-drop ALL "$DROPIN_IMAGE" sh -c 'touch /tmp/f && chown 1:1 /tmp/f' 2>/dev/null && die "chown succeeded without capabilities"
	local eff
	eff=$(pm run --rm --cap-drop ALL "$DROPIN_IMAGE" sh -c 'grep CapEff /proc/self/status') || die "run failed"
	expect_contains CapEff "$eff" 0000000000000000
}

pc_env() {
	local out
	out=$(pm run --rm -e FOO=bar-dropin "$DROPIN_IMAGE" sh -c 'echo $FOO') || die "run failed"
	expect_eq FOO "$out" bar-dropin
}

pc_workdir() {
	local out
	out=$(pm run --rm -w /www "$DROPIN_IMAGE" pwd) || die "run failed"
	expect_eq pwd "$out" /www
}

pc_network_none() {
	local out
	out=$(pm run --rm --network none "$DROPIN_IMAGE" ls /sys/class/net) || die "run failed"
	expect_eq interfaces "$(echo $out)" lo
}

pc_port() {
	local port=$DROPIN_PORT out
	[ "$PM_MODE" = rootless ] && port=$((port + 1))
	pm run -d --name web -p "127.0.0.1:$port:80" "$DROPIN_IMAGE" httpd -f -p 80 -h /www >/dev/null || die "run -p failed"
	out=$(pm exec web ls /sys/class/net) || die "exec failed"
	# eth0 on the bridge as root, slirp4netns' tap0 rootless.
	[ "$(echo $out)" != lo ] || die "no interface but lo"
	retry 25 bash -c "curl -s --noproxy '*' --max-time 2 http://127.0.0.1:$port/ | grep -q dropin-httpd-marker" ||
		die "http://127.0.0.1:$port/ did not serve the page"
	pm rm -f -t 0 web >/dev/null || die "rm failed"
}

pc_pause() {
	needs_cgroups
	pm run -d --name pz "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run failed"
	pm pause pz >/dev/null || die "pause failed"
	expect_eq "status after pause" "$(pm_status pz)" paused
	expect_eq freezer.state "$(pm_cgroup pz freezer freezer.state)" FROZEN
	pm unpause pz >/dev/null || die "unpause failed"
	expect_eq "status after unpause" "$(pm_status pz)" running
	pm exec pz true || die "exec after unpause failed"
	pm rm -f -t 0 pz >/dev/null
}

pc_kill_signal() {
	pm run -d --name ks "$DROPIN_IMAGE" sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.2; done' >/dev/null || die "run failed"
	retry 25 bash -c 'pm logs ks | grep -q ready' || die "container not ready"
	pm kill -s USR1 ks >/dev/null || die "kill -s USR1 failed"
	retry 25 bash -c 'pm logs ks | grep -q got-usr1' || die "signal not delivered"
	pm kill -s KILL ks >/dev/null || die "kill -s KILL failed"
	retry 25 bash -c '[ "$(pm_status ks)" = exited ]' || die "status after KILL: $(pm_status ks)"
	pm rm ks >/dev/null
}

pc_top() {
	local out
	pm run -d --name tp "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run failed"
	out=$(pm top tp pid args) || die "top failed: $out"
	expect_contains top "$out" "sleep 600"
	pm rm -f -t 0 tp >/dev/null
}

pc_rm_flag() {
	pm run --rm --name rmflag "$DROPIN_IMAGE" true || die "run failed"
	! pm container exists rmflag || die "container still exists after --rm"
}

pc_restart() {
	local p1 p2
	pm run -d --name rs "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run failed"
	p1=$(pm_pid rs)
	pm restart -t 1 rs >/dev/null || die "restart failed"
	p2=$(pm_pid rs)
	expect_eq status "$(pm_status rs)" running
	if [ "$p1" = "$p2" ] || ! [ "$p2" -gt 0 ]; then
		die "pid did not change ($p1 -> $p2)"
	fi
	pm rm -f -t 0 rs >/dev/null
}

pc_update() {
	needs_cgroups
	pm run -d --name up --memory 64m "$DROPIN_IMAGE" sleep 600 >/dev/null || die "run failed"
	pm update --memory 128m --cpus 0.25 up >/dev/null || die "update failed"
	expect_eq memory.limit_in_bytes "$(pm_cgroup up memory memory.limit_in_bytes)" 134217728
	expect_eq cpu.cfs_quota_us "$(pm_cgroup up cpu cpu.cfs_quota_us)" 25000
	pm rm -f -t 0 up >/dev/null
}

pc_concurrent() {
	local i pids=() ok=0
	for i in $(seq 1 10); do
		pm run -d --name "cc$i" "$DROPIN_IMAGE" sleep 600 >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && ok=$((ok + 1)); done
	expect_eq "started" "$ok" 10
	expect_eq running "$(pm ps --filter name=cc --format '{{.Names}}' | wc -l)" 10
	pm rm -f -t 0 $(seq -f cc%g 1 10) >/dev/null || die "rm failed"
}

pc_leftovers() {
	local n rtroot id
	pm rm -fa -t 0 >/dev/null 2>&1
	n=$(pm ps -aq | wc -l)
	expect_eq "containers left" "$n" 0
	# Processes of this setup still alive (conmon, container inits).
	n=$(pids_referring "$PM_BASE")
	expect_eq "processes referring to $PM_BASE" "$n" ""
	# The runtime's own state: podman passes --root only when rootless;
	# otherwise the runtime's default root is used (/run/NAME for runc).
	rtroot=$(sed -n 's/.* --root \([^ ]*\) .*/\1/p' "$PM_TRACE" | tail -n 1)
	[ -n "$rtroot" ] || rtroot=/run/$(basename "$DROPIN_RUNTIME")
	for id in $(awk '$2 != "rc=0" && / create / { print $NF }' "$PM_TRACE" | sort -u); do
		[ ! -e "$rtroot/$id" ] || die "runtime state $rtroot/$id left behind"
	done
	n=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name 'libpod-*' 2>/dev/null | wc -l)
	expect_eq "libpod-* container cgroups" "$n" 0
	n=$(ip -o link show master "$DROPIN_BRIDGE" 2>/dev/null | wc -l)
	expect_eq "veths on $DROPIN_BRIDGE" "$n" 0
	n=$(find /run/netns -mindepth 1 -maxdepth 1 -name 'netns-*' 2>/dev/null | wc -l)
	expect_eq "podman netns in /run/netns (new)" "$n" "${DROPIN_NETNS_BEFORE:-0}"
	return 0
}

export -f pc_echo pc_exit_code pc_run_detached pc_ps pc_logs pc_exec pc_exec_tty \
	pc_stop pc_rm pc_run_tty pc_memory pc_pids_limit pc_cpus pc_read_only pc_user \
	pc_idmap_volume pc_cap_drop pc_env pc_workdir pc_network_none pc_port pc_pause pc_kill_signal \
	pc_top pc_rm_flag pc_restart pc_update pc_concurrent pc_leftovers

podman_section() {
	local mode=$1 p=podman-$1
	if ! podman_setup "$mode" >"$DROPIN_TMP/logs/$p-setup.log" 2>&1; then
		DROPIN_FAILED=$((DROPIN_FAILED + 1))
		echo "FAIL $p/setup: see $DROPIN_TMP/logs/$p-setup.log"
		tail -n 5 "$DROPIN_TMP/logs/$p-setup.log" | sed 's/^/    | /'
		podman_teardown
		return
	fi
	tcase "$p/echo" pc_echo
	tcase "$p/exit-code" pc_exit_code
	tcase "$p/run-detached" pc_run_detached
	tcase "$p/ps" pc_ps
	tcase "$p/logs" pc_logs
	tcase "$p/exec" pc_exec
	tcase "$p/exec-tty" pc_exec_tty
	tcase "$p/stop" pc_stop
	tcase "$p/rm" pc_rm
	tcase "$p/run-tty" pc_run_tty
	tcase "$p/memory" pc_memory
	tcase "$p/pids-limit" pc_pids_limit
	tcase "$p/cpus" pc_cpus
	tcase "$p/read-only" pc_read_only
	tcase "$p/user" pc_user
	tcase "$p/idmap-volume" pc_idmap_volume
	tcase "$p/cap-drop" pc_cap_drop
	tcase "$p/env" pc_env
	tcase "$p/workdir" pc_workdir
	tcase "$p/network-none" pc_network_none
	tcase "$p/bridge-port" pc_port
	tcase "$p/pause-unpause" pc_pause
	tcase "$p/kill-signal" pc_kill_signal
	tcase "$p/top" pc_top
	tcase "$p/rm-flag" pc_rm_flag
	tcase "$p/restart" pc_restart
	tcase "$p/update" pc_update
	tcase "$p/concurrent-10" pc_concurrent 120
	tcase "$p/leftovers" pc_leftovers
	podman_teardown
}
