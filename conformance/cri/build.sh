#!/bin/bash
# build.sh CACHE_DIR: builds critest (and crictl, for the bad-input cases,
# and rcvalidate, our offline RuntimeClass check)
# from the Go module sigs.k8s.io/cri-tools into CACHE_DIR/cri-tools@VERSION,
# once per (version, Go version). The module comes through the module
# proxy into a writable copy under the cache and is built with its own
# go.mod and go.sum (-mod=readonly): nothing is vendored and our go.mod is
# not touched. Prints the directory holding the two binaries.
# Env: CRI_TOOLS_VERSION (default v1.37.0, see README.md), GO.
set -euo pipefail
: "${GO:=go}"
: "${CRI_TOOLS_VERSION:=v1.37.0}"
mod=sigs.k8s.io/cri-tools
here=$(cd "$(dirname "$0")" && pwd)
cache=$1
base=$(mkdir -p "$cache" && cd "$cache" && pwd)/cri-tools@$CRI_TOOLS_VERSION
bin=$base/bin
stamp="$CRI_TOOLS_VERSION $($GO env GOVERSION) $($GO env GOARCH)"
if [ -f "$bin/.stamp" ] && [ "$(cat "$bin/.stamp")" = "$stamp" ] && [ -x "$bin/critest" ] && [ -x "$bin/crictl" ] &&
	[ -x "$bin/rcvalidate" ] && cmp -s "$here/rcvalidate/main.go" "$base/src/cmd/rcvalidate/main.go"; then
	echo "$bin"
	exit 0
fi
export GOWORK=off GO111MODULE=on GOFLAGS=-buildvcs=false
dir=$(cd /tmp && "$GO" mod download -json "$mod@$CRI_TOOLS_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "go mod download $mod@$CRI_TOOLS_VERSION failed" >&2; exit 1; }
rm -rf "$base/src.tmp" "$bin.tmp"
mkdir -p "$base" "$bin.tmp"
cp -r "$dir" "$base/src.tmp"
chmod -R u+w "$base/src.tmp"
# A vendor/ dir in the zip would switch go to vendor mode.
rm -rf "$base/src.tmp/vendor" "$base/src"
mv "$base/src.tmp" "$base/src"
echo "building critest and crictl $CRI_TOOLS_VERSION in $base" >&2
(cd "$base/src" && "$GO" test -c -mod=readonly -trimpath -o "$bin.tmp/critest" ./cmd/critest >&2)
(cd "$base/src" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -o "$bin.tmp/crictl" ./cmd/crictl >&2)
# The RuntimeClass checker needs k8s.io/api, which this module pins already.
mkdir -p "$base/src/cmd/rcvalidate"
cp "$here/rcvalidate/main.go" "$base/src/cmd/rcvalidate/main.go"
(cd "$base/src" && CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -o "$bin.tmp/rcvalidate" ./cmd/rcvalidate/main.go >&2)
echo "$stamp" >"$bin.tmp/.stamp"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
