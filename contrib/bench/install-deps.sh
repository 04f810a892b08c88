#!/bin/sh
# install-deps.sh: Debian packages `make bench` needs (root). Idempotent.
set -eu
PKGS="gcc libc6-dev busybox-static runc crun buildah umoci skopeo hyperfine strace tar gzip"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "bench: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "bench: installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
