#!/bin/sh
# busybox-rootfs.sh DIR: a minimal root filesystem from the host's
# busybox-static (Debian package busybox-static), no network needed.
set -eu
dir=${1:?usage: busybox-rootfs.sh DIR}
bb=$(command -v busybox || echo /bin/busybox)
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || [ ! -x /usr/bin/file ] || {
	echo "busybox-rootfs.sh: $bb is not static (install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root"
cp "$bb" "$dir/bin/busybox"
for app in $("$dir/bin/busybox" --list); do
	[ "$app" = busybox ] || ln -sf busybox "$dir/bin/$app"
done
chmod 1777 "$dir/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
