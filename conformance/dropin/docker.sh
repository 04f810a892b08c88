# Docker 20.10 section (sourced by run.sh; bash): a private dockerd (data
# root, exec root, pidfile, socket under $DROPIN_TMP/docker, its own bridge,
# no iptables: -p goes through docker-proxy, cgroups under
# /dropin-docker-ID) started with the shipped contrib/engines/docker-daemon.json
# (runtime path pointed at the traced copy). Every case runs with myrun
# (--runtime myrun) and with runc (the daemon's default), side by side.

# dk ARGS...: the docker CLI against our daemon.
dk() { DOCKER_CONFIG="$DK_BASE/cli" docker -H "unix://$DK_BASE/docker.sock" "$@"; }

# dkr ARGS...: docker run with the case's runtime.
dkr() { dk run --runtime "$DK_RT" "$@"; }

dk_pid() { dk inspect --format '{{.State.Pid}}' "$1"; }
dk_status() { dk inspect --format '{{.State.Status}}' "$1"; }

# dk_cgroup NAME CONTROLLER FILE: FILE of the container's own v1 cgroup.
dk_cgroup() {
	local pid f
	pid=$(dk_pid "$1") || die "inspect $1 failed"
	f=$(cgroup_file "$pid" "$2" "$3") || die "no $2 cgroup for pid $pid"
	cat "$f" || die "cannot read $f"
}

export -f dk dkr dk_pid dk_status dk_cgroup

# dk_daemon_json RUNTIME_PATH: the shipped daemon.json, path templated.
dk_daemon_json() {
	sed "s#\"/usr/local/bin/myrun\"#\"$1\"#" "$DROPIN_REPO/contrib/engines/docker-daemon.json"
}

# dk_start BASE: dockerd with BASE/daemon.json; its PID in BASE/dockerd.pid.
dk_start() {
	local b=$1 i
	mkdir -p "$b"/{data,exec,cli}
	dockerd --config-file "$b/daemon.json" --data-root "$b/data" --exec-root "$b/exec" \
		--pidfile "$b/docker.pid" -H "unix://$b/docker.sock" --bridge "$DK_BRIDGE" \
		--iptables=false --ip-forward=false --ip-masq=false --userland-proxy=true \
		--storage-driver overlay2 --cgroup-parent "/dropin-docker-$DROPIN_ID" \
		--exec-opt native.cgroupdriver=cgroupfs --log-level warn \
		>"$b/dockerd.log" 2>&1 &
	echo $! >"$b/dockerd.pid"
	for i in $(seq 1 300); do
		DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" version >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$b/dockerd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 5 "$b/dockerd.log"
	return 1
}

