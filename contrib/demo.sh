#!/bin/sh
# The built-in demo, end to end and offline:
#   1. a busybox image from the host's busybox-static (contrib/images/busybox.sh)
#   2. `myimg build` of contrib/examples/sample (every Containerfile
#      instruction; its RUN steps run in containers through myrun)
#   3. `myimg unpack` into an OCI bundle and `myrun run` of it
#   4. a second, plain busybox bundle run with `myrun run`, showing the
#      container's view (its own pid namespace, hostname, user)
# Everything it makes (store, bundles, state, cgroups) is removed at the end.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
myrun="$top/bin/myrun"
myimg="$top/bin/myimg"
work=$(mktemp -d /tmp/myrun-demo.XXXXXX)
id="demo-$$"
store="$work/store"
cleanup() {
	"$myrun" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
	"$myrun" --root "$work/state" delete --force "$id-bb" >/dev/null 2>&1 || true
	"$myimg" --root "$store" unmount "$work/sample" >/dev/null 2>&1 || true
	rmdir /sys/fs/cgroup/*/myrun-demo/* /sys/fs/cgroup/*/myrun-demo /sys/fs/cgroup/*/myimg-build 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n==> %s\n' "$*"; }

step "busybox base image from /bin/busybox into $store"
MYIMG="$myimg" contrib/images/busybox.sh -r "$store" busybox:latest

step "myimg build -t sample:latest contrib/examples/sample"
"$myimg" --root "$store" build --runtime "$myrun" -t sample:latest contrib/examples/sample
"$myimg" --root "$store" images

step "myimg unpack sample:latest -> bundle; myrun run"
"$myimg" --root "$store" unpack sample:latest "$work/sample"
# A cgroup of its own, outside the caller's (which may not be ours).
sed -i "s|\"linux\": {|\"linux\": {\"cgroupsPath\": \"/myrun-demo/$id\",|" "$work/sample/config.json"
"$myrun" --root "$work/state" run --bundle "$work/sample" "$id"

step "a plain busybox bundle: what the container sees"
mkdir -p "$work/bb"
contrib/bundle/busybox-rootfs.sh "$work/bb/rootfs"
(cd "$work/bb" && "$myrun" spec)
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's|^\(\s*\)"sh"$|\1"sh", "-c", "echo hostname: $(hostname); echo pid: $$; echo uid: $(id -u); echo processes visible: $(ls /proc \| grep -c [0-9]); uname -sr"|' \
	-e "s|\"linux\": {|\"linux\": {\n\t\t\"cgroupsPath\": \"/myrun-demo/$id-bb\",|" "$work/bb/config.json"
"$myrun" --root "$work/state" run --bundle "$work/bb" "$id-bb"

step "done"
