#!/bin/bash
# The VM lane: boots a Debian 12 guest (pure cgroup v2, systemd as PID 1)
# under qemu/TCG and runs our suites inside. See conformance/vm/README.md.
#
# Usage: conformance/vm/run.sh            (from `make test-vm` / `make vm-ci`)
# Env:   VM_SUITES        suites to run (default: all; see guest.sh)
#        VM_VALIDATION_ONLY  runtime-tools programs the validation suites
#                         run (the runner's ONLY; default all)
#        VM_CRIU_RUN      -test.run regex of the criu suites (default ^TestCRIU)
#        VM_CRI_FOCUS     ginkgo regex: the critest specs the cri-systemd
#                         suites run (default all)
#        VM_CACHE         image cache (default .cache/vm)
#        VM_OUT           logs of this run (default .cache/vm/last)
#        VM_IMAGE_TIMEOUT seconds for a cold image build (default 1500)
#        VM_BOOT_TIMEOUT  seconds from qemu start to the test unit (default 600)
#        VM_TIMEOUT       seconds for the whole guest run (default 9000: every
#                         suite with all of critest: ~6800 s at host load ~8)
#        VM_MEM, VM_CPUS  guest size (default 2048 MB, 2)
#        VM_APPEND        kernel arguments instead of the quiet ones (debugging)
#        VM_IMAGE_DIR     use this kernel + root disk directory as is (debugging)
# Prints the guest's suite lines, then `vm: N passed, N failed, N skipped`.
# Exits 1 on a failed test or step; the failed step is named.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${GO:=go}"
: "${VM_CACHE:=$repo/.cache/vm}"
: "${VM_OUT:=$VM_CACHE/last}"
: "${VM_IMAGE_TIMEOUT:=1500}"
: "${VM_BOOT_TIMEOUT:=600}"
: "${VM_TIMEOUT:=9000}"
: "${VM_MEM:=2048}"
: "${VM_CPUS:=2}"
: "${VM_SUITES:=integration-cgroupfs integration-systemd v2-myrun v2-runc criu dropin-podman-systemd dropin-containerd-systemd checkpoint-engines myimg validation cri-systemd}"

fail() { echo "vm: FAILED at step '$1': $2" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail prerequisites "must run as root (debootstrap, mkfs.ext4 -d with owners)"
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 debugfs dpkg-deb timeout; do
	command -v "$tool" >/dev/null || fail prerequisites "$tool missing: run $here/install-deps.sh"
done

# 1. The cached kernel + root disk.
t0=$(date +%s)
if [ -n "${VM_IMAGE_DIR:-}" ]; then
	img=$VM_IMAGE_DIR # a prebuilt kernel + root disk (debugging)
else
	img=$(timeout -k 20 "$VM_IMAGE_TIMEOUT" "$here/image.sh" "$VM_CACHE") ||
		fail "image build" "image.sh failed or took longer than ${VM_IMAGE_TIMEOUT}s (see the lines above)"
fi
t1=$(date +%s)

# 2. The work disk: binaries and tests built now, the guest scripts, and
# room for results. Rebuilt every run (mkfs.ext4 -d, no mount).
rm -rf "$VM_OUT"
mkdir -p "$VM_OUT"
work=$(mktemp -d "$VM_CACHE/work.XXXXXX")
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill "$qpid" 2>/dev/null || true
		sleep 2
		kill -9 "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$work/disk/bin" "$work/disk/results"
[ -x "$repo/bin/myrun" ] && [ -x "$repo/bin/myimg" ] || fail "work disk" "bin/myrun or bin/myimg missing: run make build"
cp "$repo/bin/myrun" "$repo/bin/myimg" "$work/disk/bin/"
(cd "$repo" && CGO_ENABLED=1 "$GO" test -c -tags 'integration vm' -o "$work/disk/bin/integration.test" ./conformance/integration) ||
	fail "work disk" "go test -c ./conformance/integration"
# The runtime-tools validation programs (suite validation*): built on the
# host (the guest has no Go and no network) into the host's conformance
# cache, copied with the runner, which uses them there with -prebuilt.
case " $VM_SUITES " in
*" validation"*)
	ccache=${CONFORMANCE_CACHE:-$repo/.cache/conformance}
	(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$work/disk/bin/runtimetools" ./conformance/runtimetools) ||
		fail "work disk" "go build ./conformance/runtimetools"
	rtsuite=$(cd "$repo" && "$work/disk/bin/runtimetools" -build-only -cache "$ccache") ||
		fail "work disk" "building the runtime-tools validation programs (runtimetools -build-only)"
	mkdir -p "$work/disk/conformance"
	cp -a "$rtsuite" "$work/disk/conformance/" || fail "work disk" "copying $rtsuite"
	echo "${VM_VALIDATION_ONLY:-}" >"$work/disk/validation-only"
	;;
esac
# critest, crictl, a registry and its images for the cri-systemd suites
# (cri-prep.sh; the images are cached in VM_CACHE).
case " $VM_SUITES " in
*" cri-systemd"*)
	VM_CACHE=$VM_CACHE "$here/cri-prep.sh" "$work/disk/cri" || fail "work disk" "cri-prep.sh (critest, images)"
	echo "${VM_CRI_FOCUS:-}" >"$work/disk/cri-focus"
	;;