# dk_stop BASE: remove containers, stop dockerd (and its containerd) by PID.
dk_stop() {
	local b=$1 pid id
	[ -s "$b/dockerd.pid" ] || return 0
	pid=$(cat "$b/dockerd.pid")
	if kill -0 "$pid" 2>/dev/null; then
		for id in $(timeout 20 env DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" ps -aq 2>/dev/null); do
			timeout 20 env DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" rm -f "$id" >/dev/null 2>&1
		done
		kill -TERM "$pid"
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	# Its containerd, shims and docker-proxy processes, by our dirs.
	for pid in $(pids_referring "$b/exec") $(pids_referring "$b/data"); do
		kill -KILL "$pid" 2>/dev/null
	done
	unmount_under "$b"
	rm -f "$b/dockerd.pid"
}

docker_setup() {
	local b=$DROPIN_TMP/docker
	DK_BASE=$b
	DK_BRIDGE=dk$((DROPIN_ID % 100000))
	DK_TRACE=$b/trace.log
	mkdir -p "$b/bin" "$b/myimg"
	DK_RUNTIME=$(make_trace_wrapper "$DROPIN_TMP/bin/$(basename "$DROPIN_RUNTIME")" "$b/bin" "$DK_TRACE")
	export DK_BASE DK_BRIDGE DK_TRACE DK_RUNTIME
	ip link add "$DK_BRIDGE" type bridge || return 1
	ip addr add "10.92.$((DROPIN_ID % 200 + 20)).1/24" dev "$DK_BRIDGE" || return 1
	ip link set "$DK_BRIDGE" up || return 1
	dk_daemon_json "$DK_RUNTIME" >"$b/daemon.json"
	cat "$b/daemon.json"
	dk_start "$b" || return 1
	# Images: myimg imports the harness's busybox rootfs; docker 20.10
	# loads only docker-archive, which skopeo makes from myimg's oci-archive.
	"$DROPIN_MYIMG" --root "$b/myimg" import --change 'CMD ["sh"]' "$DROPIN_TMP/image/rootfs.tar" dropin-busybox:latest || return 1
	"$DROPIN_MYIMG" --root "$b/myimg" import --change 'CMD ["sh"]' --change 'STOPSIGNAL SIGUSR1' \
		"$DROPIN_TMP/image/rootfs.tar" dropin-busybox:stopsignal || return 1
	local t
	for t in latest stopsignal; do
		"$DROPIN_MYIMG" --root "$b/myimg" save -o "$b/img-$t.oci.tar" "dropin-busybox:$t" || return 1
		skopeo copy -q "oci-archive:$b/img-$t.oci.tar" "docker-archive:$b/img-$t.docker.tar:dropin-busybox:$t" || return 1
		dk load -i "$b/img-$t.docker.tar" || return 1
	done
	dk image inspect dropin-busybox:latest >/dev/null || return 1
}

docker_teardown() {
	[ -n "${DK_BASE:-}" ] || return 0
	dk_stop "$DK_BASE"
	dk_stop "$DK_BASE/missing"
	ip link show "${DK_BRIDGE:-none}" >/dev/null 2>&1 && ip link del "$DK_BRIDGE"
	# Empty cgroup dirs of our cgroup parent.
	find /sys/fs/cgroup -mindepth 2 -type d -path "*/dropin-docker-$DROPIN_ID*" 2>/dev/null |
		awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- | while read -r d; do
		rmdir "$d" 2>/dev/null || echo "cleanup: cgroup $d not empty" >&2
	done
	return 0
}

# ---- cases (DK_RT: myrun or runc; container names carry it) ----------

dc_run() {
	local out
	out=$(dkr --rm dropin-busybox sh -c 'echo hello-docker; exit 3')
	expect_eq "exit status" "$?" 3
	expect_eq output "$out" hello-docker
}

dc_detached() {
	local n=d1-$DK_RT out
	dkr -d --name "$n" dropin-busybox sh -c 'echo started; exec sleep 600' >/dev/null || die "run -d failed"
	retry 50 bash -c "dk logs $n 2>&1 | grep -qx started" || die "logs: $(dk logs "$n" 2>&1)"
	out=$(dk ps --filter "name=^$n\$" --format '{{.Names}} {{.Status}}')
	expect_contains ps "$out" "$n Up"
	expect_eq "runtime" "$(dk inspect --format '{{.HostConfig.Runtime}}' "$n")" "$DK_RT"
}

dc_exec() {
	local n=d1-$DK_RT out
	out=$(dk exec "$n" echo exec-ok) || die "exec failed: $out"
	expect_eq output "$out" exec-ok
	dk exec "$n" sh -c 'exit 5'
	expect_eq "exec exit status" "$?" 5
	out=$(dk exec -u 1000 -w /tmp -e FOO=bar "$n" sh -c 'echo $(id -u) $PWD $FOO')
	expect_eq "exec -u -w -e" "$out" "1000 /tmp bar"
}

dc_exec_tty() {
	local n=d1-$DK_RT out
	out=$(in_tty dk exec -it "$n" tty) || die "exec -it failed: $out"
	expect_contains tty "$out" /dev/pts/
}

dc_pause() {
	local n=d1-$DK_RT f
	dk pause "$n" >/dev/null || die "pause failed"
	expect_eq status "$(dk_status "$n")" paused
	expect_eq freezer.state "$(dk_cgroup "$n" freezer freezer.state)" FROZEN
	dk unpause "$n" >/dev/null || die "unpause failed"
	expect_eq status "$(dk_status "$n")" running
	expect_eq "exec after unpause" "$(dk exec "$n" echo back)" back
}

dc_update() {
	local n=d1-$DK_RT
	dk update --memory 64m --memory-swap 128m --cpus 0.5 --pids-limit 50 "$n" >/dev/null || die "update failed"
	expect_eq memory.limit_in_bytes "$(dk_cgroup "$n" memory memory.limit_in_bytes)" 67108864
	expect_eq cpu.cfs_quota_us "$(dk_cgroup "$n" cpu cpu.cfs_quota_us)" 50000
	expect_eq pids.max "$(dk_cgroup "$n" pids pids.max)" 50
	dk rm -f "$n" >/dev/null || die "rm -f failed"
}

dc_stop_signal() {
	local n=s1-$DK_RT
	dkr -d --name "$n" dropin-busybox:stopsignal sh -c 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done' >/dev/null ||
		die "run -d failed"
	retry 50 bash -c "dk logs $n 2>&1 | grep -qx ready" || die "not ready: $(dk logs "$n" 2>&1)"
	dk stop -t 20 "$n" >/dev/null || die "stop failed"
	expect_eq "exit code (STOPSIGNAL SIGUSR1 handled)" "$(dk inspect --format '{{.State.ExitCode}}' "$n")" 7
	expect_contains logs "$(dk logs "$n" 2>&1)" got-usr1
	dk rm "$n" >/dev/null
}

dc_kill_signal() {
	local n=k1-$DK_RT
	dkr -d --name "$n" dropin-busybox sh -c 'trap "echo got-usr2; exit 9" USR2; echo ready; while :; do sleep 0.1; done' >/dev/null ||
		die "run -d failed"
	retry 50 bash -c "dk logs $n 2>&1 | grep -qx ready" || die "not ready"
	dk kill -s USR2 "$n" >/dev/null || die "kill -s USR2 failed"
	retry 50 bash -c "[ \"\$(dk_status $n)\" = exited ]" || die "status: $(dk_status "$n")"
	expect_eq "exit code" "$(dk inspect --format '{{.State.ExitCode}}' "$n")" 9
	expect_contains logs "$(dk logs "$n" 2>&1)" got-usr2
	dk rm "$n" >/dev/null
}

dc_read_only() {
	local out
	out=$(dkr --rm --read-only dropin-busybox sh -c 'touch /x 2>&1; echo rc=$?')
	expect_contains "write to read-only rootfs" "$out" "Read-only file system"
}

dc_user() {
	expect_eq "id" "$(dkr --rm --user 1000:1000 dropin-busybox sh -c 'echo $(id -u):$(id -g)')" 1000:1000
}

dc_cap_drop() {
	local out
	out=$(dkr --rm --cap-drop ALL --cap-add CHOWN dropin-busybox grep CapEff /proc/self/status)
	expect_eq CapEff "$(echo "$out" | awk '{print $2}')" 0000000000000001
}

dc_no_new_privs() {
	local out
	out=$(dkr --rm --security-opt no-new-privileges dropin-busybox grep NoNewPrivs /proc/self/status)
	expect_eq NoNewPrivs "$(echo "$out" | awk '{print $2}')" 1
}

dc_tmpfs() {
	local out
	out=$(dkr --rm --read-only --tmpfs /scratch:size=1m,mode=1777 dropin-busybox sh -c 'grep " /scratch " /proc/mounts; echo x >/scratch/f && cat /scratch/f')
	expect_contains mount "$out" "tmpfs /scratch tmpfs"
	expect_contains mount "$out" "size=1024k"
	expect_contains write "$out" x
}

dc_bind() {
	local d=$DK_BASE/vol-$DK_RT out
	mkdir -p "$d"
	echo from-host >"$d/in"
	out=$(dkr --rm -v "$d:/data" dropin-busybox sh -c 'cat /data/in; echo from-ctr >/data/out')
	expect_eq read "$out" from-host
	expect_eq "write seen on the host" "$(cat "$d/out")" from-ctr
	out=$(dkr --rm -v "$d:/data:ro" dropin-busybox sh -c '(echo y >/data/ro) 2>&1; echo rc=$?')
	expect_contains "ro bind" "$out" "Read-only file system"
}

dc_port() {
	local n=p1-$DK_RT port out
	port=$((DROPIN_PORT + $([ "$DK_RT" = runc ] && echo 1 || echo 0) + 2))
	dkr -d --name "$n" -p "127.0.0.1:$port:80" dropin-busybox httpd -f -p 80 -h /www >/dev/null || die "run -p failed"
	retry 50 bash -c "curl -fsS --max-time 2 http://127.0.0.1:$port/ | grep -q dropin-httpd-marker" ||
		die "nothing served on 127.0.0.1:$port"
	dk rm -f "$n" >/dev/null
	! curl -fsS --max-time 2 "http://127.0.0.1:$port/" >/dev/null 2>&1 || die "port still forwarded after rm"
}

dc_init() {
	local out
	out=$(dkr --rm --init dropin-busybox sh -c 'tr "\0" " " </proc/1/cmdline; echo; echo $$')
	expect_contains "pid 1" "$(echo "$out" | head -n 1)" docker-init
	[ "$(echo "$out" | tail -n 1)" != 1 ] || die "the shell is pid 1: --init did not run docker-init"
}

dc_restart() {
	local n=r1-$DK_RT
	dkr -d --name "$n" --restart on-failure:2 dropin-busybox sh -c 'echo run; exit 1' >/dev/null || die "run failed"
	retry 150 bash -c "[ \"\$(dk inspect --format '{{.RestartCount}} {{.State.Status}}' $n)\" = '2 exited' ]" ||
		die "restarts: $(dk inspect --format '{{.RestartCount}} {{.State.Status}}' "$n")"
	expect_eq "runs" "$(dk logs "$n" 2>&1 | grep -c '^run$')" 3
	dk rm "$n" >/dev/null
}

dc_oom() {
	local n=o1-$DK_RT
	dkr --name "$n" --memory 32m --memory-swap 32m dropin-busybox sh -c 'tail /dev/zero'
	expect_eq "exit status" "$?" 137
	expect_eq OOMKilled "$(dk inspect --format '{{.State.OOMKilled}}' "$n")" true
	dk rm "$n" >/dev/null
}

dc_concurrent() {
	local i pids=() ok=0
	for i in $(seq 1 10); do
		dkr -d --name "c$i-$DK_RT" dropin-busybox sleep 600 >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && ok=$((ok + 1)); done
	expect_eq started "$ok" 10
	expect_eq running "$(dk ps --filter "name=-$DK_RT\$" --format '{{.Names}}' | grep -c '^c[0-9]*-')" 10
	# shellcheck disable=SC2046 # one word per container id
	dk rm -f $(dk ps -aq --filter "name=-$DK_RT\$") >/dev/null || die "rm -f failed"
}

# A missing executable: docker run prints the runtime's own message (read by
# the shim from the runtime's JSON log) and exits 127, as with runc.
dc_start_fails() {
	local out
	out=$(dkr --rm dropin-busybox /does-not-exist 2>&1)
	expect_eq "exit status" "$?" 127
	echo "$out"
	expect_contains error "$out" /does-not-exist
	if [ "$DK_RT" = myrun ]; then
		local msg
		msg=$(last_runtime_error "$DK_TRACE")
		[ -n "$msg" ] || die "myrun wrote no error line to its --log file"
		expect_contains "myrun's own message" "$out" "${msg//\\\"/\"}"
	fi
	expect_eq "containers left" "$(dk ps -aq | wc -l)" 0
}

dc_leftovers() {
	local n
	expect_eq "containers left" "$(dk ps -aq | wc -l)" 0
	n=$(find "$DK_BASE/exec" -mindepth 3 -maxdepth 3 -path '*runtime-*' -type d 2>/dev/null | wc -l)
	expect_eq "runtime state dirs" "$n" 0
	n=$(find /sys/fs/cgroup -mindepth 3 -type d -path "*/dropin-docker-$DROPIN_ID/*" 2>/dev/null | wc -l)
	expect_eq "container cgroups" "$n" 0
	n=$(ip -o link show master "$DK_BRIDGE" 2>/dev/null | wc -l)
	expect_eq "veths on the bridge" "$n" 0
	retry 25 bash -c '[ -z "$(pids_referring containerd-shim | xargs -r -n1 sh -c "tr \"\\\\0\" \" \" </proc/\$0/cmdline" 2>/dev/null | grep -F "$DK_BASE")" ]' ||
		die "shims still running"
	n=$(pids_referring docker-proxy | while read -r p; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done | grep -c -- "-host-ip 127.0.0.1" || true)
	expect_eq "docker-proxy processes" "$n" 0
}

# No such runtime name: dockerd's own error, nothing created.
dc_unknown_runtime() {
	local out
	out=$(dk run --rm --runtime no-such-runtime dropin-busybox true 2>&1) && die "run succeeded: $out"
	expect_contains error "$out" "no-such-runtime"
	expect_eq "containers left" "$(dk ps -aq | wc -l)" 0
}

# The shipped daemon.json pointing at a binary that does not exist: a second
# daemon starts (dockerd does not check runtime paths), `docker run
# --runtime myrun` fails naming the path, nothing is left.
dc_missing_binary() {
	local b=$DK_BASE/missing out
	mkdir -p "$b"
	dk_daemon_json "$DK_BASE/no-such-dir/myrun" >"$b/daemon.json"
	dk_start "$b" || die "dockerd with a missing runtime binary did not start: $(tail -n 3 "$b/dockerd.log")"
	DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" load -i "$DK_BASE/img-latest.docker.tar" >/dev/null || die "load failed"
	out=$(DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" run --rm --runtime myrun dropin-busybox true 2>&1) &&
		die "run with a missing runtime binary succeeded: $out"
	echo "$out"
	expect_contains error "$out" "$DK_BASE/no-such-dir/myrun"
	expect_eq "containers left" "$(DOCKER_CONFIG="$b/cli" docker -H "unix://$b/docker.sock" ps -aq | wc -l)" 0
	dk_stop "$b"
	[ -z "$(pids_referring "$b/exec")" ] || die "processes of the second daemon left"
}

export -f dc_run dc_detached dc_exec dc_exec_tty dc_pause dc_update dc_stop_signal dc_kill_signal \
	dc_read_only dc_user dc_cap_drop dc_no_new_privs dc_tmpfs dc_bind dc_port dc_init dc_restart \
	dc_oom dc_concurrent dc_start_fails dc_leftovers dc_unknown_runtime dc_missing_binary dk_start dk_stop dk_daemon_json

docker_section() {
	local p rt
	if ! docker_setup >"$DROPIN_TMP/logs/docker-setup.log" 2>&1; then
		DROPIN_FAILED=$((DROPIN_FAILED + 1))
		echo "FAIL docker/setup: see $DROPIN_TMP/logs/docker-setup.log"
		tail -n 5 "$DROPIN_TMP/logs/docker-setup.log" | sed 's/^/    | /'
		docker_teardown
		return
	fi
	for rt in myrun runc; do
		DK_RT=$rt
		export DK_RT
		p=docker-$rt
		tcase "$p/run" dc_run
		tcase "$p/run-detached-logs-ps" dc_detached
		tcase "$p/exec" dc_exec
		tcase "$p/exec-it" dc_exec_tty
		tcase "$p/pause-unpause" dc_pause
		tcase "$p/update" dc_update
		tcase "$p/stop-stopsignal" dc_stop_signal
		tcase "$p/kill-signal" dc_kill_signal
		tcase "$p/read-only" dc_read_only
		tcase "$p/user" dc_user
		tcase "$p/cap-drop" dc_cap_drop
		tcase "$p/no-new-privileges" dc_no_new_privs
		tcase "$p/tmpfs" dc_tmpfs
		tcase "$p/bind" dc_bind
		tcase "$p/port" dc_port
		tcase "$p/init" dc_init
		tcase "$p/restart-on-failure" dc_restart 90
		tcase "$p/oom-kill" dc_oom
		tcase "$p/concurrent-10" dc_concurrent 120
		tcase "$p/start-fails" dc_start_fails
		tcase "$p/leftovers" dc_leftovers
	done
	tcase docker/unknown-runtime dc_unknown_runtime
	tcase docker/missing-binary dc_missing_binary 90
	docker_teardown
}
