#!/bin/bash
# cri-prep.sh DEST: what the guest's cri-systemd suites need and cannot make
# themselves (the guest has no Go, no gcc and no network), put under DEST on
# the work disk by run.sh:
#   DEST/bin/critest, crictl   cri-tools from conformance/cri/build.sh (cached
#                              in .cache/cri, built once)
#   DEST/bin/cri-report        conformance/cri/report (static)
#   DEST/bin/docker-registry   the host's (Debian 12, as the guest)
#   DEST/registry/             a registry's storage holding every image the
#                              host lane serves (conformance/cri/images.sh),
#                              made here once and cached in VM_CACHE/cri-images-KEY
#   DEST/cri-guest.sh          the guest side (conformance/vm/cri-guest.sh)
set -euo pipefail

dest=${1:?usage: cri-prep.sh DEST}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
: "${GO:=go}"
: "${VM_CACHE:=$repo/.cache/vm}"
cri=$repo/conformance/cri
for tool in docker-registry busybox gcc curl ss; do
	command -v "$tool" >/dev/null || { echo "cri-prep: $tool missing: run $cri/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$dest/bin"
tools=$("$cri/build.sh" "$repo/.cache/cri")
cp "$tools/critest" "$tools/crictl" "$dest/bin/"
(cd "$repo" && CGO_ENABLED=0 "$GO" build -o "$dest/bin/cri-report" ./conformance/cri/report)
cp "$(command -v docker-registry)" "$dest/bin/docker-registry"
install -m 0755 "$here/cri-guest.sh" "$dest/cri-guest.sh"

# The images: keyed by what makes them (the image recipes and busybox).
# sed, not head: head exits after one line and busybox, still writing,
# may die of SIGPIPE, which pipefail and set -e made a silent exit 141.
key=$( { cat "$cri/images.sh" "$cri/pause.c" "$cri/nnp.c" "$0"; busybox | sed -n 1p; } | sha256sum | cut -c1-16)
store=$VM_CACHE/cri-images-$key
if [ ! -f "$store/complete" ]; then
	rm -rf "$VM_CACHE"/cri-images-*
	CRI_BASE=$(mktemp -d /tmp/vm-cri-images.XXXXXX)
	trap 'cri_registry_stop || true; rm -rf "$CRI_BASE"' EXIT
	CRI_HERE=$cri
	CRI_PORT=$((30000 + $$ % 20000))
	CRI_PAUSE=pause:cri-harness
	CRI_MYIMG=${MYIMG:-$repo/bin/myimg}
	export CRI_BASE CRI_HERE CRI_PORT CRI_PAUSE CRI_MYIMG
	# shellcheck source=../cri/containerd.sh
	. "$cri/containerd.sh" # cri_registry_start/stop
	# shellcheck source=../cri/images.sh
	. "$cri/images.sh"
	cri_registry_start >"$CRI_BASE/registry.log" 2>&1 || { cat "$CRI_BASE/registry.log" >&2; exit 1; }
	build_cri_images >"$CRI_BASE/images.log" 2>&1 || { tail -n 5 "$CRI_BASE/images.log" >&2; exit 1; }
	cri_registry_stop || true # wait answers 143 for the TERMed registry
	mkdir -p "$store.tmp"
	cp -a "$CRI_BASE/registry/data" "$store.tmp/data"
	touch "$store.tmp/complete" # not "ok": image.sh prunes dirs with one
	mv "$store.tmp" "$store"
fi
cp -a "$store/data" "$dest/registry"
