#!/bin/sh
# Build a Debian image with debootstrap --variant=minbase (no registry).
#
#   debian.sh [-r STORE] [-o LAYOUT_DIR] [-s SUITE] [-m MIRROR] [NAME]
#
# Imports the result into the myimg store as NAME (default
# debian:SUITE, SUITE default bookworm); -o also writes an OCI layout dir.
# Needs root and debootstrap (apt-get install debootstrap); it fetches
# packages from the mirror apt is configured with (35-75 s here), so it is
# not part of the default tests. SOURCE_DATE_EPOCH is honoured.
set -eu
MYIMG=${MYIMG:-$(command -v myimg || echo "$(dirname "$0")/../../bin/myimg")}
root=""
layout=""
suite=bookworm
mirror=""
while getopts r:o:s:m: opt; do
	case $opt in
	r) root=$OPTARG ;;
	o) layout=$OPTARG ;;
	s) suite=$OPTARG ;;
	m) mirror=$OPTARG ;;
	*) echo "usage: $0 [-r STORE] [-o LAYOUT_DIR] [-s SUITE] [-m MIRROR] [NAME]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
name=${1:-debian:$suite}
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "debootstrap needs root" >&2; exit 1; }
if [ -z "$mirror" ]; then
	# The mirror apt already uses (works where only apt reaches the net).
	mirror=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | head -1)
	[ -n "$mirror" ] || mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | head -1)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
debootstrap --variant=minbase "$suite" "$tmp/rootfs" "$mirror"
# What a container image does not need.
rm -rf "$tmp/rootfs/var/cache/apt/archives/"*.deb "$tmp/rootfs/var/lib/apt/lists/"* \
	"$tmp/rootfs/var/log/"*.log "$tmp/rootfs/dev/"* "$tmp/rootfs/proc/"* "$tmp/rootfs/sys/"*
: >"$tmp/rootfs/etc/hostname"
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}

set -- --timestamp "$epoch" --change 'CMD ["bash"]' \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	-m "debootstrap --variant=minbase $suite $mirror"
if [ -n "$root" ]; then
	"$MYIMG" --root "$root" import "$@" "$tmp/rootfs" "$name"
	[ -z "$layout" ] || "$MYIMG" --root "$root" save --format oci-dir -o "$layout" "$name"
else
	"$MYIMG" import "$@" "$tmp/rootfs" "$name"
	[ -z "$layout" ] || "$MYIMG" save --format oci-dir -o "$layout" "$name"
fi
