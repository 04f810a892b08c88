#!/bin/sh
# Installs the Debian packages that building and testing myrun/myimg need.
# Idempotent: only missing packages are installed.
set -eu
PKGS="gcc make libseccomp-dev busybox-static runc uidmap skopeo umoci buildah docker-registry iptables slirp4netns passt iproute2 procps criu"
# RUN for a foreign --platform (imgtool TestBuildForeignArchRun): qemu binfmt_misc handlers.
PKGS="$PKGS qemu-user-static"
# The C and shell checks of `make lint` and the libFuzzer targets of `make fuzz`.
PKGS="$PKGS clang clang-format libclang-rt-14-dev shellcheck"
"$(dirname "$0")/apt-install.sh" $PKGS
# The engines the drop-in tests drive (podman, conmon, containerd, docker, ...).
"$(dirname "$0")/../conformance/dropin/install-deps.sh"
# The CRI harness (containerd's CRI plugin, CNI plugins, a local registry).
"$(dirname "$0")/../conformance/cri/install-deps.sh"
# runc's own bats suite (conformance/runcbats).
"$(dirname "$0")/../conformance/runcbats/install-deps.sh"
# podman's own system tests (conformance/podmanbats).
"$(dirname "$0")/../conformance/podmanbats/install-deps.sh"
# qemu and debootstrap for the VM lane (conformance/vm).
"$(dirname "$0")/../conformance/vm/install-deps.sh"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "note: add /usr/local/go/bin to PATH" >&2
fi
