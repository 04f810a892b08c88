# Bad-input and leftover cases of the CRI run, through crictl (sourced by
# run.sh; bash). Uses lib.sh's tcase protocol (die/skip, one log per case).

# cri_pod_json NAME [LINUX_JSON]: a pod sandbox config for crictl.
cri_pod_json() {
	local f=$CRI_BASE/cases/pod-$1.json
	mkdir -p "$CRI_BASE/cases/logs-$1"
	printf '{"metadata":{"name":"%s","namespace":"cri-harness","uid":"uid-%s-%s","attempt":0},"log_directory":"%s","linux":%s}\n' \
		"$1" "$1" "$CRI_ID" "$CRI_BASE/cases/logs-$1" "${2:-{\}}" >"$f"
	echo "$f"
}

# cri_ctr_json NAME COMMAND_JSON: a container config for crictl.
cri_ctr_json() {
	local f=$CRI_BASE/cases/ctr-$1.json
	printf '{"metadata":{"name":"%s"},"image":{"image":"%s"},"command":%s,"log_path":"%s.log","linux":{}}\n' \
		"$1" "$CRI_REGISTRY/e2e-test-images/busybox:1.29-2" "$2" "$1" >"$f"
	echo "$f"
}

# cri_no_leftovers: what the engine and the runtime must have removed.
cri_no_leftovers() {
	local n
	n=$(crictl_ pods -q | wc -l)
	[ "$n" = 0 ] || die "pod sandboxes left: $(crictl_ pods)"
	n=$(crictl_ ps -aq | wc -l)
	[ "$n" = 0 ] || die "containers left: $(crictl_ ps -a)"
	n=$(find "$CRI_BASE/state" -path '*netns*' -type f 2>/dev/null | wc -l)
	[ "$n" = 0 ] || die "network namespaces left: $(find "$CRI_BASE/state" -path '*netns*' -type f)"
	n=$(find "$CRI_BASE/cni/ipam" -type f -name '[0-9]*' 2>/dev/null | wc -l)
	[ "$n" = 0 ] || die "IP addresses still allocated: $(find "$CRI_BASE/cni/ipam" -type f -name '[0-9]*')"
	n=$(ls /run/containerd/runc/k8s.io 2>/dev/null | sort | comm -13 "$CRI_BASE/host/runc-k8s" - | wc -l)
	[ "$n" = 0 ] || die "myrun state dirs left under /run/containerd/runc/k8s.io: $n"
	n=$(find "$CRI_BASE/runc-root" -mindepth 2 -maxdepth 2 -type d | wc -l)
	[ "$n" = 0 ] || die "runc state dirs left: $n"
	n=$(find /sys/fs/cgroup -mindepth 3 -type d -path '*/k8s.io/*' 2>/dev/null | comm -13 "$CRI_BASE/host/cgroups" - | wc -l)
	[ "$n" = 0 ] || die "pod cgroups left: $(find /sys/fs/cgroup -mindepth 3 -type d -path '*/k8s.io/*' | head -n 3)"
	retry 25 bash -c '[ -z "$(pids_referring "$CRI_SOCK" | grep -vx "$CRI_PID")" ]' ||
		die "shims still running: $(pids_referring "$CRI_SOCK" | grep -vx "$CRI_PID")"
}
# cri_clear: remove what an earlier failed case left, so one failure does
# not fail the cases after it (the failed case has reported it).
cri_clear() {
	local id
	for id in $(crictl_ pods -q); do
		crictl_ stopp "$id" >/dev/null 2>&1
		crictl_ rmp -f "$id" >/dev/null 2>&1
	done
}
export -f cri_pod_json cri_ctr_json cri_no_leftovers cri_clear

# A pod and a container with myrun: the path every case below breaks.
cri_case_pod_runs() {
	local pod ctr p c out
	pod=$(cri_pod_json ok)
	ctr=$(cri_ctr_json ok '["sh","-c","echo hello-from-myrun; cat /proc/self/cgroup >/dev/null"]')
	crictl_ pull "$CRI_REGISTRY/e2e-test-images/busybox:1.29-2" >/dev/null || die "pull failed"
	p=$(crictl_ runp --runtime myrun "$pod") || die "runp failed: $p"
	c=$(crictl_ create "$p" "$ctr" "$pod") || die "create failed: $c"
	crictl_ start "$c" || die "start failed"
	retry 50 bash -c "crictl_ inspect -o go-template --template '{{.status.state}}' $c | grep -qx CONTAINER_EXITED" ||
		die "container did not exit: $(crictl_ inspect "$c" | head -c 300)"
	out=$(crictl_ logs "$c" 2>/dev/null)
	grep -q " create .*$c\$" "$CRI_TRACE" || die "myrun did not create $c (trace: $(tail -n 3 "$CRI_TRACE"))"
	! grep -q "$c" "$CRI_TRACE_RUNC" || die "runc was called for $c"
	crictl_ stopp "$p" >/dev/null && crictl_ rmp "$p" >/dev/null || die "pod removal failed"
	expect_eq logs "$out" hello-from-myrun
	cri_no_leftovers
}

