#!/bin/sh
# vm-entry: run by vm-test.service inside the guest (installed in the cached
# root image; keep it small, the suites live on the work disk). Mounts the
# work disk (second NVMe drive, built fresh by run.sh each run), runs its
# guest.sh with output on ttyS1 (the host's results log), and leaves the
# full logs on the work disk for the host to read back with debugfs.
echo "vm-guest: up $(cut -d' ' -f1 /proc/uptime)s after boot"
mkdir -p /vm
if ! mount -t ext4 /dev/nvme1n1 /vm; then
	echo "vm-guest: cannot mount the work disk /dev/nvme1n1"
	exit 1
fi
rc=0
/vm/guest.sh || rc=$?
sync
if ! umount /vm; then
	# Name what holds it: a process with its cwd, root or an open file there.
	for d in /proc/[0-9]*; do
		for l in "$d/cwd" "$d/root" "$d"/fd/*; do
			case $(readlink "$l" 2>/dev/null) in
			/vm | /vm/*) echo "vm-guest: /vm held by pid ${d#/proc/} ($(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | cut -c1-80)): $l -> $(readlink "$l")" ;;
			esac
		done
	done
	echo "vm-guest: umount /vm failed"
fi
echo "vm-guest: done rc=$rc"
# SuccessAction= did not power the guest off here (systemd 252, oneshot):
# power off ourselves, without stopping units (nothing on disk to keep:
# the root disk is a throwaway snapshot and /vm is unmounted).
systemctl --force poweroff
sleep 30
echo o >/proc/sysrq-trigger
