#!/bin/bash
# Runs runc's own integration suite (bats, tests/integration of the runc Go
# module) against runc built from that module (the reference) and/or any
# runc-compatible runtime. Nothing of runc is kept in this repository: the
# module is fetched through the Go module proxy into the cache at test time.
#
# Usage: conformance/runcbats/run.sh [RUNTIME...]
#   RUNTIME is "runc" (the reference built from the module) or a path to a
#   runtime binary; default: runc and bin/myrun.
# Env:
#   RUNC_VERSION   runc module version (default v1.4.4)
#   RUNCBATS_CACHE cache dir (default .cache/runcbats)
#   ONLY           bats files to run, e.g. "run.bats exec.bats" (default all)
#   FILTER         bats --filter regex (test names)
#   MIN_PASS       exit 1 if the last non-reference runtime passes fewer tests
#   TIMEOUT        timeout of one runtime's whole bats run, seconds
#                  (default 3600); bats' own per-test timeout is not used:
#                  its watchdog is a background job that the suite's bare
#                  `wait` calls (events.bats) would wait for
# See conformance/README.md ("runc's integration suite").
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "$0: must run as root" >&2
	exit 2
fi
command -v bats >/dev/null || { echo "$0: bats missing (apt-get install bats)" >&2; exit 2; }
command -v jq >/dev/null || { echo "$0: jq missing (apt-get install jq)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
: "${GO:=go}"
: "${RUNC_VERSION:=v1.4.4}"
: "${RUNCBATS_CACHE:=$repo/.cache/runcbats}"
: "${ONLY:=}"
: "${FILTER:=}"
: "${MIN_PASS:=0}"
: "${TIMEOUT:=3600}"
cache=$RUNCBATS_CACHE/$RUNC_VERSION
src=$cache/src
logs=$cache/logs
mkdir -p "$cache" "$logs"

# Files whose tests use setup_debian need DEBIAN_IMAGE (a Debian rootfs);
# the lane builds only busybox, so it skips them (listed in the summary).
debian_reason="needs DEBIAN_IMAGE (a Debian rootfs); the lane builds only busybox"

log() { echo "runcbats: $*" >&2; }

# --- build ---------------------------------------------------------------

build() {
	local stamp want dir
	want="$RUNC_VERSION $($GO env GOVERSION) $(uname -m) build-4"
	stamp=$cache/stamp
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$src/runc" ]; then
		return 0
	fi
	log "building runc $RUNC_VERSION, its test helpers and the busybox image"
	dir=$(cd "$repo" && GOFLAGS=-mod=mod "$GO" mod download -json "github.com/opencontainers/runc@$RUNC_VERSION" | jq -r .Dir)
	[ -d "$dir/tests/integration" ] || { log "module has no tests/integration: $dir"; exit 2; }
	rm -rf "$src"
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	# Module zips keep no mode bits: the suite runs some of its scripts.
	find "$src/tests" -type f -name '*.sh' -exec chmod 0755 {} +
	# runc's Makefile: tags seccomp urfave_cli_no_docs, PIE, trimpath,
	# -X main.gitCommit (no git here: the module version stands in).
	(cd "$src" && CGO_ENABLED=1 GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" build -trimpath -buildmode=pie \
		-tags "seccomp urfave_cli_no_docs" -ldflags "-X main.gitCommit=$RUNC_VERSION-module" -o runc .)
	mkdir -p "$src/tests/cmd/_bin"
	local b
	for b in recvtty sd-helper seccompagent fs-idmap pidfd-kill remap-rootfs key_label; do
		(cd "$src" && CGO_ENABLED=1 GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" build -trimpath -buildmode=pie \
			-tags "seccomp urfave_cli_no_docs" -o tests/cmd/_bin/ "./tests/cmd/$b")
	done
	busybox_image "$cache/busybox.tar"
	# helpers.bash evals the output of get-images.sh: ours names the local
	# tarball instead of downloading one.
	cat >"$src/tests/integration/get-images.sh" <<EOF
#!/bin/bash
# Written by myrun's conformance/runcbats/run.sh: local images only.
echo "BUSYBOX_IMAGE=$cache/busybox.tar"
EOF
	chmod 0755 "$src/tests/integration/get-images.sh"
	(cd "$repo" && "$GO" build -o "$cache/subreaper" ./conformance/dropin/subreaper)
	echo "$want" >"$stamp"
}

# busybox_image writes a rootfs tarball around Debian's busybox-static, laid
# out like the docker-library busybox image the suite normally downloads
# (no /proc or /sys: mask.bats makes them symlinks to see them refused).
busybox_image() {
	local out=$1 r app
	[ -x /bin/busybox ] || { log "busybox-static missing"; exit 2; }
	r=$(mktemp -d /tmp/runcbats-rootfs-XXXXXX)
	mkdir -p "$r"/{bin,dev,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
	cp /bin/busybox "$r/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ "$app" = busybox ] || ln -sf busybox "$r/bin/$app"
	done
	cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
	cat >"$r/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
EOF
	# mktemp made the top 0700: the image's / must be traversable by the
	# non-root users the tests run as.
	chmod 0755 "$r"
	chmod 1777 "$r/tmp"
	chmod 0700 "$r/root"
	tar -C "$r" --numeric-owner --owner=0 --group=0 -cf "$out" .
	rm -rf "$r"
}

# --- cleanup -------------------------------------------------------------

# cgroup_dirs lists the cgroups the suite may create: its own
# /runc-cgroups-integration-test tree in every hierarchy, and the ones below
# our own cgroups (containers without cgroupsPath land there).
cgroup_dirs() {
	local line ctrl path mnt base
	for base in /sys/fs/cgroup/*/runc-cgroups-integration-test /sys/fs/cgroup/runc-cgroups-integration-test; do
		[ -d "$base" ] && find "$base" -type d
	done
	while IFS= read -r line; do
		ctrl=${line#*:}
		ctrl=${ctrl%%:*}
		path=${line#*:*:}
		case $ctrl in
		"") mnt=/sys/fs/cgroup/unified ;;
		name=*) mnt=/sys/fs/cgroup/${ctrl#name=} ;;
		*) mnt=/sys/fs/cgroup/$ctrl ;;
		esac
		[ "$path" = / ] && continue
		[ -d "$mnt$path" ] && find "$mnt$path" -mindepth 1 -maxdepth 3 -type d
	done </proc/self/cgroup
	return 0
}

cleanup_run() {
	local rt=$1 tmp=$2 before=$3 d ct m n=0
	# Containers left in any test's --root.
	while IFS= read -r d; do
		for ct in $("$rt" --root "$d" list -q 2>/dev/null); do
			log "left behind: container $ct in $d: deleting"
			"$rt" --root "$d" delete -f "$ct" >/dev/null 2>&1 || true
			n=$((n + 1))
		done
	done < <(find "$tmp" -mindepth 3 -maxdepth 4 -type d -name state 2>/dev/null)
	# Mounts below the run's temp dir, deepest first.
	while IFS= read -r m; do
		log "left behind: mount $m: unmounting"
		umount -l "$m" || true
		n=$((n + 1))
	done < <(awk -v p="$tmp/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	# cgroups created during the run, deepest first (rmdir fails on a
	# cgroup that still has processes, which is then reported).
	while IFS= read -r d; do
		grep -qxF "$d" "$before" && continue
		if rmdir "$d" 2>/dev/null; then
			case $d in */runc-cgroups-integration-test) ;; *) log "left behind: cgroup $d: removed"; n=$((n + 1)) ;; esac
		else
			log "left behind: cgroup $d could not be removed"
			n=$((n + 1))
		fi
	done < <(cgroup_dirs | sort -r)
	if awk -v p="$tmp/" 'index($5, p) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		log "mounts remain below $tmp: not removing it"
	else
		rm -rf "$tmp"
	fi
	return "$n"
}

# --- run -----------------------------------------------------------------

# watch_helpers waits for job; once every planned test has a result, a
# helper of the suite (recvtty, seccompagent from tests/cmd/_bin) that a
# failed test left running keeps bats' output open and bats never exits:
# such helpers are killed by PID. A test that fails before its own
# cleanup (update.bats kills its recvtty only at its end) does that.
watch_helpers() {
	local job=$1 tap=$2 plan done_at="" p exe
	while kill -0 "$job" 2>/dev/null; do
		sleep 5
		# sed quits at the plan line itself: `| head -n 1` could kill a
		# still-writing sed with SIGPIPE, which pipefail and set -e make
		# an exit of the watcher.
		plan=$(sed -n '/^1\.\.[0-9]*$/{s/^1\.\.//p;q;}' "$tap" 2>/dev/null) || plan=""
		[ -n "$plan" ] || continue
		[ "$(grep -cE '^(not )?ok ' "$tap")" -ge "$plan" ] || continue
		[ -n "$done_at" ] || done_at=$SECONDS
		[ $((SECONDS - done_at)) -ge 20 ] || continue
		for p in /proc/[0-9]*; do
			exe=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
			case $exe in
			"$src/tests/cmd/_bin/"* | "$src/tests/integration/../cmd/_bin/"*)
				log "left behind: test helper ${p#/proc/} ($exe): killing"
				kill -9 "${p#/proc/}" 2>/dev/null || true
				;;
			esac
		done
	done
}

# results FILE prints "passed failed skipped" of a TAP file.
results() {
	awk '/^ok / { if ($0 ~ / # skip/) s++; else p++ } /^not ok / { f++ } END { printf "%d %d %d\n", p, f, s }' "$1"
}

run_one() {
	local label=$1 rt=$2 tmp before files=() f rc=0 n=0
	tmp=$(mktemp -d "/tmp/runcbats-$label-XXXXXX")
	# Tests run processes as other users below it (cwd.bats, userns.bats).
	chmod 0711 "$tmp"
	before=$tmp.cgroups
	cgroup_dirs | sort >"$before"
	local skipped=$logs/$label.lane-skipped
	: >"$skipped"
	for f in "$src"/tests/integration/*.bats; do
		f=${f##*/}
		if [ -n "$ONLY" ] && ! [[ " ${ONLY//,/ } " == *" $f "* ]]; then
			continue
		fi
		if grep -q setup_debian "$src/tests/integration/$f"; then
			echo "SKIP (lane) $f: $debian_reason" >>"$skipped"
			continue
		fi
		files+=("$src/tests/integration/$f")
	done
	[ ${#files[@]} -gt 0 ] || { log "no bats file selected (ONLY=$ONLY)"; exit 2; }
	local args=(--tap --timing)
	[ -n "$FILTER" ] && args+=(--filter "$FILTER")
	log "$label: ${#files[@]} files, RUNC=$rt, TMPDIR=$tmp"
	local start=$SECONDS
	# runc's CI runs bats on a terminal (foreground runs of the default
	# spec, terminal: true, need a controlling tty): script(1) gives it one;
	# TAP and stderr go to files, not through the pty.
	local cmd
	cmd=$(printf '%q ' "$cache/subreaper" bats "${args[@]}" "${files[@]}")
	cmd+=">$(printf '%q' "$logs/$label.tap") 2>$(printf '%q' "$logs/$label.stderr")"
	(cd "$src/tests/integration" &&
		TMPDIR=$tmp RUNC=$rt timeout -k 10 "$TIMEOUT" \
			script -e -q -c "$cmd" /dev/null </dev/null >/dev/null 2>&1) &
	local job=$!
	watch_helpers "$job" "$logs/$label.tap"
	wait "$job" || rc=$?
	cleanup_run "$rt" "$tmp" "$before" || n=$?
	rm -f "$before"
	log "$label: bats exit $rc in $((SECONDS - start)) s; $n leftovers cleaned; TAP in $logs/$label.tap"
}

# main is one function, read whole before it runs.
main() {
	build

	runtimes=("$@")
	[ ${#runtimes[@]} -gt 0 ] || runtimes=(runc "$repo/bin/myrun")
	labels=()
	for r in "${runtimes[@]}"; do
		if [ "$r" = runc ]; then
			label="runc-${RUNC_VERSION#v}"
			path=$src/runc
		else
			case $r in /*) path=$r ;; *) path=$(cd "$(dirname "$r")" && pwd)/$(basename "$r") ;; esac
			[ -x "$path" ] || { log "not executable: $path"; exit 2; }
			label=$(basename "$path")
		fi
		run_one "$label" "$path"
		labels+=("$label")
	done

	# Summary, and the tests that pass with the reference but fail with another.
	ref="runc-${RUNC_VERSION#v}"
	last=""
	summary=""
	for label in "${labels[@]}"; do
		local p f s
		read -r p f s < <(results "$logs/$label.tap")
		ls=$(grep -c . "$logs/$label.lane-skipped" || true)
		summary+="${summary:+; }$label: $p passed, $f failed, $s skipped (+$ls files skipped by the lane)"
		last=$label
		last_pass=$p
	done
	echo "runc-bats: $summary"
	if [ -f "$logs/$ref.tap" ]; then
		for label in "${labels[@]}"; do
			[ "$label" = "$ref" ] && continue
			# Names carry a timing suffix with --timing: strip it on both sides.
			comm -13 <(sed -n 's/^not ok [0-9]* \(.*\) in [0-9]*ms\( #.*\)\{0,1\}$/\1/p' "$logs/$ref.tap" | sort) \
				<(sed -n 's/^not ok [0-9]* \(.*\) in [0-9]*ms\( #.*\)\{0,1\}$/\1/p' "$logs/$label.tap" | sort) |
				sed "s/^/FAIL $label only: /"
		done
	fi
	if [ "$last" != "$ref" ] && [ "$last_pass" -lt "$MIN_PASS" ]; then
		echo "runc-bats: $last passed $last_pass, fewer than MIN_PASS=$MIN_PASS" >&2
		exit 1
	fi
}

main "$@"; exit
