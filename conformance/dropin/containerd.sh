# containerd 1.6 section (sourced by run.sh; bash): a private containerd
# (config, root, state, sockets under $DROPIN_TMP/containerd) driven with
# `ctr run --runc-binary RUNTIME`.

# cr ARGS...: ctr against our containerd, in our namespace.
cr() { ctr --address "$CR_BASE/containerd.sock" -n "$DROPIN_CTR_NS" "$@"; }

# cr_run ARGS...: `ctr run` with the traced runtime and its own state root.
cr_run() { cr run --fifo-dir "$CR_BASE/fifo" --runc-binary "$CR_RUNTIME" --runc-root "$CR_BASE/runc-root" "$@"; }

# cr_exec ARGS...: `ctr task exec` with its FIFOs under our temp dir.
cr_exec() { cr task exec --fifo-dir "$CR_BASE/fifo" "$@"; }

# cr_task_field ID COLUMN: PID (2) or STATUS (3) of a task from `task ls`.
cr_task_field() { cr task ls | awk -v id="$1" -v c="$2" '$1 == id { print $c }'; }

# cr_remove ID...: kill, delete task and container, ignoring errors.
cr_remove() {
	local id
	for id in "$@"; do
		cr task kill -a -s KILL "$id" >/dev/null 2>&1
		retry 25 bash -c "! cr task ls | awk '\$1 == \"$id\" && \$3 != \"STOPPED\" { f = 1 } END { exit !f }'" 2>/dev/null
		cr task rm -f "$id" >/dev/null 2>&1
		cr container rm "$id" >/dev/null 2>&1
	done
	return 0
}

export -f cr cr_run cr_exec cr_task_field cr_remove

containerd_setup() {
	local b=$DROPIN_TMP/containerd
	mkdir -p "$b"/{root,state,opt,bin,runc-root,fifo}
	{
		echo "version = 2"
		harness_containerd_top "$b" io.containerd.grpc.v1.cri
		harness_containerd_tables "$b"
	} >"$b/config.toml"
	CR_BASE=$b
	CR_TRACE=$b/trace.log
	CR_RUNTIME=$(make_trace_wrapper "$DROPIN_TMP/bin/$(basename "$DROPIN_RUNTIME")" "$b/bin" "$CR_TRACE")
	export CR_BASE CR_TRACE CR_RUNTIME
	harness_containerd_start "$b" 100 cr version || return 1
	# shellcheck disable=SC2154 # set by harness_containerd_start (conformance/harness.sh)
	CR_PID=$harness_containerd_pid
	cr version >/dev/null || return 1
	cr image import "$DROPIN_TMP/image/oci.tar" >/dev/null || return 1
	cr image ls -q | grep -qx "$DROPIN_IMAGE" || { echo "image $DROPIN_IMAGE not imported"; return 1; }
}

# containerd_remove_ours: our namespace's containers, image and the
# namespace itself, each step bounded.
containerd_remove_ours() {
	local b=$DROPIN_TMP/containerd id
	for id in $(timeout 20 ctr --address "$b/containerd.sock" -n "$DROPIN_CTR_NS" container ls -q 2>/dev/null); do
		timeout 20 bash -c "cr_remove $id"
	done
	timeout 20 ctr --address "$b/containerd.sock" -n "$DROPIN_CTR_NS" image rm "$DROPIN_IMAGE" >/dev/null 2>&1
	timeout 20 ctr --address "$b/containerd.sock" namespace rm "$DROPIN_CTR_NS" >/dev/null 2>&1
}

containerd_teardown() {
	harness_containerd_stop "$DROPIN_TMP/containerd" containerd_remove_ours
}

# ---- cases -----------------------------------------------------------

cc_echo() {
	local out
	out=$(cr_run --rm "$DROPIN_IMAGE" ce1 echo hello-dropin) || die "run failed: $out"
	expect_eq output "$out" hello-dropin
}

cc_exit_code() {
	cr_run --rm "$DROPIN_IMAGE" ce2 sh -c 'exit 3'
	expect_eq "exit status" "$?" 3
}

cc_detached() {
	cr_run -d "$DROPIN_IMAGE" cd1 sleep 600 || die "run -d failed"
	retry 25 bash -c '[ "$(cr_task_field cd1 3)" = RUNNING ]' || die "task status: $(cr_task_field cd1 3)"
}

cc_exec() {
	local out
	out=$(cr_exec --exec-id x1 cd1 echo exec-ok) || die "exec failed: $out"
	expect_eq output "$out" exec-ok
	cr_exec --exec-id x2 cd1 sh -c 'exit 5'
	expect_eq "exec exit status" "$?" 5
}

cc_exec_tty() {
	local out
	out=$(in_tty cr_exec -t --exec-id x3 cd1 tty) || die "exec -t failed: $out"
	expect_contains tty "$out" /dev/pts/
}

cc_ps() {
	local pid out
	pid=$(cr_task_field cd1 2)
	out=$(cr task ps cd1) || die "task ps failed"
	expect_contains "task ps" "$out" "$pid"
}

