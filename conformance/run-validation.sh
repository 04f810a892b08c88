#!/bin/sh
# Run the OCI runtime-tools validation suite against a runtime binary.
# Usage: conformance/run-validation.sh RUNTIME_BINARY [runner flags]
# Env: MIN_PASS (default 0), ONLY="name ...", TIMEOUT (s, default 60),
#      RELATIVE_CGROUPS=1, RUNTIME_ROOT, CONFORMANCE_CACHE, GO.
# See conformance/README.md.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 RUNTIME_BINARY [flags]" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root (the validation programs create containers)" >&2
	exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
: "${GO:=go}"
: "${CONFORMANCE_CACHE:=$repo/.cache/conformance}"
export GO CONFORMANCE_CACHE
mkdir -p "$CONFORMANCE_CACHE"

# The runner is part of our module; go's build cache makes rebuilds cheap.
(cd "$repo" && "$GO" build -o "$CONFORMANCE_CACHE/runner" ./conformance/runtimetools)

# Resolve the runtime before changing directory: a relative path such as
# bin/myrun means the caller's cwd.
rt=$1
shift
case $rt in
*/*) rt=$(cd "$(dirname "$rt")" && pwd)/$(basename "$rt") ;;
esac

exec "$CONFORMANCE_CACHE/runner" "$@" "$rt"
