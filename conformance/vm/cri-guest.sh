#!/bin/bash
# cri-guest.sh RUNTIME [FOCUS]: inside the VM (guest.sh's cri-systemd-*
# suites). Kubernetes' default node setup: containerd 1.6's CRI plugin with
# the runc v2 shim as the default handler `runc`, `SystemdCgroup = true` in
# its options and BinaryName = RUNTIME, driven by critest (cri-tools, built
# on the host by cri-prep.sh). Pods get cgroup parent /test.slice (critest's
# systemd default), so every container is a systemd scope
# test.slice:cri-containerd:ID. Images come from a docker-registry on
# 127.0.0.1:5000 serving the host lane's images (conformance/cri/images.sh),
# with registry.k8s.io, gcr.io and k8s.gcr.io mirrored to it.
#
# Then one case of our own through crictl: a pod and a container with a
# memory limit; the container must be in its systemd scope below the pod's
# slice, with memory.max and the unit's MemoryMax set.
#
# Prints `--- PASS|FAIL|SKIP: SPEC` per critest spec (cri-report -list) and
# per case, a summary line, and exits 1 on any failure. Everything it
# started is stopped, by PID, before it returns.
set -u
rt=${1:?usage: cri-guest.sh RUNTIME [FOCUS]}
focus=${2:-}
V=$(cd "$(dirname "$0")" && pwd)
B=$(mktemp -d /tmp/cri.XXXXXX)
REG=127.0.0.1:5000
SOCK=$B/containerd.sock
export PATH=$V/bin:$PATH
name=$(basename "$rt")
out=${CRI_OUT:-$B/out}
mkdir -p "$out" "$B"/{root,state,opt,cni/net.d,cni/ipam}
status=0

# procs_with STRING: PIDs whose command line contains STRING.
procs_with() {
	local d
	for d in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null | grep -qF -- "$1" && echo "${d#/proc/}"
	done
}

crictl_() { crictl --config "$B/crictl.yaml" "$@"; }

cleanup() {
	local id pid
	for id in $(crictl_ pods -q 2>/dev/null); do
		crictl_ stopp "$id" >/dev/null 2>&1
		crictl_ rmp -f "$id" >/dev/null 2>&1
	done
	[ -n "${cpid:-}" ] && kill -TERM "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	for pid in $(procs_with "-address $SOCK"); do kill -KILL "$pid" 2>/dev/null; done
	[ -n "${rpid:-}" ] && kill -TERM "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	cp "$B/containerd.log" "$B/config.toml" "$out/" 2>/dev/null
	ip link del crivm0 2>/dev/null
	awk -v p="$B/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	rm -rf "$B"
}
trap cleanup EXIT

cat >"$B/registry.yml" <<Y
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $V/registry
http:
  addr: $REG
Y
docker-registry serve "$B/registry.yml" >"$out/registry.log" 2>&1 &
rpid=$!

cat >"$B/config.toml" <<CONF
version = 2
root = "$B/root"
state = "$B/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$B/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$B/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REG/pause:cri-harness"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # AppArmor on, as on Debian and Ubuntu nodes: containerd loads its
  # cri-containerd.apparmor.d profile and puts it in every container's
  # process.apparmorProfile.
  disable_apparmor = false
  enable_selinux = false

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$B/cni/net.d"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  snapshotter = "overlayfs"

