#!/bin/sh
# Installs the Debian packages the CRI harness needs (root). Idempotent.
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" containerd runc containernetworking-plugins \
	docker-registry busybox-static gcc libc6-dev iptables iproute2 util-linux procps curl jq
