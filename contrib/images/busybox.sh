#!/bin/sh
# Turn the host's busybox-static into a busybox OCI image without network.
#
#   busybox.sh [-r STORE] [-o LAYOUT_DIR] [NAME]
#
# Imports into the myimg store (default store, or -r STORE) as NAME
# (default busybox:latest). With -o the image is also written as an OCI
# layout directory (usable as FROM oci:LAYOUT_DIR:latest, skopeo, umoci).
# Needs: /bin/busybox (apt-get install busybox-static), myimg in PATH or
# $MYIMG. SOURCE_DATE_EPOCH is honoured (default 0) so the image is
# reproducible.
set -eu
MYIMG=${MYIMG:-$(command -v myimg || echo "$(dirname "$0")/../../bin/myimg")}
BUSYBOX=${BUSYBOX:-/bin/busybox}
root=""
layout=""
while getopts r:o: opt; do
	case $opt in
	r) root=$OPTARG ;;
	o) layout=$OPTARG ;;
	*) echo "usage: $0 [-r STORE] [-o LAYOUT_DIR] [NAME]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
name=${1:-busybox:latest}
file "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "$BUSYBOX is not a static binary (apt-get install busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rfs=$tmp/rootfs
mkdir -p "$rfs/bin" "$rfs/etc" "$rfs/root" "$rfs/tmp" "$rfs/proc" "$rfs/sys" "$rfs/dev" \
	"$rfs/home" "$rfs/var/tmp" "$rfs/usr/bin" "$rfs/usr/sbin" "$rfs/sbin"
chmod 1777 "$rfs/tmp" "$rfs/var/tmp"
chmod 700 "$rfs/root"
cp "$BUSYBOX" "$rfs/bin/busybox"
for app in $("$BUSYBOX" --list-full); do
	[ "$app" = bin/busybox ] && continue
	mkdir -p "$rfs/$(dirname "$app")"
	ln -sf /bin/busybox "$rfs/$app"
done
cat >"$rfs/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat >"$rfs/etc/group" <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
nogroup:x:65534:
G
echo "hosts: files dns" >"$rfs/etc/nsswitch.conf"
epoch=${SOURCE_DATE_EPOCH:-0}
find "$rfs" -exec touch -h -d "@$epoch" {} +

set -- --timestamp "$epoch" --change 'CMD ["sh"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -m "busybox $("$BUSYBOX" | head -1 | awk '{print $2}') from $BUSYBOX"
if [ -n "$root" ]; then
	"$MYIMG" --root "$root" import "$@" "$rfs" "$name"
else
	"$MYIMG" import "$@" "$rfs" "$name"
fi
if [ -n "$layout" ]; then
	if [ -n "$root" ]; then
		"$MYIMG" --root "$root" save --format oci-dir -o "$layout" "$name"
	else
		"$MYIMG" save --format oci-dir -o "$layout" "$name"
	fi
fi
