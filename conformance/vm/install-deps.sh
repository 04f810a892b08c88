#!/bin/sh
# Installs the Debian packages the VM lane needs on the host (root):
# qemu (TCG), debootstrap for the guest's root, e2fsprogs for mkfs.ext4 -d
# and debugfs; for the cri-systemd suites (cri-prep.sh) docker-registry,
# busybox-static and gcc, which make the images the guest's registry serves.
# The guest's own packages come from debootstrap (image.sh).
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" qemu-system-x86 debootstrap e2fsprogs \
	docker-registry busybox-static gcc libc6-dev curl iproute2
