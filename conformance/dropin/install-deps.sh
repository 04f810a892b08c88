#!/bin/sh
# Installs the Debian packages the engine drop-in harness needs (root).
# Idempotent: only missing packages are installed.
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" podman conmon containerd uidmap slirp4netns fuse-overlayfs \
	netavark aardvark-dns containernetworking-plugins catatonit busybox-static runc \
	iptables util-linux procps iproute2 curl \
	docker.io skopeo
