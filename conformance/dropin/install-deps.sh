#!/bin/sh
# Installs the Debian packages the engine drop-in harness needs.
# Idempotent: only missing packages are installed (root only).
set -eu
PKGS="podman conmon containerd uidmap slirp4netns fuse-overlayfs netavark
aardvark-dns containernetworking-plugins catatonit busybox-static runc
iptables util-linux procps iproute2 curl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
