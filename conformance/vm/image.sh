#!/bin/bash
# image.sh CACHE_DIR: builds (or finds) the VM's kernel and root disk under
# CACHE_DIR/<key>/ and prints that directory. The key hashes every input:
# this script, the package list and the kernel package's name and version,
# so a warm run skips debootstrap and a changed input rebuilds.
#
# The kernel is Debian's cloud kernel (NVMe and ext4 are built in, so no
# initramfs is needed); the root disk is a debootstrap of bookworm with
# systemd as init, made into an ext4 image with `mkfs.ext4 -d` (no loop
# mount). Nothing is mounted on the host except what debootstrap itself
# mounts in the target during its second stage (unmounted on any exit).
set -euo pipefail

cache=${1:?usage: image.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
: "${VM_MIRROR:=http://deb.debian.org/debian}"
: "${VM_SUITE:=bookworm}"

# Packages the tests need inside the guest. Changing this list rebuilds.
PKGS="systemd-sysv dbus dbus-user-session libpam-systemd kmod
runc crun uidmap slirp4netns busybox-static iproute2 procps util-linux
podman conmon containerd criu fuse-overlayfs netavark aardvark-dns catatonit
containernetworking-plugins iptables curl systemd-container apparmor sudo"

step() { echo "vm: image: $*" >&2; }
fail() { echo "vm: image build failed at step '$1': $2" >&2; exit 1; }

kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$kpkg" ] || fail kernel "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/ {print $2}')
key=$( { cat "$0" "$here/guest-entry.sh"; echo "$PKGS $VM_SUITE $kpkg $kver"; } | sha256sum | cut -c1-16)
out=$cache/$key
if [ -f "$out/ok" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/build.XXXXXX")
cleanup() {
	# debootstrap mounts proc/sys in the target; never leave them behind.
	if grep -q " $tmp/" /proc/self/mountinfo 2>/dev/null; then
		awk -v p="$tmp/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t0=$(date +%s)
step "kernel $kpkg $kver"
(cd "$tmp" && apt-get download -q "$kpkg=$kver" >"$tmp/kernel.log" 2>&1) ||
	fail kernel "apt-get download $kpkg: $(tail -3 "$tmp/kernel.log")"
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/kernel" || fail kernel "dpkg-deb -x"
rm -f "$tmp"/linux-image-*.deb
kdir=$(ls -d "$tmp"/kernel/lib/modules/*)
krel=$(basename "$kdir")

# The debootstrap result is cached on its own (keyed by the package list
# and suite only), so a change to the guest's configuration below costs a
# tar extraction, not a new debootstrap.
root=$tmp/rootfs
bkey=$(echo "$PKGS $VM_SUITE $VM_MIRROR" | sha256sum | cut -c1-16)
base=$cache/base-$bkey.tar
if [ ! -f "$base" ]; then
	step "debootstrap $VM_SUITE (minbase + $(echo $PKGS | wc -w) packages)"
	if ! debootstrap --variant=minbase --include="$(echo $PKGS | tr ' ' ,)" \
		"$VM_SUITE" "$root" "$VM_MIRROR" >"$tmp/debootstrap.log" 2>&1; then
		tail -20 "$tmp/debootstrap.log" >&2
		[ -f "$root/debootstrap/debootstrap.log" ] && tail -20 "$root/debootstrap/debootstrap.log" >&2
		fail debootstrap "see the lines above"
	fi
	rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* "$root/debootstrap"
	tar --numeric-owner --xattrs -C "$root" -cf "$tmp/base.tar" . || fail debootstrap "tar of the root"
	rm -f "$cache"/base-*.tar
	mv "$tmp/base.tar" "$base"
else
	step "debootstrap result from the cache ($(basename "$base"))"
	mkdir -p "$root"
	tar --numeric-owner --xattrs -C "$root" -xf "$base" || fail debootstrap "untar $base"
fi
t1=$(date +%s)

step "configure the guest"
mkdir -p "$root/lib/modules"
cp -a "$kdir" "$root/lib/modules/"
chroot "$root" depmod "$krel" || fail configure "depmod"
echo myrun-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 myrun-vm\n' >"$root/etc/hosts"
: >"$root/etc/fstab"
# No password; nobody logs in: the test unit runs and powers off.
chroot "$root" passwd -d root >/dev/null
chroot "$root" useradd -m -u 1000 -s /bin/sh user
echo "user:100000:65536" >"$root/etc/subuid"
echo "user:100000:65536" >"$root/etc/subgid"
# The user manager (user@1000.service) starts at boot, for rootless tests
# through systemd's user delegation.
mkdir -p "$root/var/lib/systemd/linger"
: >"$root/var/lib/systemd/linger/user"
mkdir -p "$root/etc/systemd/system/user@.service.d"
printf '[Service]\nDelegate=cpu cpuset io memory pids\n' >"$root/etc/systemd/system/user@.service.d/delegate.conf"
# Modules the engines need (no udev here to load them on demand).
printf '%s\n' overlay tun veth bridge br_netfilter nf_tables nft_chain_nat nft_compat \
	ip_tables iptable_nat iptable_filter xt_conntrack xt_MASQUERADE xt_addrtype xt_comment \
	xt_mark xt_multiport nf_nat nf_conntrack fuse >"$root/etc/modules-load.d/vm.conf"
# Boot straight to the test unit: nothing that waits for devices (no udev)
# or for the network (there is none).
for u in getty.target serial-getty@ttyS0.service getty@tty1.service systemd-timesyncd.service \
	podman-auto-update.service podman-clean-transient.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
	e2scrub_reap.service systemd-networkd-wait-online.service containerd.service \
	podman.service podman.socket podman-restart.service podman-auto-update.timer \
	systemd-journal-flush.service man-db.timer dpkg-db-backup.timer logrotate.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$u"
done
install -m 0755 "$here/guest-entry.sh" "$root/usr/local/sbin/vm-entry"
cat >"$root/etc/systemd/system/vm-test.service" <<'EOF'
[Unit]
Description=myrun VM test lane
After=local-fs.target dbus.service systemd-logind.service user@1000.service systemd-modules-load.service
Wants=user@1000.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vm-entry
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1
TimeoutStartSec=infinity
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/vm-test.service "$root/etc/systemd/system/multi-user.target.wants/vm-test.service"
ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"

step "mkfs.ext4 -d (root disk)"
size=$(($(du -sm "$root" | cut -f1) + 3072))
mkdir -p "$tmp/out"
mkfs.ext4 -q -F -L vmroot -d "$root" "$tmp/out/root.img" "${size}M" >"$tmp/mkfs.log" 2>&1 ||
	fail mkfs "$(tail -5 "$tmp/mkfs.log")"
cp "$tmp/kernel/boot/vmlinuz-$krel" "$tmp/out/vmlinuz"
t2=$(date +%s)
printf 'kernel=%s\nkernel_version=%s\ndebootstrap_s=%s\nimage_s=%s\nsize_mb=%s\n' \
	"$kpkg" "$kver" $((t1 - t0)) $((t2 - t0)) "$size" >"$tmp/out/ok"
rm -rf "$root"
rm -rf "$out"
# Older images (other keys) go: one image is kept.
for old in "$cache"/*/ok; do
	[ -f "$old" ] && rm -rf "$(dirname "$old")"
done
mv "$tmp/out" "$out"
step "built $out in $((t2 - t0)) s (debootstrap $((t1 - t0)) s)"
echo "$out"
