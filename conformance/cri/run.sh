#!/bin/bash
# Kubernetes' CRI validation suite (critest) through a private containerd
# 1.6 whose CRI plugin runs pods with RUNTIME under the handler `myrun`
# (the shipped contrib/engines/containerd-config.toml) and with runc under
# the default handler `runc`, side by side, plus the bad-input cases.
#
# Usage: conformance/cri/run.sh RUNTIME
# Env:   CRI_FOCUS     ginkgo regex: run only these specs (default: all)
#        CRI_SKIP      ginkgo regex: specs to leave out (added to critest's own)
#        CRI_HANDLERS  handlers to run, default "myrun runc" (first is compared
#                      against the second)
#        CRI_ARTIFACTS copy the reports, critest output, containerd log and the
#                      runtime call traces there
#        CRI_KEEP=1    keep the temp dir and everything running (debugging)
# Prints `cri: runtime NAME` and `critest: N passed, N failed, N skipped` per
# handler, REGRESSION lines for specs failing with myrun but passing with runc,
# `ok|FAIL NAME` per bad-input case and `cri: N passed, N failed, N skipped`
# for those; exits 1 on a regression or a failed case. See README.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/conformance/harness.sh"
rt=$(harness_runtime "$@") || exit 2
: "${GO:=go}"
cache=${CONFORMANCE_CACHE:-$repo/.cache/conformance}

# containerd's shims daemonize: reap them under a child subreaper.
harness_reap CRI_REAPED "$rt"

harness_require "$here/install-deps.sh" containerd docker-registry busybox gcc iptables-save ip runc jq curl
for p in bridge host-local loopback portmap; do
	[ -x "/usr/lib/cni/$p" ] || { echo "$0: /usr/lib/cni/$p missing: run $here/install-deps.sh" >&2; exit 2; }
done

CRI_TOOLS=$("$here/build.sh" "$repo/.cache/cri") || { echo "FAIL cri/build: critest did not build" >&2; exit 1; }
(cd "$repo" && "$GO" build -o "$cache/cri-report" ./conformance/cri/report) || exit 2
CRI_MYIMG=${MYIMG:-$repo/bin/myimg}
[ -x "$CRI_MYIMG" ] || { echo "$0: $CRI_MYIMG missing (make build)" >&2; exit 2; }

. "$repo/conformance/dropin/lib.sh"
. "$repo/conformance/dropin/host.sh" # unmount_under
. "$here/host.sh"
. "$here/images.sh"
. "$here/containerd.sh"
. "$here/cases.sh"

CRI_HERE=$here
CRI_REPO=$repo
CRI_RT=$rt
CRI_ID=$$
CRI_BASE=$(mktemp -d /tmp/cri.XXXXXX)
chmod 0711 "$CRI_BASE"
CRI_BRIDGE=cri$((CRI_ID % 100000))
CRI_SUBNET=10.91.$((CRI_ID % 200 + 20))
CRI_PORT=$((30000 + CRI_ID % 20000))
while ss -Htln "sport = :$CRI_PORT" | grep -q .; do CRI_PORT=$((CRI_PORT + 1)); done
CRI_REGISTRY=127.0.0.1:$CRI_PORT
CRI_PAUSE=pause:cri-harness
CRI_SOCK=$CRI_BASE/containerd.sock
# DROPIN_TMP is where lib.sh's tcase keeps case logs.
DROPIN_TMP=$CRI_BASE
: "${CRI_HANDLERS:=myrun runc}"
export CRI_HERE CRI_REPO CRI_RT CRI_ID CRI_BASE CRI_BRIDGE CRI_SUBNET CRI_REGISTRY CRI_PAUSE CRI_SOCK CRI_TOOLS CRI_MYIMG DROPIN_TMP

cleanup() {
	trap - EXIT INT TERM
	if [ -n "${CRI_KEEP:-}" ]; then
		echo "cri: kept $CRI_BASE (CRI_KEEP set; nothing cleaned up)" >&2
		return
	fi
	if [ -n "${CRI_ARTIFACTS:-}" ]; then
		mkdir -p "$CRI_ARTIFACTS"
		cp -r "$CRI_BASE/logs" "$CRI_BASE"/report-*.json "$CRI_BASE"/critest-*.log \
			"$CRI_BASE/containerd.log" "$CRI_BASE"/trace*.log* "$CRI_BASE/config.toml" "$CRI_ARTIFACTS/" 2>/dev/null
	fi
	cri_containerd_teardown
	cri_registry_stop
	cri_host_restore
	unmount_under "$CRI_BASE"
	rm -rf "$CRI_BASE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$CRI_BASE/logs" "$CRI_BASE/bin"
install -m 0755 "$rt" "$CRI_BASE/bin/$(basename "$rt")"
cri_host_snapshot
start=$(date +%s)
echo "cri: runtime $rt ($("$rt" --version 2>/dev/null | head -n 1)), critest $(cut -d" " -f1 "$CRI_TOOLS/.stamp"), containerd $(containerd --version | awk '{print $3}')"

status=0
if ! cri_registry_start >"$CRI_BASE/logs/registry.log" 2>&1; then
	echo "FAIL cri/registry: $(tail -n 3 "$CRI_BASE/logs/registry.log")"
	exit 1
fi
if ! build_cri_images >"$CRI_BASE/logs/images.log" 2>&1; then
	echo "FAIL cri/images: $(tail -n 3 "$CRI_BASE/logs/images.log")"
	exit 1
fi
if ! cri_containerd_start >"$CRI_BASE/logs/containerd-setup.log" 2>&1; then
	echo "FAIL cri/containerd: $(tail -n 5 "$CRI_BASE/logs/containerd-setup.log")"
	tail -n 5 "$CRI_BASE/containerd.log" | sed 's/^/    | /'
	exit 1
fi
echo "cri: images and containerd ready in $(($(date +%s) - start))s"

reports=()
for h in $CRI_HANDLERS; do
	t0=$(date +%s)
	cri_critest "$h" >"$CRI_BASE/critest-$h.log" 2>&1
	rc=$?
	if [ -s "$CRI_BASE/report-$h.json" ]; then
		reports+=("$h=$CRI_BASE/report-$h.json")
	else
		echo "FAIL cri/critest-$h: no report (exit $rc)"
		tail -n 10 "$CRI_BASE/critest-$h.log" | sed 's/^/    | /'
		status=1
	fi
	echo "cri: critest with handler $h took $(($(date +%s) - t0))s"
done
if [ "${#reports[@]}" = 2 ]; then
	"$cache/cri-report" "${reports[@]}" || status=1
elif [ "${#reports[@]}" = 1 ]; then
	"$cache/cri-report" "${reports[0]}" "${reports[0]}" | sed -n '1,2p'
fi

cri_cases
echo "cri: total $(($(date +%s) - start))s"
echo "cri: $DROPIN_PASSED passed, $DROPIN_FAILED failed, $DROPIN_SKIPPED skipped"
[ "$DROPIN_FAILED" = 0 ] || status=1
exit $status
