#!/bin/bash
# Engine drop-in harness: podman 4.3 (root and rootless), containerd 1.6
# and docker 20.10 drive RUNTIME exactly as they drive runc.
#
# Usage: conformance/dropin/run.sh RUNTIME
# Env:   DROPIN_SECTIONS  sections to run (default "root rootless containerd docker")
#        DROPIN_ONLY      bash regex on case names (e.g. 'podman-root/(echo|exec)')
#        DROPIN_TIMEOUT   seconds per case (default 60)
#        DROPIN_ARTIFACTS copy case logs and runtime call traces there
#        DROPIN_KEEP=1    keep the temp dir (debugging; cleanup is skipped)
# Prints `ok NAME`, `skip NAME: why` or `FAIL NAME: why` per case and a
# summary `dropin: N passed, M failed, K skipped`; exits 1 on failures.
# See conformance/dropin/README.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/conformance/harness.sh"
rt=$(harness_runtime "$@") || exit 2

# Engines daemonize conmon, shims and podman's pause process; run under a
# child subreaper so they are reaped promptly and none outlives the run.
harness_reap DROPIN_REAPED "$rt"

harness_require "$here/install-deps.sh" podman conmon containerd ctr slirp4netns newuidmap script busybox iptables-save
[ -x /usr/lib/podman/netavark ] || { echo "$0: netavark missing: run $here/install-deps.sh" >&2; exit 2; }

. "$here/lib.sh"
. "$here/host.sh"
. "$here/image.sh"
. "$here/user.sh"
. "$here/podman.sh"
. "$here/containerd.sh"
. "$here/docker.sh"

DROPIN_RUNTIME=$rt
DROPIN_ID=$$
DROPIN_TMP=$(mktemp -d /tmp/dropin.XXXXXX)
chmod 0711 "$DROPIN_TMP"
DROPIN_IMAGE=localhost/dropin-busybox:latest
DROPIN_CTR_NS=dropin-$DROPIN_ID
DROPIN_BRIDGE=dropin$((DROPIN_ID % 100000))
DROPIN_SUBNET=10.89.$((DROPIN_ID % 200 + 20))
DROPIN_PORT=$((20000 + DROPIN_ID % 20000))
# Four ports: podman's two cases, docker's two (myrun, runc).
while ss -Htln "sport = :$DROPIN_PORT or sport = :$((DROPIN_PORT + 1)) or sport = :$((DROPIN_PORT + 2)) or sport = :$((DROPIN_PORT + 3))" | grep -q .; do
	DROPIN_PORT=$((DROPIN_PORT + 2))
done
DROPIN_USER=
export DROPIN_RUNTIME DROPIN_TMP DROPIN_IMAGE DROPIN_CTR_NS DROPIN_BRIDGE DROPIN_SUBNET DROPIN_PORT DROPIN_ID DROPIN_USER
: "${DROPIN_SECTIONS:=root rootless containerd docker}"
DROPIN_REPO=$repo
DROPIN_MYIMG=${MYIMG:-$repo/bin/myimg}
export DROPIN_REPO DROPIN_MYIMG
case " $DROPIN_SECTIONS " in
*" docker "*)
	for tool in dockerd docker docker-proxy skopeo curl; do
		command -v "$tool" >/dev/null || { echo "$0: $tool missing: run $here/install-deps.sh" >&2; exit 2; }
	done
	[ -x "$DROPIN_MYIMG" ] || { echo "$0: $DROPIN_MYIMG missing (make build)" >&2; exit 2; }
	;;
esac

cleanup() {
	trap - EXIT INT TERM
	if [ -n "${DROPIN_KEEP:-}" ]; then
		echo "dropin: kept $DROPIN_TMP (DROPIN_KEEP set; nothing cleaned up)" >&2
		return
	fi
	podman_teardown
	containerd_teardown
	docker_teardown
	user_delete
	host_restore
	if [ -n "${DROPIN_ARTIFACTS:-}" ]; then
		mkdir -p "$DROPIN_ARTIFACTS"
		cp -r "$DROPIN_TMP/logs" "$DROPIN_ARTIFACTS/" 2>/dev/null
		for f in "$DROPIN_TMP"/*/trace.log; do
			[ -e "$f" ] || continue
			cp "$f" "$DROPIN_ARTIFACTS/trace-$(basename "$(dirname "$f")").log"
			cp -r "$f.configs" "$DROPIN_ARTIFACTS/configs-$(basename "$(dirname "$f")")"
		done
	fi
	unmount_under "$DROPIN_TMP"
	rm -rf "$DROPIN_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DROPIN_TMP/logs" "$DROPIN_TMP/bin"
# A world-readable copy so the rootless user can run it too.
install -m 0755 "$rt" "$DROPIN_TMP/bin/$(basename "$rt")"
host_snapshot
start=$(date +%s)
echo "dropin: runtime $rt ($("$rt" --version 2>/dev/null | head -n 1)), sections: $DROPIN_SECTIONS"
build_image >"$DROPIN_TMP/logs/image.log" 2>&1 || { echo "FAIL image: $(tail -n 3 "$DROPIN_TMP/logs/image.log")"; exit 1; }

for section in $DROPIN_SECTIONS; do
	t0=$(date +%s)
	case $section in
	root)
		podman_section root
		;;
	rootless)
		if user_create >"$DROPIN_TMP/logs/user.log" 2>&1; then
			podman_section rootless
		else
			DROPIN_FAILED=$((DROPIN_FAILED + 1))
			echo "FAIL podman-rootless/setup: cannot create the test user: $(tail -n 2 "$DROPIN_TMP/logs/user.log")"
		fi
		;;
	containerd)
		containerd_section
		;;
	docker)
		docker_section
		;;
	*)
		echo "$0: unknown section $section" >&2
		exit 2
		;;
	esac
	echo "dropin: section $section took $(($(date +%s) - t0))s"
done

echo "dropin: total $(($(date +%s) - start))s"
echo "dropin: $DROPIN_PASSED passed, $DROPIN_FAILED failed, $DROPIN_SKIPPED skipped"
[ "$DROPIN_FAILED" = 0 ]
