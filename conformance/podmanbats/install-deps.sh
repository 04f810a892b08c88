#!/bin/sh
# Installs the Debian packages podman's system tests need (root). Idempotent.
# bats and jq drive them, socat gives 450-interactive its pty, podman,
# conmon and netavark are the engine, runc the baseline, busybox-static
# the stand-in test image, iptables and iproute2 the clean-up.
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" bats jq socat podman conmon netavark runc busybox-static \
	iptables iproute2 util-linux