# RunPodSandbox with a handler containerd does not know: containerd's own
# error naming the handler, and nothing created.
cri_case_unknown_handler() {
	local pod out
	pod=$(cri_pod_json nosuch)
	out=$(crictl_ runp --runtime no-such-handler "$pod" 2>&1) && die "runp with an unknown handler succeeded: $out"
	expect_contains error "$out" 'no runtime for'
	expect_contains error "$out" 'no-such-handler'
	cri_no_leftovers
}

# myrun refuses the pod's sandbox (a sysctl the kernel does not have): the
# RunPodSandbox error carries myrun's own message, read by the shim from
# myrun's JSON log, and the network set up for the pod is torn down.
cri_case_sandbox_refused() {
	local pod out
	pod=$(cri_pod_json badsysctl '{"sysctls":{"net.ipv4.no_such_sysctl":"1"}}')
	out=$(crictl_ runp --runtime myrun "$pod" 2>&1) && die "runp with a bad sysctl succeeded: $out"
	echo "$out"
	expect_contains error "$out" "net.ipv4.no_such_sysctl"
	expect_contains error "$out" "OCI runtime create failed"
	cri_myrun_said "$out"
	cri_no_leftovers
}

# myrun fails to start a container in a running pod (no such executable):
# StartContainer's error is myrun's message; the container is left EXITED
# (as with runc) and removing it and the pod leaves nothing.
cri_case_start_fails() {
	local pod ctr p c out st
	pod=$(cri_pod_json noexec)
	ctr=$(cri_ctr_json noexec '["/does-not-exist"]')
	p=$(crictl_ runp --runtime myrun "$pod") || die "runp failed: $p"
	c=$(crictl_ create "$p" "$ctr" "$pod") || die "create failed: $c"
	out=$(crictl_ start "$c" 2>&1) && die "start of a missing executable succeeded: $out"
	echo "$out"
	expect_contains error "$out" /does-not-exist
	cri_myrun_said "$out"
	st=$(crictl_ inspect -o go-template --template '{{.status.state}}' "$c")
	[ "$st" != CONTAINER_RUNNING ] || die "container state $st"
	crictl_ rm "$c" >/dev/null || die "rm failed"
	crictl_ stopp "$p" >/dev/null && crictl_ rmp "$p" >/dev/null || die "pod removal failed"
	cri_no_leftovers
}

# cri_myrun_said ERROR: ERROR holds the last error line myrun wrote to its
# JSON log (the --log file the shim passes and reads back), so it is
# myrun's own message that reached the CRI client.
cri_myrun_said() {
	local msg
	msg=$(last_runtime_error "$CRI_TRACE")
	[ -n "$msg" ] || die "myrun wrote no error line to its --log file"
	# crictl prints the gRPC error with quotes escaped, docker without.
	case $1 in
	*"$msg"* | *"${msg//\\\"/\"}"*) ;;
	*) die "myrun's own message '$msg' not in the error: $1" ;;
	esac
}

# contrib/engines/runtimeclass.yaml against node.k8s.io/v1 (rcvalidate,
# offline), and the same file with a misspelt field and a handler that is
# not a DNS label refused, so the check can fail.
cri_case_runtimeclass() {
	local f=$CRI_REPO/contrib/engines/runtimeclass.yaml bad=$CRI_BASE/cases/bad-runtimeclass.yaml out
	out=$("$CRI_TOOLS/rcvalidate" "$f") || die "rcvalidate: $out"
	echo "$out"
	expect_eq handler "$(sed -n 's/^handler: *//p' "$f")" myrun
	sed -e 's/^handler: myrun/handler: my.run/' -e 's/nodeSelector:/nodeSelectr:/' "$f" >"$bad"
	out=$("$CRI_TOOLS/rcvalidate" "$bad") && die "a broken RuntimeClass passed: $out"
	expect_contains "broken RuntimeClass" "$out" nodeSelectr
	sed -e 's/^handler: myrun/handler: my.run/' "$f" >"$bad"
	out=$("$CRI_TOOLS/rcvalidate" "$bad") && die "handler my.run passed: $out"
	expect_contains "bad handler" "$out" 'handler "my.run"'
}

cri_case_leftovers() {
	cri_no_leftovers
}

export -f cri_case_runtimeclass cri_case_pod_runs cri_case_unknown_handler cri_case_sandbox_refused cri_case_start_fails \
	cri_myrun_said cri_case_leftovers

cri_cases() {
	mkdir -p "$CRI_BASE/cases"
	tcase cri/leftovers-after-critest cri_case_leftovers
	cri_clear
	tcase cri/pod-runs-myrun cri_case_pod_runs 120
	cri_clear
	tcase cri/unknown-handler cri_case_unknown_handler
	cri_clear
	tcase cri/sandbox-refused-by-myrun cri_case_sandbox_refused 120
	cri_clear
	tcase cri/start-fails-in-pod cri_case_start_fails 120
	cri_clear
	tcase cri/runtimeclass-valid cri_case_runtimeclass
}
