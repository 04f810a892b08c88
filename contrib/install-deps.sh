#!/bin/sh
# Installs the Debian packages that building and testing myrun/myimg need.
# Idempotent: only missing packages are installed.
set -eu
PKGS="gcc make libseccomp-dev busybox-static runc uidmap skopeo umoci buildah docker-registry iptables slirp4netns iproute2 procps"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
# The engines the drop-in tests drive (podman, conmon, containerd, ...).
"$(dirname "$0")/../conformance/dropin/install-deps.sh"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "note: add /usr/local/go/bin to PATH" >&2
fi
