#!/bin/sh
# install-deps.sh: Debian packages `make bench` needs (root). Idempotent.
set -eu
exec "$(dirname "$0")/../apt-install.sh" gcc libc6-dev busybox-static runc crun buildah umoci skopeo hyperfine strace valgrind tar gzip
