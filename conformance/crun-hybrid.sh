#!/bin/sh
# Runs the runtime-tools suite against crun on a hybrid-cgroup host, for
# the comparison column in conformance/README.md. crun 1.8.1 refuses hybrid
# hosts and ociVersion 1.3.0, so (as root) this:
#   - runs in a private mount namespace with /sys/fs/cgroup/unified hidden
#     under an empty tmpfs (crun then sees plain cgroup v1);
#   - calls crun through a wrapper that rewrites the bundle's ociVersion
#     1.3.0 to 1.1.0 before create/run.
# Usage: conformance/crun-hybrid.sh [run-validation.sh flags]
set -eu
cd "$(dirname "$0")/.."
CRUN=${CRUN:-/usr/bin/crun}
if [ "${CRUN_HYBRID_INNER:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "crun-hybrid.sh: must run as root" >&2; exit 2; }
	[ -x "$CRUN" ] || { echo "crun-hybrid.sh: $CRUN not found (apt-get install crun)" >&2; exit 2; }
	CRUN_HYBRID_INNER=1 exec unshare -m --propagation private "$0" "$@"
fi
if mountpoint -q /sys/fs/cgroup/unified; then
	mount -t tmpfs -o size=1m none /sys/fs/cgroup/unified
fi
dir=$(mktemp -d /tmp/crun-hybrid-XXXXXX)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/crun" <<WRAP
#!/bin/sh
b=.; prev=
for a in "\$@"; do
	case "\$prev" in --bundle|-b) b=\$a ;; esac
	case "\$a" in --bundle=*) b=\${a#--bundle=} ;; esac
	prev=\$a
done
case " \$* " in *" create "*|*" run "*)
	[ -f "\$b/config.json" ] && sed -i 's/"ociVersion": *"1\.3\.0"/"ociVersion":"1.1.0"/' "\$b/config.json" ;;
esac
exec $CRUN "\$@"
WRAP
chmod 0755 "$dir/crun"
RUNTIME_ROOT=/run/crun conformance/run-validation.sh "$dir/crun" "$@"
