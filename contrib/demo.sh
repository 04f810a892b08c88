#!/bin/sh
# The built-in demo: a busybox bundle from the host's busybox-static, run
# with myrun, its output shown. Everything it makes is removed at the end.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
myrun="$top/bin/myrun"
work=$(mktemp -d /tmp/myrun-demo.XXXXXX)
id="demo-$$"
cleanup() {
	"$myrun" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "==> making a busybox bundle in $work/bundle"
mkdir -p "$work/bundle"
contrib/bundle/busybox-rootfs.sh "$work/bundle/rootfs"
cd "$work/bundle"
"$myrun" spec
# Not a terminal, a command that shows where it runs, and a cgroup of its own.
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e 's|^\(\s*\)"sh"$|\1"sh", "-c", "echo Hello from a myrun container; echo hostname: $(hostname); echo pid: $$; echo uid: $(id -u); echo processes visible: $(ls /proc \| grep -c [0-9]); uname -sr"|' \
	-e "s|\"linux\": {|\"linux\": {\n\t\t\"cgroupsPath\": \"/myrun-demo/$id\",|" config.json

echo "==> myrun run $id"
"$myrun" --root "$work/state" run "$id"
echo "==> done; exit code $?"
rmdir /sys/fs/cgroup/*/myrun-demo /sys/fs/cgroup/myrun-demo 2>/dev/null || true