# Kubernetes' default: the runc v2 shim with the systemd cgroup driver.
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "$rt"
    SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REG"]
  endpoint = ["http://$REG"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
  endpoint = ["http://$REG"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."gcr.io"]
  endpoint = ["http://$REG"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."k8s.gcr.io"]
  endpoint = ["http://$REG"]
CONF
cat >"$B/cni/net.d/10-cri.conflist" <<J
{ "cniVersion": "0.4.0", "name": "cri-vm", "plugins": [
  { "type": "bridge", "bridge": "crivm0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": { "type": "host-local", "dataDir": "$B/cni/ipam", "ranges": [[{ "subnet": "10.92.0.0/24" }]],
      "routes": [{ "dst": "0.0.0.0/0" }] } },
  { "type": "portmap", "capabilities": { "portMappings": true } } ] }
J
printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 240\n' "$SOCK" "$SOCK" >"$B/crictl.yaml"
printf 'defaultTestContainerImage: %s\nwebServerTestImage: %s\n' \
	"$REG/e2e-test-images/busybox:1.29-2" "$REG/e2e-test-images/nginx:1.14-2" >"$B/test-images.yaml"

containerd --config "$B/config.toml" >"$B/containerd.log" 2>&1 &
cpid=$!
ready=
for _ in $(seq 1 120); do
	if crictl_ info -o go-template --template '{{range .status.conditions}}{{.type}}={{.status}} {{end}}' 2>/dev/null |
		grep -q 'NetworkReady=true'; then
		ready=1
		break
	fi
	kill -0 "$cpid" 2>/dev/null || break
	sleep 1
done
if [ -z "$ready" ] || ! crictl_ pull "$REG/pause:cri-harness" >"$out/pull.log" 2>&1; then
	echo "--- FAIL: cri/setup: containerd or the registry did not come up"
	crictl_ info 2>&1 | tail -n 20
	tail -n 20 "$B/containerd.log" "$out/registry.log" "$out/pull.log" 2>/dev/null
	exit 1
fi
echo "cri: $name $("$rt" --version 2>/dev/null | head -n 1), containerd $(containerd --version | awk '{print $3}'), ready"

args=()
[ -n "$focus" ] && args+=("-ginkgo.focus=$focus")
t0=$(date +%s)
(cd "$B" && critest --config "$B/crictl.yaml" \
	--runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" \
	--test-images-file "$B/test-images.yaml" "${args[@]}" \
	-ginkgo.no-color -ginkgo.json-report "$out/report.json" -ginkgo.timeout 3600s) >"$out/critest.log" 2>&1
crc=$?
echo "cri: critest exit $crc in $(($(date +%s) - t0)) s (output in critest.log)"
cri-report -list "$name=$out/report.json" >"$out/list.txt" 2>&1 || status=1
cat "$out/list.txt"
# A critest that failed without a failed spec (ginkgo's timeout, a crash
# after the report) or a focus no spec matches must fail the suite too.
if [ "$crc" -ne 0 ] && ! grep -q '^--- FAIL' "$out/list.txt"; then
	echo "--- FAIL: cri/critest: exit $crc without a failed spec (see critest.log)"
	status=1
fi
if ! grep -q '^--- PASS' "$out/list.txt"; then
	echo "--- FAIL: cri/critest: no spec passed${focus:+ (focus \"$focus\")}"
	status=1
fi

# Our own case: a container with a memory limit lands in its scope.
crictl_case() {
	local pod ctr pid cg unit want
	cat >"$B/pod.json" <<J
{ "metadata": { "name": "vm-case", "namespace": "vm", "uid": "vm-case-uid" },
  "linux": { "cgroup_parent": "kubepods-besteffort-podvmcase.slice", "security_context": { "namespace_options": { "network": 2 } } } }
J
	cat >"$B/ctr.json" <<J
{ "metadata": { "name": "sleeper" }, "image": { "image": "$REG/e2e-test-images/busybox:1.29-2" },
  "command": ["sleep", "1000"], "linux": { "resources": { "memory_limit_in_bytes": 67108864, "cpu_quota": 25000, "cpu_period": 100000 } } }
J
	crictl_ pull "$REG/e2e-test-images/busybox:1.29-2" >/dev/null || return 1
	pod=$(crictl_ runp "$B/pod.json") || return 1
	ctr=$(crictl_ create "$pod" "$B/ctr.json" "$B/pod.json") || return 1
	crictl_ start "$ctr" >/dev/null || return 1
	pid=$(crictl_ inspect -o go-template --template '{{.info.pid}}' "$ctr") || return 1
	cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	unit=cri-containerd-$ctr.scope
	# The kubelet's pod slice, expanded by systemd as for a real node.
	want=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podvmcase.slice/$unit
	[ "$cg" = "$want" ] || { echo "container cgroup $cg, want $want"; return 1; }
	[ "$(cat "/sys/fs/cgroup$cg/memory.max")" = 67108864 ] || { echo "memory.max $(cat "/sys/fs/cgroup$cg/memory.max")"; return 1; }
	[ "$(cat "/sys/fs/cgroup$cg/cpu.max")" = "25000 100000" ] || { echo "cpu.max $(cat "/sys/fs/cgroup$cg/cpu.max")"; return 1; }
	[ "$(systemctl show -P MemoryMax "$unit")" = 67108864 ] || { echo "$unit MemoryMax $(systemctl show -P MemoryMax "$unit")"; return 1; }
	[ "$(crictl_ exec "$ctr" cat /sys/fs/cgroup/memory.max)" = 67108864 ] || { echo "exec: memory.max inside"; return 1; }
	crictl_ stopp "$pod" >/dev/null || return 1
	crictl_ rmp "$pod" >/dev/null || return 1
	[ ! -d "/sys/fs/cgroup$cg" ] || { echo "$cg left after rmp"; return 1; }
	[ "$(systemctl show -P ActiveState "$unit")" != active ] || { echo "$unit still active"; return 1; }
	# The kubelet removes its pod slices itself.
	systemctl stop kubepods.slice
}
if msg=$(crictl_case 2>&1); then
	echo "--- PASS: cri/systemd-scope-limits"
else
	echo "--- FAIL: cri/systemd-scope-limits: $(echo "$msg" | tail -n 3 | tr '\n' ' ')"
	status=1
fi
exit $status
