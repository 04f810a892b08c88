# Host state the engines touch (sourced by run.sh; bash): snapshot before,
# restore after. Only what appeared during the run and belongs to podman,
# netavark or our containerd namespace is removed.

DROPIN_HOST_DIRS="/var/lib/containers /run/containers /etc/containers/networks /run/netns"

host_snapshot() {
	local s=$DROPIN_TMP/host
	mkdir -p "$s"
	harness_snapshot "$s"
	ls /run/containerd/s 2>/dev/null | sort >"$s/shim-sockets"
	[ -e /run/containerd ] && touch "$s/had-run-containerd"
	cat /proc/sys/net/ipv4/ip_forward >"$s/ip_forward"
	iptables-save 2>/dev/null | grep -o '^:[^ ]*' | sort >"$s/chains"
	stat -c %a /dev/net/tun >"$s/tun-mode" 2>/dev/null || true
	# Directories podman and netavark create outside our private dirs
	# (blob-info cache, netavark's IPAM db and lock, netns mount points,
	# the runtime's default state root).
	: >"$s/absent"
	for d in $DROPIN_HOST_DIRS "/run/$(basename "$DROPIN_RUNTIME")"; do
		[ -e "$d" ] || echo "$d" >>"$s/absent"
	done
	DROPIN_NETNS_BEFORE=$(grep -c '^netns-' "$s/netns" || true)
	export DROPIN_NETNS_BEFORE
}

# unmount_under DIR: lazily unmount every mount below DIR, deepest first.
unmount_under() {
	local m
	findmnt -rn -o TARGET | grep -F "$1/" | sort -r | while read -r m; do
		umount -l "$(printf '%b' "$m")" 2>/dev/null
	done
}

host_restore() {
	local s=$DROPIN_TMP/host d n c
	[ -d "$s" ] || return 0
	# Cgroups: podman's cgroupfs manager leaves empty libpod_parent trees,
	# containerd leaves /<namespace>. rmdir only removes empty ones.
	harness_remove_new_cgroups "$s" "libpod|/$DROPIN_CTR_NS(/|\$)"
	# Network namespaces podman did not remove.
	harness_remove_new_netns "$s" netns-
	# Our bridge (netavark keeps it while a container uses it).
	if ip link show "$DROPIN_BRIDGE" >/dev/null 2>&1; then
		ip link del "$DROPIN_BRIDGE"
	fi
	# Netavark's iptables chains and the jumps to them in built-in chains,
	# only if they did not exist before the run.
	if ! grep -q NETAVARK "$s/chains" && iptables-save 2>/dev/null | grep -q NETAVARK; then
		for t in filter nat; do
			iptables-save -t "$t" | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*NETAVARK' |
				sed 's/^-A/-D/' | while read -r rule; do
				eval "iptables -t $t $rule"
			done
			for c in $(iptables-save -t "$t" | grep -o '^:NETAVARK[^ ]*' | tr -d :); do
				iptables -t "$t" -F "$c"
			done
			for c in $(iptables-save -t "$t" | grep -o '^:NETAVARK[^ ]*' | tr -d :); do
				iptables -t "$t" -X "$c"
			done
		done
	fi
	cat "$s/ip_forward" >/proc/sys/net/ipv4/ip_forward
	while read -r d; do
		case $d in
		/run/netns)
			# podman makes it a shared bind mount of itself.
			if [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
				while mountpoint -q /run/netns; do umount /run/netns || break; done
				rmdir /run/netns 2>/dev/null
			fi
			;;
		/run/"$(basename "$DROPIN_RUNTIME")")
			rmdir "$d" 2>/dev/null # a state root: only if empty
			;;
		*) rm -rf "$d" ;;
		esac
	done <"$s/absent"
	[ -s "$s/tun-mode" ] && chmod "$(cat "$s/tun-mode")" /dev/net/tun
	# Shim sockets our containerd created.
	ls /run/containerd/s 2>/dev/null | sort | comm -13 "$s/shim-sockets" - | while read -r n; do
		rm -f "/run/containerd/s/$n"
	done
	# /run/containerd itself if it appeared (ctr and shims create it).
	if ! [ -e "$s/had-run-containerd" ] && [ -d /run/containerd ]; then
		rmdir /run/containerd/s /run/containerd/fifo 2>/dev/null
		rmdir /run/containerd 2>/dev/null ||
			echo "cleanup: /run/containerd not empty: $(find /run/containerd | head -n 5 | tr '\n' ' ')" >&2
	fi
	return 0
}
