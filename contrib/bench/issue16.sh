#!/bin/bash
# issue16.sh: the build speed rows of issue 16, one run each (not part of
# `make bench`; figures go to docs/benchmarks.md by hand). Root only.
#
#   1. a RUN with a warm --mount=type=cache vs the same RUN with a cold
#      one (myimg; --no-cache so the RUN runs both times);
#   2. the 200 MB / 13,000-file COPY+RUN build, myimg vs buildah 1.28,
#      fresh stores (as `make bench`);
#   3. the outside run's conditions: 16,600 files and --no-cache on a
#      warm store, myimg vs buildah.
#
#   4. (with MYIMG_BEFORE=binary) the 200 MB build by MYIMG_BEFORE,
#      MYIMG and buildah in turn, ROUNDS times (default 3), fresh stores
#      each: wall, CPU and the layer commit lines of both myimg builds.
#
#   MYIMG=  binary (default bin/myimg)   WORK=  scratch dir (lower case)
#   SKIP_CACHE=1  rows 2 and 3 only      ONLY_ALTERNATE=1  row 4 only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "issue16.sh: must run as root" >&2; exit 1; }
MYIMG=${MYIMG:-$repo/bin/myimg}
GO=${GO:-go}
# Lower case only: buildah names a container after the oci: path.
work=${WORK:-/var/tmp/issue16-bench-$$}
mkdir -p "$work"
cleanup() {
	for d in "$work"/buildah*; do
		[ -d "$d" ] || continue
		buildah --root "$d/root" --runroot "$d/run" --storage-driver overlay rm --all >/dev/null 2>&1 || true
		buildah --root "$d/root" --runroot "$d/run" --storage-driver overlay rmi --all --force >/dev/null 2>&1 || true
		umount -R "$d/root/overlay" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

# seconds CMD...: wall time of one run, after a sync; the CPU time
# (user+sys of the command and the children it waited for) goes to
# $work/cpu.log.
seconds() {
	sync
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$work/time.out" "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; return 1; }
	t1=$(date +%s.%N)
	echo "$* : cpu $(awk '{print $1 + $2}' "$work/time.out")s" >>"$work/cpu.log"
	# myimg's layer commit lines (size, rate, time, compressed size).
	grep '^layer: ' "$work/last.log" | sed 's/^/    /' >>"$work/cpu.log" || true
	echo "$t1 - $t0" | bc
}
ratio() { echo "scale=2; $1 / $2" | bc; }

base=$work/base
MYIMG=$MYIMG "$repo/contrib/images/busybox.sh" -r "$work/bbstore" -o "$base" >/dev/null
from="FROM oci:$base:busybox:latest"

# 1. cache mount: the cold RUN "downloads" (80 MB compressed into the
# cache), the warm one only uses what the cache holds.
c1=$work/cachectx
mkdir -p "$c1"
if [ "${SKIP_CACHE:-0}" != 1 ] && [ "${ONLY_ALTERNATE:-0}" != 1 ]; then
cat >"$c1/Containerfile" <<EOF
$from
RUN --mount=type=cache,target=/cache,id=bench16 \\
    if [ ! -f /cache/dl.gz ]; then head -c 80000000 /dev/urandom | gzip -1 > /cache/dl.gz; fi; \\
    gunzip -c /cache/dl.gz | wc -c > /used
EOF
st=$work/myimg-cache
cold=$(seconds "$MYIMG" --root "$st" build --no-cache -t c "$c1")
warm=$(seconds "$MYIMG" --root "$st" build --no-cache -t c "$c1")
"$MYIMG" --root "$st" prune --cache >/dev/null
cold2=$(seconds "$MYIMG" --root "$st" build --no-cache -t c "$c1")
warm2=$(seconds "$MYIMG" --root "$st" build --no-cache -t c "$c1")
echo "cache mount: cold ${cold}s warm ${warm}s ($(ratio "$warm" "$cold")x); again cold ${cold2}s warm ${warm2}s ($(ratio "$warm2" "$cold2")x)"
fi

# 2. and 3.: the bench payload (200 MB, 13,000 files) through the driver.
drv=$work/driver
(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$drv" ./contrib/bench/driver)
ctx=$work/ctx
mkdir -p "$ctx"
"$drv" -make-payload "$ctx/payload" >/dev/null
cat >"$ctx/Containerfile" <<EOF
$from
COPY payload /payload
RUN find /payload -type f | wc -l > /payload-count
EOF
files=$(find "$ctx/payload" -type f | wc -l)
mb=$(du -sm "$ctx/payload" | cut -f1)

# 4. alternating runs: before/after myimg and buildah, fresh stores.
if [ -n "${MYIMG_BEFORE:-}" ]; then
	for r in $(seq 1 "${ROUNDS:-3}"); do
		bst=$work/buildah-alt$r
		echo "round $r myimg before:" >>"$work/cpu.log"
		m_before=$(seconds "$MYIMG_BEFORE" --root "$work/myimg-before$r" build -t bench:latest "$ctx")
		echo "round $r myimg after:" >>"$work/cpu.log"
		m_after=$(seconds "$MYIMG" --root "$work/myimg-after$r" build -t bench:latest "$ctx")
		b=$(seconds buildah --root "$bst/root" --runroot "$bst/run" --storage-driver overlay bud --pull=never --layers --runtime runc -t bench:latest "$ctx")
		echo "round $r, ${files} files ${mb} MB, fresh stores: myimg before ${m_before}s ($(ratio "$m_before" "$b")x), after ${m_after}s ($(ratio "$m_after" "$b")x), buildah ${b}s"
	done
fi
if [ "${ONLY_ALTERNATE:-0}" = 1 ]; then
	echo "CPU (user+sys, s) per command, with myimg's layer commits:"
	sed "s|$work|WORK|g" "$work/cpu.log"
	uptime
	exit 0
fi
bst=$work/buildah1 mst=$work/myimg1
b=$(seconds buildah --root "$bst/root" --runroot "$bst/run" --storage-driver overlay bud --pull=never --layers --runtime runc -t bench:latest "$ctx")
m=$(seconds "$MYIMG" --root "$mst" build -t bench:latest "$ctx")
echo "build ${files} files ${mb} MB, fresh stores: myimg ${m}s buildah ${b}s ($(ratio "$m" "$b")x)"

# 3. 3,600 more small files (16,600), --no-cache on the warm stores.
for i in $(seq 1 3600); do
	d=$ctx/payload/extra$((i % 60))
	mkdir -p "$d"
	echo "extra file $i" >"$d/e$i.txt"
done
files=$(find "$ctx/payload" -type f | wc -l)
b=$(seconds buildah --root "$bst/root" --runroot "$bst/run" --storage-driver overlay bud --pull=never --layers --no-cache --runtime runc -t bench:latest "$ctx")
m=$(seconds "$MYIMG" --root "$mst" build --no-cache -t bench:latest "$ctx")
echo "build ${files} files --no-cache, warm stores: myimg ${m}s buildah ${b}s ($(ratio "$m" "$b")x)"
bst2=$work/buildah2 mst2=$work/myimg2
b=$(seconds buildah --root "$bst2/root" --runroot "$bst2/run" --storage-driver overlay bud --pull=never --layers --runtime runc -t bench:latest "$ctx")
m=$(seconds "$MYIMG" --root "$mst2" build -t bench:latest "$ctx")
echo "build ${files} files, fresh stores: myimg ${m}s buildah ${b}s ($(ratio "$m" "$b")x)"
echo "CPU (user+sys, s) per command, with myimg's layer commits:"
sed "s|$work|WORK|g" "$work/cpu.log"
uptime
