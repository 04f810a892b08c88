# The images critest pulls, made offline (sourced by run.sh; bash).
#
# Every image is the host's busybox-static plus a few files, imported with
# `myimg import` into a private store and pushed to our registry on
# 127.0.0.1 under the paths of the names critest asks for; containerd
# mirrors registry.k8s.io, k8s.gcr.io and gcr.io to that registry (see
# README.md for the list). The pause and nonewprivs programs are our own
# small static C programs.

# cri_rootfs DIR: a busybox rootfs with the users critest's images expect.
cri_rootfs() {
	local r=$1 app
	mkdir -p "$r"/{bin,etc,root,tmp,proc,sys,dev,home,var/tmp,var/run,usr/bin,usr/sbin,sbin,www}
	chmod 1777 "$r/tmp" "$r/var/tmp"
	chmod 700 "$r/root"
	cp "$(command -v busybox)" "$r/bin/busybox"
	# Hard links, as in critest's busybox image: a masked path (/bin/ls)
	# must not be a symlink to the shell's own binary.
	for app in $("$r/bin/busybox" --list-full); do
		[ "$app" = bin/busybox ] && continue
		mkdir -p "$r/$(dirname "$app")"
		ln -f "$r/bin/busybox" "$r/$app"
	done
	cat >"$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
default-user:x:1000:1000:Linux User,,,:/home/default-user:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
P
	cat >"$r/etc/group" <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
default-user:x:1000:
group-defined-in-image:x:50000:default-user
nogroup:x:65534:
G
	echo "hosts: files dns" >"$r/etc/nsswitch.conf"
	# Debian's busybox-static has no pgrep or ipcs applet; critest's
	# busybox image does. Enough of each for critest's calls.
	cat >"$r/usr/bin/pgrep" <<'S'
#!/bin/sh
# pgrep PATTERN: PIDs whose command name matches PATTERN (grep -E).
found=1
for d in /proc/[0-9]*; do
	c=$(cat "$d/comm" 2>/dev/null) || continue
	if echo "$c" | grep -Eq -- "$1"; then echo "${d#/proc/}"; found=0; fi
done
exit $found
S
	cat >"$r/usr/bin/ipcs" <<'S'
#!/bin/sh
# ipcs -m: the shared memory segments of this IPC namespace (key, shmid).
echo "------ Shared Memory Segments --------"
echo "key        shmid      owner      perms      bytes      nattch     status"
awk 'NR > 1 { printf "0x%08x %-10s %-10s %-10s %-10s %-10s\n", $1, $2, $8, $3, $4, $7 }' /proc/sysvipc/shm
S
	# nginx stand-in for the PID namespace specs: its command name is nginx,
	# its argv says "master process", it writes /var/run/nginx.pid and
	# serves /www on port 80 (busybox httpd as its child).
	cat >"$r/usr/sbin/nginx" <<'S'
#!/bin/sh
echo $$ >/var/run/nginx.pid
httpd -f -p "${NGINX_PORT:-80}" -h /www &
child=$!
trap 'kill $child; exit 0' TERM INT QUIT
wait $child
S
	chmod 0755 "$r/usr/bin/pgrep" "$r/usr/bin/ipcs" "$r/usr/sbin/nginx"
	echo '<html><body>cri-harness</body></html>' >"$r/www/index.html"
}

# cri_image NAME DIR CHANGE...: import DIR as NAME and push it to
# $CRI_REGISTRY/NAME.
cri_image() {
	local name=$1 dir=$2 c args=()
	shift 2
	for c in "$@"; do args+=(--change "$c"); done
	"$CRI_MYIMG" --root "$CRI_BASE/myimg" import --timestamp 0 \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"${args[@]}" "$dir" "$name" >/dev/null || return 1
	"$CRI_MYIMG" --root "$CRI_BASE/myimg" push --tls-verify=false "$name" "$CRI_REGISTRY/$name" >/dev/null ||
		{ echo "push $name failed"; return 1; }
}

# cri_variant BASE DIR: a copy of the base rootfs to change.
cri_variant() {
	rm -rf "$2"
	cp -a "$1" "$2"
}

build_cri_images() {
	local w=$CRI_BASE/images b t u
	mkdir -p "$w"
	b=$w/base
	cri_rootfs "$b"
	gcc -static -O2 -o "$w/pause" "$CRI_HERE/pause.c" || return 1
	gcc -static -O2 -o "$w/nnp" "$CRI_HERE/nnp.c" || return 1

	cri_variant "$b" "$w/pause-root"
	cp "$w/pause" "$w/pause-root/pause"
	cri_image "$CRI_PAUSE" "$w/pause-root" 'ENTRYPOINT ["/pause"]' || return 1
	# One image under two registries' names (both mirrored to ours); not
	# the sandbox image, which would add a third name to it.
	cri_variant "$w/pause-root" "$w/pause-3.9"
	touch "$w/pause-3.9/pause-3.9"
	cri_image pause:3.9 "$w/pause-3.9" 'ENTRYPOINT ["/pause"]' || return 1

	cri_image e2e-test-images/busybox:1.29-2 "$b" 'CMD ["sh"]' || return 1
	# The web servers: busybox httpd serving /www (critest checks for 200).
	cri_image e2e-test-images/nginx:1.14-2 "$b" 'CMD ["nginx", "-g", "master process"]' || return 1
	cri_image e2e-test-images/httpd:2.4.39-4 "$b" \
		'CMD ["sh", "-c", "echo httpd listening on 80; exec httpd -f -v -p 80 -h /www"]' || return 1
	cri_image k8s-staging-cri-tools/hostnet-nginx-amd64 "$b" 'CMD ["httpd", "-f", "-p", "12003", "-h", "/www"]' || return 1
	# nonewprivs: a setuid-root program printing its effective uid.
	cri_variant "$b" "$w/nnp-root"
	install -m 4755 -o 0 -g 0 "$w/nnp" "$w/nnp-root/usr/bin/nnp"
	cri_image e2e-test-images/nonewprivs:1.3 "$w/nnp-root" 'ENTRYPOINT ["/usr/bin/nnp"]' || return 1
	# USER images, as images/build in cri-tools makes them.
	for u in test-image-user-uid=1002 test-image-user-username=www-data \
		test-image-user-uid-group=1003:1004 test-image-user-username-group=www-data:1004 \
		test-image-predefined-group=1000; do
		cri_image "k8s-staging-cri-tools/${u%%=*}" "$b" "USER ${u#*=}" 'CMD ["sh"]' || return 1
	done
	# Distinct images with one marker file each; test-image-tags:1..3 are
	# one image under three tags, test-image-tag:test and :all two images.
	for t in test-image-1 test-image-2 test-image-3 test-image-latest test-image-digest same-image test all; do
		cri_variant "$b" "$w/$t"
		touch "$w/$t/$t"
	done
	for t in test-image-1 test-image-2 test-image-3 test-image-latest test-image-digest; do
		cri_image "k8s-staging-cri-tools/$t:latest" "$w/$t" 'CMD ["sh"]' || return 1
	done
	for t in 1 2 3; do
		cri_image "k8s-staging-cri-tools/test-image-tags:$t" "$w/same-image" 'CMD ["sh"]' || return 1
	done
	for t in test all; do
		cri_image "k8s-staging-cri-tools/test-image-tag:$t" "$w/$t" 'CMD ["sh"]' || return 1
	done
	cat >"$CRI_BASE/test-images.yaml" <<Y
defaultTestContainerImage: $CRI_REGISTRY/e2e-test-images/busybox:1.29-2
webServerTestImage: $CRI_REGISTRY/e2e-test-images/nginx:1.14-2
Y
}
