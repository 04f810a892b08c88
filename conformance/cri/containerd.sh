# The private registry and containerd of the CRI run (sourced by run.sh;
# bash).

# cri_registry_start: docker-registry on 127.0.0.1; another port if the
# chosen one is taken meanwhile. Sets CRI_REGISTRY.
cri_registry_start() {
	local d=$CRI_BASE/registry i try port=$CRI_PORT
	mkdir -p "$d/data"
	# shellcheck disable=SC2034 # a retry count
	for try in 1 2 3 4 5; do
		while ss -Htln "sport = :$port" | grep -q .; do port=$((port + 1)); done
		CRI_REGISTRY=127.0.0.1:$port
		cat >"$d/config.yml" <<Y
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
http:
  addr: $CRI_REGISTRY
Y
		docker-registry serve "$d/config.yml" >"$d/registry.log" 2>&1 &
		echo $! >"$d/pid"
		for i in $(seq 1 100); do
			curl -fsS "http://$CRI_REGISTRY/v2/" >/dev/null 2>&1 && return 0
			kill -0 "$(cat "$d/pid")" 2>/dev/null || break
			sleep 0.1
		done
		cri_registry_stop
		cat "$d/registry.log"
		port=$((port + 1))
	done
	return 1
}

cri_registry_stop() {
	local f=$CRI_BASE/registry/pid pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -f "$f"
}

# cri_config: containerd's config. The runtime handler `myrun` is the
# shipped contrib/engines/containerd-config.toml with its binary path
# pointed at our traced copy; everything else (root, state, sockets, CRI
# plugin, CNI, registry mirror, the runc handler) is ours. Top-level keys
# come first: in TOML a key after a table header belongs to that table.
cri_config() {
	local b=$CRI_BASE
	harness_containerd_top "$b"
	echo "# ---- contrib/engines/containerd-config.toml ----"
	sed "s#\"/usr/local/bin/myrun\"#\"$CRI_RUNTIME\"#" "$CRI_REPO/contrib/engines/containerd-config.toml"
	echo "# ---- the harness's own settings ----"
	harness_containerd_tables "$b" # its sockets are $CRI_SOCK{,.ttrpc}
	cat <<CONF

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CRI_REGISTRY/$CRI_PAUSE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # No CAP_SYS_RESOURCE here: containerd may not lower oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  disable_apparmor = true
  max_container_log_line_size = 16384

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$b/cni/net.d"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "$CRI_RUNC"
    Root = "$b/runc-root"

# critest's hard-coded images (registry.k8s.io/e2e-test-images/...,
# gcr.io/k8s-staging-cri-tools/...) come from our loopback registry: a
# mirror keeps their tags, which --registry-prefix drops (README.md).
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."$CRI_REGISTRY"]
  endpoint = ["http://$CRI_REGISTRY"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
  endpoint = ["http://$CRI_REGISTRY"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."gcr.io"]
  endpoint = ["http://$CRI_REGISTRY"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."k8s.gcr.io"]
  endpoint = ["http://$CRI_REGISTRY"]
CONF
}

cri_cni_config() {
	cat <<J
{
  "cniVersion": "0.4.0",
  "name": "cri-harness-$CRI_ID",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CRI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CRI_BASE/cni/ipam",
        "ranges": [[{ "subnet": "$CRI_SUBNET.0/24" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
J
}

cri_containerd_start() {
	local b=$CRI_BASE
	mkdir -p "$b"/{root,state,opt,runc-root,cni/net.d,cni/ipam,tracebin}
	CRI_TRACE=$b/trace.log
	CRI_RUNTIME=$(make_trace_wrapper "$b/bin/$(basename "$CRI_RT")" "$b/tracebin/myrun" "$CRI_TRACE")
	CRI_TRACE_RUNC=$b/trace-runc.log
	CRI_RUNC=$(make_trace_wrapper "$(command -v runc)" "$b/tracebin/runc" "$CRI_TRACE_RUNC")
	export CRI_TRACE CRI_TRACE_RUNC CRI_RUNTIME CRI_RUNC
	cri_config >"$b/config.toml"
	printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 60\n' "$CRI_SOCK" "$CRI_SOCK" >"$b/crictl.yaml"
	cri_cni_config >"$b/cni/net.d/10-cri-harness.conflist"
	harness_containerd_start "$b" 150 crictl_ version || return 1
	# shellcheck disable=SC2154 # set by harness_containerd_start (conformance/harness.sh)
	CRI_PID=$harness_containerd_pid
	export CRI_PID
	crictl_ version || return 1
	# The CRI plugin reports NetworkReady once it has loaded our CNI config.
	retry 50 bash -c 'crictl_ info | jq -e ".status.conditions[] | select(.type == \"NetworkReady\") | .status" | grep -qx true' ||
		{ crictl_ info; return 1; }
	# Fail early when the sandbox image cannot be pulled.
	crictl_ pull "$CRI_REGISTRY/$CRI_PAUSE"
}

# crictl_ ARGS...: crictl against our containerd.
crictl_() {
	"$CRI_TOOLS/crictl" --config "$CRI_BASE/crictl.yaml" "$@"
}
export -f crictl_

# cri_critest HANDLER: one critest run; the ginkgo JSON report goes to
# $CRI_BASE/report-HANDLER.json. The default handler (runc) is selected by
# no --runtime-handler, as a kubelet does for pods without a RuntimeClass.
cri_critest() {
	local h=$1 args=()
	[ "$h" = runc ] || args+=("--runtime-handler=$h")
	[ -n "${CRI_FOCUS:-}" ] && args+=("-ginkgo.focus=$CRI_FOCUS")
	[ -n "${CRI_SKIP:-}" ] && args+=("-ginkgo.skip=$CRI_SKIP")
	(cd "$CRI_BASE" && timeout -k 10 "${CRI_TIMEOUT:-1800}" "$CRI_TOOLS/critest" \
		--config "$CRI_BASE/crictl.yaml" \
		--runtime-endpoint "unix://$CRI_SOCK" --image-endpoint "unix://$CRI_SOCK" \
		--test-images-file "$CRI_BASE/test-images.yaml" \
		"${args[@]}" -ginkgo.no-color -ginkgo.json-report "$CRI_BASE/report-$h.json" \
		-ginkgo.timeout "${CRI_TIMEOUT:-1800}s")
}

# cri_remove_pods: stop and remove through the CRI whatever a failed spec
# left.
cri_remove_pods() {
	local id
	for id in $(crictl_ pods -q 2>/dev/null); do
		crictl_ stopp "$id" >/dev/null 2>&1
		crictl_ rmp -f "$id" >/dev/null 2>&1
	done
}

cri_containerd_teardown() {
	harness_containerd_stop "$CRI_BASE" cri_remove_pods
}
