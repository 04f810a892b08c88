#!/bin/sh
# guest.sh: runs inside the VM (from the work disk, as root, started by
# vm-test.service under systemd). Runs the suites named in /vm/suites, each
# with a time limit, writes each suite's full log to /vm/results/NAME.log
# and prints one line per suite and a final `vm: N passed, N failed, N
# skipped` (stdout is the host's results port).
#
# Suites:
#   integration-cgroupfs  conformance/integration (cgroup/exec/lifecycle
#                         subset), myrun with the cgroupfs driver
#   integration-systemd   the same with --systemd-cgroup
#   v2-myrun, v2-runc     the pure-v2 + systemd tests (cgroupv2_test.go,
#                         build tag vm), myrun then runc 1.1.5 as baseline
#   stress                TestCgroupStress alone (not in the default set)
#   criu                  CRIU checkpoint/restore (criu_vm_test.go, build
#                         tag vm): criu-myrun, then criu-runc (runc 1.1.5
#                         as the baseline); not in vm-ci's set
#   dropin-podman-systemd podman with cgroup_manager=systemd, root and
#                         rootless (engines_vm_test.go): -myrun, then -runc
#   dropin-containerd-systemd  ctr with the runc v2 shim, SystemdCgroup:
#                         -myrun, then -runc
#   checkpoint-engines    podman container checkpoint/restore (--export,
#                         --import) and ctr containers checkpoint/restore:
#                         -myrun, then -runc
#   myimg                 myimg build (RUN steps) and run with limits
#                         (myimg_vm_test.go), RUN runtime -myrun, then -runc
#   validation            the OCI runtime-tools validation programs (built
#                         on the host): -myrun, then -runc
#   cri-systemd           critest through containerd's CRI plugin with the
#                         runc v2 shim, SystemdCgroup = true and BinaryName
#                         = the runtime (cri-guest.sh): -myrun, then -runc;
#                         /vm/cri-focus (VM_CRI_FOCUS) narrows critest
set -u
V=/vm
R=$V/results
mkdir -p "$R"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
# Emulation is slow: the tests' hang guards (60 s per command) x 4.
export MYRUN_TEST_TIMEOUT_SCALE=4
cd "$V" || exit 1
echo "vm-host: kernel $(uname -r), $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup, controllers: $(cat /sys/fs/cgroup/cgroup.controllers), pid 1: $(cat /proc/1/comm) $(systemctl is-system-running 2>/dev/null)"

P=0 F=0 S=0 X=0
# The integration subset: cgroup, exec and lifecycle tests that do not
# read v1 files (those are the hybrid host's; cgroupv2_test.go has the v2
# equivalents).
INTEG=${VM_INTEG_RUN:-'^(TestExec(Flags|ProcessJSONAndDetach|ProcessSetup|UserNamespace|JoinsAllNamespaces|ConsoleSocket)|TestRunEchoAndExitCode|TestPidNamespaceAndHostname|TestDetachedRoundTrip|TestCreateStartSplit|TestDeleteCreatedContainer|TestDeleteForcePaused|TestKillAllAndSignalNames|TestCgroupBadInput|TestEventsEndWithContainer|TestEventsOOM|TestBadInput|TestFailingPrestartHookLeavesNothing|TestHooksOrderAndState|TestExecSubCgroup|TestPauseResumePsUpdate|TestCheckBeforeUpdateRefuses)$'}
V2RUN='^TestV2'
# The host's VM_CRIU_RUN, if set, narrows the criu suites.
CRIURUN=$(cat "$V/criu-run" 2>/dev/null)
CRIURUN=${CRIURUN:-'^TestCRIU'}
PODMANRUN='^TestVMPodman(Rootless)?Systemd$'
CTRDRUN='^TestVMContainerdSystemd$'
CKRUN='^TestVM(Podman|Containerd)Checkpoint$'
IMGRUN='^TestVMImg(BuildRun|RootlessSystemd)$'
export MYIMG=$V/bin/myimg

# both NAME LIMIT RUN: the suite with myrun (NAME-myrun), then with runc
# 1.1.5 (NAME-runc); NAME-myrun or NAME-runc alone runs one of them.
both() {
	base=${1%-myrun}
	base=${base%-runc}
	for rt in myrun runc; do
		case $1 in *-myrun | *-runc) [ "$1" = "$base-$rt" ] || continue ;; esac
		bin=$V/bin/myrun
		[ "$rt" = runc ] && bin=/usr/sbin/runc
		suite "$base-$rt" "$2" env MYRUN=$bin MYRUN_TEST_CRIU_LOGS=$R/$base-$rt "$V/bin/integration.test" -test.v -test.count=1 -test.timeout "$(($2 - 60))s" -test.run "$3"
	done
}