cc_pause() {
	cr task pause cd1 || die "pause failed"
	expect_eq status "$(cr_task_field cd1 3)" PAUSED
	local f
	f=$(cgroup_file "$(cr_task_field cd1 2)" freezer freezer.state) || die "no freezer cgroup"
	expect_eq freezer.state "$(cat "$f")" FROZEN
	cr task resume cd1 || die "resume failed"
	expect_eq status "$(cr_task_field cd1 3)" RUNNING
}

cc_metrics() {
	local out
	out=$(cr task metrics cd1) || die "metrics failed: $out"
	expect_contains metrics "$out" memory.usage_in_bytes
	expect_contains metrics "$out" pids.current
}

cc_kill() {
	cr_exec -d --exec-id bg cd1 sleep 601 || die "exec -d failed"
	cr task kill -s KILL cd1 || die "kill failed"
	retry 50 bash -c '[ "$(cr_task_field cd1 3)" = STOPPED ]' || die "status after kill: $(cr_task_field cd1 3)"
	cr task rm cd1 >/dev/null || die "task rm failed"
	cr container rm cd1 || die "container rm failed"
}

cc_kill_all() {
	cr_run -d "$DROPIN_IMAGE" ck1 sleep 600 || die "run -d failed"
	cr_exec -d --exec-id bg ck1 sleep 602 || die "exec -d failed"
	cr task kill -a -s KILL ck1 || die "kill --all failed"
	retry 50 bash -c '[ "$(cr_task_field ck1 3)" = STOPPED ]' || die "status after kill --all: $(cr_task_field ck1 3)"
	! pgrep -x -f 'sleep 602' >/dev/null || die "exec'd process survived kill --all"
	cr_remove ck1
}

cc_memory_limit() {
	cr_run -d --memory-limit 67108864 "$DROPIN_IMAGE" cm1 sleep 600 || die "run failed"
	local f
	f=$(cgroup_file "$(cr_task_field cm1 2)" memory memory.limit_in_bytes) || die "no memory cgroup"
	expect_eq memory.limit_in_bytes "$(cat "$f")" 67108864
	cr_remove cm1
}

cc_tty() {
	local out
	out=$(in_tty cr_run --rm -t "$DROPIN_IMAGE" ct1 tty) || die "run -t failed: $out"
	expect_contains tty "$out" /dev/pts/0
}

cc_concurrent() {
	local i pids=() ok=0
	for i in $(seq 1 8); do
		cr_run -d "$DROPIN_IMAGE" "cc$i" sleep 600 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" && ok=$((ok + 1)); done
	expect_eq started "$ok" 8
	expect_eq running "$(cr task ls | awk '$1 ~ /^cc[0-9]/ && $3 == "RUNNING"' | wc -l)" 8
	pids=()
	for i in $(seq 1 8); do
		cr_remove "cc$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	expect_eq "left" "$(cr container ls -q | grep -c '^cc[0-9]' || true)" 0
}

cc_leftovers() {
	local n
	n=$(cr task ls -q | wc -l)
	expect_eq "tasks left" "$n" 0
	n=$(cr container ls -q | wc -l)
	expect_eq "containers left" "$n" 0
	n=$(find "$CR_BASE/runc-root" -mindepth 2 -maxdepth 2 -type d | wc -l)
	expect_eq "runtime state dirs" "$n" 0
	n=$(find /sys/fs/cgroup -mindepth 3 -maxdepth 3 -type d -path "*/$DROPIN_CTR_NS/*" | wc -l)
	expect_eq "task cgroups" "$n" 0
	# Shims exit once their last task is deleted.
	retry 25 bash -c '[ -z "$(pids_referring "$CR_BASE/containerd.sock" | grep -vx "$CR_PID")" ]' ||
		die "shims still running: $(pids_referring "$CR_BASE/containerd.sock" | grep -vx "$CR_PID")"
}

export -f cc_echo cc_exit_code cc_detached cc_exec cc_exec_tty cc_ps cc_pause cc_metrics \
	cc_kill cc_kill_all cc_memory_limit cc_tty cc_concurrent cc_leftovers

containerd_section() {
	local p=containerd
	if ! containerd_setup >"$DROPIN_TMP/logs/$p-setup.log" 2>&1; then
		DROPIN_FAILED=$((DROPIN_FAILED + 1))
		echo "FAIL $p/setup: see $DROPIN_TMP/logs/$p-setup.log"
		tail -n 5 "$DROPIN_TMP/logs/$p-setup.log" | sed 's/^/    | /'
		containerd_teardown
		return
	fi
	CR_PID=$(cat "$CR_BASE/containerd.pid")
	export CR_PID
	tcase "$p/echo" cc_echo
	tcase "$p/exit-code" cc_exit_code
	tcase "$p/run-detached" cc_detached
	tcase "$p/task-exec" cc_exec
	tcase "$p/task-exec-tty" cc_exec_tty
	tcase "$p/task-ps" cc_ps
	tcase "$p/pause-resume" cc_pause
	tcase "$p/task-metrics" cc_metrics
	tcase "$p/task-kill" cc_kill
	tcase "$p/task-kill-all" cc_kill_all
	tcase "$p/memory-limit" cc_memory_limit
	tcase "$p/tty" cc_tty
	tcase "$p/concurrent-8" cc_concurrent 120
	tcase "$p/leftovers" cc_leftovers
	containerd_teardown
}
