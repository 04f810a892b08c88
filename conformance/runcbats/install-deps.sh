#!/bin/sh
# Installs the Debian packages runc's bats suite needs (root). Idempotent.
# bats and jq drive it, gawk/kmod/iproute2/iptables/uidmap/python3 are used
# by its helpers, util-linux's script gives it the terminal its foreground
# terminal tests need, gcc and libseccomp-dev build runc and seccompagent.
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" bats jq gawk kmod iproute2 iptables uidmap \
	python3-minimal util-linux busybox-static gcc libc6-dev libseccomp-dev