suite() { # NAME LIMIT CMD...
	name=$1 limit=$2
	shift 2
	echo "vm-suite-start $name $limit"
	t0=$(cut -d. -f1 /proc/uptime)
	# Every 30 s a process snapshot, to tell a hang from slowness. The
	# sleep gets no fd of the .ps file: killing the loop leaves it running
	# for up to 30 s, and an open file on /vm made guest-entry.sh's
	# `umount /vm` fail ("target is busy") after the last suite.
	(cd / && while sleep 30 >/dev/null 2>&1; do
		echo "--- $(cut -d' ' -f1 /proc/uptime)s load $(cut -d' ' -f1-3 /proc/loadavg)"
		ps -eo pid,ppid,stat,wchan:24,etimes,times,args --sort=start_time | grep -v ' \[.*\]$' | tail -n 40
	done) >"$R/$name.ps" 2>&1 &
	snap=$!
	timeout -k 10 "$limit" "$@" >"$R/$name.log" 2>&1
	rc=$?
	kill "$snap" 2>/dev/null
	wait "$snap" 2>/dev/null
	t1=$(cut -d. -f1 /proc/uptime)
	p=$(grep -c "${PASSRE:-^--- PASS}" "$R/$name.log")
	f=$(grep -c "${FAILRE:-^--- FAIL}" "$R/$name.log")
	s=$(grep -c "${SKIPRE:-^--- SKIP}" "$R/$name.log")
	# Failures listed for this suite in expected-failures (each explained
	# in README.md) are counted apart; a timeout or an exit without a
	# failure line never is.
	expected "$name"
	x=$(grep -c '^expected ' "$R/$name.failures")
	note=""
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		note=" (exit $rc$([ "$rc" -eq 124 ] && echo ", timed out after ${limit}s"))"
	fi
	case $rc in 124 | 137) x=0 ;; esac
	f=$((f - x))
	P=$((P + p)) F=$((F + f)) S=$((S + s)) X=$((X + x))
	echo "vm-suite $name: $p passed, $f failed, $s skipped$([ "$x" -gt 0 ] && echo ", $x expected failures") in $((t1 - t0)) s$note"
	grep -v -e '^expected ' -e '^listed ' "$R/$name.failures" | sed "s/^/vm-suite $name: /" | head -${FAILLINES:-20}
	grep '^listed ' "$R/$name.failures" | sed "s/^/vm-suite $name: /"
}

