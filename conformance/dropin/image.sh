# Builds the busybox test image offline (sourced by run.sh; bash).
# Outputs: $DROPIN_TMP/image/rootfs.tar (for `podman import`) and
# $DROPIN_TMP/image/oci.tar (an OCI image layout archive for
# `ctr image import`), both made from the host's static busybox.

build_image() {
	local d=$DROPIN_TMP/image bb r a
	bb=$(command -v busybox) || { echo "busybox not found (install busybox-static)" >&2; return 1; }
	r=$d/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/www" "$r/proc" "$r/sys" "$r/dev" "$r/root"
	cp "$bb" "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
	done
	chmod 1777 "$r/tmp"
	printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nuser:x:1000:\n' >"$r/etc/group"
	echo dropin-httpd-marker >"$r/www/index.html"
	tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$r" -cf "$d/rootfs.tar" .
	make_oci_archive "$d/rootfs.tar" "$d/oci" "$d/oci.tar"
}

# make_oci_archive LAYER_TAR WORKDIR OUT_TAR: one uncompressed layer, a
# config with Cmd /bin/sh, a manifest and an index naming the image
# $DROPIN_IMAGE (containerd reads io.containerd.image.name).
make_oci_archive() {
	local layer=$1 w=$2 out=$3 ldig lsize cdig csize mdig msize
	mkdir -p "$w/blobs/sha256"
	ldig=$(sha256sum "$layer" | cut -d' ' -f1)
	lsize=$(stat -c %s "$layer")
	cp "$layer" "$w/blobs/sha256/$ldig"
	printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
		"$ldig" >"$w/config.json"
	cdig=$(sha256sum "$w/config.json" | cut -d' ' -f1)
	csize=$(stat -c %s "$w/config.json")
	mv "$w/config.json" "$w/blobs/sha256/$cdig"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$cdig" "$csize" "$ldig" "$lsize" >"$w/manifest.json"
	mdig=$(sha256sum "$w/manifest.json" | cut -d' ' -f1)
	msize=$(stat -c %s "$w/manifest.json")
	mv "$w/manifest.json" "$w/blobs/sha256/$mdig"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"latest"}}]}' \
		"$mdig" "$msize" "$DROPIN_IMAGE" >"$w/index.json"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
	tar -C "$w" -cf "$out" oci-layout index.json blobs
}
