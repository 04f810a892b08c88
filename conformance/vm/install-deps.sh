#!/bin/sh
# Installs the Debian packages the VM lane needs on the host (root):
# qemu (TCG), debootstrap for the guest's root, e2fsprogs for mkfs.ext4 -d
# and debugfs. The guest's own packages come from debootstrap (image.sh).
set -eu
exec "$(dirname "$0")/../../contrib/apt-install.sh" qemu-system-x86 debootstrap e2fsprogs