# expected NAME: the suite's failure lines into results/NAME.failures,
# those listed for NAME in /vm/expected-failures ("SUITE TEST # reason")
# marked "expected ", and a "listed ... passed" line for each listed test
# that passed (the list is out of date).
expected() {
	touch "$V/expected-failures"
	awk -v s="$1" -v passre="${PASSRE:-^--- PASS}" -v failre="${FAILRE:-^--- FAIL}" '
		function testname(l) {
			sub(/^--- (PASS|FAIL): /, "", l); sub(/^(ok   |FAIL )/, "", l)
			sub(/ \([0-9.]+s\)$/, "", l); sub(/: .*$/, "", l)
			return l
		}
		FILENAME == ARGV[1] {
			if ($1 == s) { n = $0; sub(/^[^ ]+ +/, "", n); sub(/ +#.*$/, "", n); want[n] = 1 }
			next
		}
		$0 ~ failre { print ((testname($0) in want) ? "expected " : "") $0 }
		$0 ~ passre { if (testname($0) in want) print "listed as an expected failure, but passed: " testname($0) }
	' "$V/expected-failures" "$R/$1.log" >"$R/$1.failures"
}

# validation NAME: the OCI runtime-tools validation programs (built on the
# host, run with -prebuilt), myrun then runc 1.1.5; validation-myrun or
# validation-runc alone runs one. Each program's TAP log lands in
# results/validation-RT/. A program gets 60 s x MYRUN_TEST_TIMEOUT_SCALE.
validation() {
	# linux_process_apparmor_profile asks for a profile it expects loaded:
	# a permissive one, so that the test checks that the runtime puts the
	# process in it (attr/current), not what the profile allows.
	if command -v apparmor_parser >/dev/null; then
		printf '%s\n' 'profile acme_secure_profile flags=(attach_disconnected,mediate_deleted) {' \
			'  file, capability, network, mount, umount, pivot_root, ptrace, signal, unix,' '}' |
			apparmor_parser -r -q || echo "vm: apparmor_parser could not load acme_secure_profile" >&2
	fi
	for rt in myrun runc; do
		case $1 in validation-*) [ "$1" = "validation-$rt" ] || continue ;; esac
		bin=$V/bin/myrun
		[ "$rt" = runc ] && bin=/usr/sbin/runc
		ONLY=$(cat "$V/validation-only" 2>/dev/null) PASSRE='^ok   ' FAILRE='^FAIL ' SKIPRE='^SKIP ' FAILLINES=60 \
			suite "validation-$rt" 2400 "$V/bin/runtimetools" -prebuilt -cache "$V/conformance" \
			-timeout "$((60 * MYRUN_TEST_TIMEOUT_SCALE))" "$bin"
		rm -rf "$R/validation-$rt"
		cp -a "$V/conformance/logs/$(basename "$bin")" "$R/validation-$rt" 2>/dev/null
	done
}

# cri NAME: Kubernetes' default node setup (cri-guest.sh), myrun then runc
# 1.1.5; the focus (empty: all of critest) decides the limit.
cri() {
	focus=$(cat "$V/cri-focus" 2>/dev/null)
	limit=5400
	[ -n "$focus" ] && limit=1200
	for rt in myrun runc; do
		case $1 in cri-systemd-*) [ "$1" = "cri-systemd-$rt" ] || continue ;; esac
		bin=$V/bin/myrun
		[ "$rt" = runc ] && bin=/usr/sbin/runc
		mkdir -p "$R/cri-systemd-$rt"
		FAILLINES=60 suite "cri-systemd-$rt" "$limit" env CRI_OUT="$R/cri-systemd-$rt" "$V/cri/cri-guest.sh" "$bin" "$focus"
	done
}

for s in $(cat "$V/suites"); do
	case $s in
	integration-cgroupfs)
		suite "$s" 1200 env MYRUN=$V/bin/myrun "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 19m -test.run "$INTEG" ;;
	integration-systemd)
		suite "$s" 1200 env MYRUN=$V/bin/myrun MYRUN_TEST_CGROUP_MANAGER=systemd "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 19m -test.run "$INTEG" ;;
	v2-myrun)
		suite "$s" 900 env MYRUN=$V/bin/myrun "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 14m -test.run "$V2RUN" ;;
	stress)
		# Not in the default set: 20 parallel lifecycles, too slow under TCG
		# for the test's 60 s per step (see README.md).
		suite "$s" 900 env MYRUN=$V/bin/myrun "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 14m -test.run '^TestCgroupStress$' ;;
	criu | criu-myrun | criu-runc)
		# criu is both; full CRIU logs of failed steps land in results/criu-*/.
		which=$s # suite() sets s (its skip count)
		if [ "$which" != criu-runc ]; then
			suite criu-myrun 1500 env MYRUN=$V/bin/myrun MYRUN_TEST_CRIU_LOGS=$R/criu-myrun "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 24m -test.run "$CRIURUN"
		fi
		if [ "$which" != criu-myrun ]; then
			suite criu-runc 1500 env MYRUN=/usr/sbin/runc MYRUN_TEST_CRIU_LOGS=$R/criu-runc "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 24m -test.run "$CRIURUN"
		fi ;;
	dropin-podman-systemd*) both "$s" 1500 "$PODMANRUN" ;;
	dropin-containerd-systemd*) both "$s" 900 "$CTRDRUN" ;;
	checkpoint-engines*) both "$s" 1200 "$CKRUN" ;;
	validation*) validation "$s" ;;
	myimg*) both "$s" 900 "$IMGRUN" ;;
	cri-systemd*) cri "$s" ;;
	v2-runc)
		suite "$s" 900 env MYRUN=/usr/sbin/runc "$V/bin/integration.test" -test.v -test.count=1 -test.timeout 14m -test.run "$V2RUN" ;;
	*)
		echo "vm-suite $s: unknown suite"
		F=$((F + 1)) ;;
	esac
done
echo "vm: $P passed, $F failed, $S skipped, $X expected failures (conformance/vm/expected-failures)"