esac
install -m 0755 "$here/guest.sh" "$work/disk/guest.sh"
cp "$here/expected-failures" "$work/disk/expected-failures"
echo "$VM_SUITES" >"$work/disk/suites"
echo "${VM_CRIU_RUN:-}" >"$work/disk/criu-run"
mkfs.ext4 -q -F -L vmwork -d "$work/disk" "$work/work.img" 1024M >"$VM_OUT/mkfs-work.log" 2>&1 ||
	fail "work disk" "mkfs.ext4: $(tail -3 "$VM_OUT/mkfs-work.log")"
t2=$(date +%s)

# 3. Boot. The root disk is opened with snapshot=on: the guest's writes go
# to a temporary overlay and the cached image stays pristine. No network.
console=$VM_OUT/console.log
results=$VM_OUT/results.log
: >"$console"
: >"$results"
qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$VM_MEM" -smp "$VM_CPUS" \
	-nodefaults -no-user-config -display none -no-reboot -nic none \
	-kernel "$img/vmlinuz" \
	-append "root=/dev/nvme0n1 rw console=ttyS0 panic=1 ${VM_APPEND:-quiet loglevel=4 systemd.show_status=false}" \
	-drive if=none,id=root,file="$img/root.img",format=raw,snapshot=on -device nvme,drive=root,serial=vmroot \
	-drive if=none,id=work,file="$work/work.img",format=raw -device nvme,drive=work,serial=vmwork \
	-serial file:"$console" -serial file:"$results" >"$VM_OUT/qemu.log" 2>&1 &
qpid=$!

# Watch the results port: the boot must reach the test unit, each suite
# must end within its announced limit (+60 s), the whole run within
# VM_TIMEOUT. A hang ends qemu by its PID and names the step.
step=boot
deadline=$((t2 + VM_BOOT_TIMEOUT))
final=$((t2 + VM_TIMEOUT))
seen=0
tboot=
while kill -0 "$qpid" 2>/dev/null; do
	now=$(date +%s)
	n=$(wc -l <"$results")
	if [ "$n" -gt "$seen" ]; then
		while IFS= read -r line; do
			line=${line%$'\r'}
			case $line in
			"vm-guest: up"*) tboot=$now; step="guest setup"; deadline=$((now + 300)) ;;
			"vm-suite-start "*)
				set -- $line
				step="suite $2"
				case ${3:-} in
				'' | *[!0-9]*) deadline=$((now + 600)) ;;
				*) deadline=$((now + $3 + 60)) ;;
				esac
				;;
			"vm-suite "* | "vm-host: "*) echo "$line" ;;
			"vm-guest: done"*) step=poweroff; deadline=$((now + 120)) ;;
			esac
		done < <(sed -n "$((seen + 1)),${n}p" "$results")
		seen=$n
	fi
	if [ "$now" -gt "$deadline" ] || [ "$now" -gt "$final" ]; then
		echo "vm: timeout in step '$step'; ending qemu (pid $qpid)" >&2
		echo "--- last console lines:" >&2
		tail -15 "$console" >&2
		echo "--- last results lines:" >&2
		tail -15 "$results" >&2
		kill "$qpid" 2>/dev/null || true
		sleep 2
		kill -9 "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
		qpid=
		fail "$step" "timed out (logs in $VM_OUT)"
	fi
	sleep 2
done
wait "$qpid" || true
qpid=
t3=$(date +%s)
if ! grep -q '^vm-guest: done' "$results"; then
	echo "--- last console lines:" >&2
	tail -25 "$console" >&2
	tail -5 "$VM_OUT/qemu.log" >&2
	[ -z "$tboot" ] && fail boot "qemu exited before the test unit ran (kernel panic or no root disk?); logs in $VM_OUT"
	fail "$step" "the guest stopped before finishing (logs in $VM_OUT)"
fi

# 4. Results back from the work disk without mounting it.
debugfs -R "rdump /results $VM_OUT" "$work/work.img" >/dev/null 2>&1 ||
	echo "vm: note: could not read the suite logs back from the work disk" >&2
summary=$(grep '^vm: ' "$results" | tail -1 || true)
[ -n "$summary" ] || fail "$step" "no summary line from the guest (logs in $VM_OUT)"
echo "vm: timings: image $((t1 - t0)) s, work disk $((t2 - t1)) s, boot ${tboot:+$((tboot - t2)) s}, guest total $((t3 - t2)) s; logs in $VM_OUT"
echo "$summary"
case $summary in
*" 0 failed"*) exit 0 ;;
*) exit 1 ;;
esac
