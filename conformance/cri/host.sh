# Host state the CRI run touches (sourced by run.sh; bash): snapshot before,
# restore after. Only what appeared during the run is removed: pod cgroups
# (containerd's /k8s.io tree), CNI's iptables chains and its /var/lib/cni
# cache, our bridge, shim sockets, runtime state dirs under the shim's
# default root, /run/containerd if it was absent.

cri_host_snapshot() {
	local s=$CRI_BASE/host
	mkdir -p "$s"
	harness_snapshot "$s"
	ls /run/containerd/s 2>/dev/null | sort >"$s/shim-sockets"
	ls /run/containerd/runc/k8s.io 2>/dev/null | sort >"$s/runc-k8s"
	[ -e /run/containerd ] && touch "$s/had-run-containerd"
	[ -e /run/containerd/runc ] && touch "$s/had-runc-root"
	[ -e /var/lib/cni ] && touch "$s/had-var-lib-cni"
	cat /proc/sys/net/ipv4/ip_forward >"$s/ip_forward"
	awk 'NR > 1 { print $2 }' /proc/sysvipc/shm | sort >"$s/shm"
	for t in filter nat; do
		iptables-save -t "$t" 2>/dev/null | grep -o '^:[^ ]*' | tr -d : | sort >"$s/chains-$t"
		iptables-save -t "$t" 2>/dev/null | grep '^-A' | sort >"$s/rules-$t"
	done
}

# cri_new_chains TABLE: chains that appeared during the run.
cri_new_chains() {
	iptables-save -t "$1" 2>/dev/null | grep -o '^:[^ ]*' | tr -d : | sort | comm -13 "$CRI_BASE/host/chains-$1" -
}

# cri_new_rules TABLE: rules that appeared in the run.
cri_new_rules() {
	iptables-save -t "$1" 2>/dev/null | grep '^-A' | sort | comm -13 "$CRI_BASE/host/rules-$1" -
}

cri_host_restore() {
	local s=$CRI_BASE/host t c rule
	[ -d "$s" ] || return 0
	# Pod and container cgroups containerd made (cgroupfs driver: /k8s.io/ID).
	harness_remove_new_cgroups "$s" '/k8s\.io(/|$)|/cri-harness'
	harness_remove_new_netns "$s" cni-
	if ip link show "$CRI_BRIDGE" >/dev/null 2>&1; then
		ip link del "$CRI_BRIDGE"
	fi
	# CNI's chains (bridge's CNI-*, portmap's CNI-HOSTPORT-*) and the jumps
	# to them that the run added; nothing that was there before.
	for t in filter nat; do
		cri_new_rules "$t" | grep -E -- '-j CNI-|CNI-HOSTPORT|CNI-DN-' | sed 's/^-A/-D/' | while read -r rule; do
			eval "iptables -t $t $rule" 2>/dev/null
		done
		for c in $(cri_new_chains "$t" | grep '^CNI-'); do iptables -t "$t" -F "$c" 2>/dev/null; done
		for c in $(cri_new_chains "$t" | grep '^CNI-'); do iptables -t "$t" -X "$c" 2>/dev/null; done
	done
	cat "$s/ip_forward" >/proc/sys/net/ipv4/ip_forward
	# critest's host-IPC specs make 1 MiB segments on the host (ipcmk -M
	# 1048576) and keep them: new unattached ones of that size go.
	awk 'NR > 1 && $4 == 1048576 && $7 == 0 { print $2 }' /proc/sysvipc/shm | sort | comm -13 "$s/shm" - | while read -r n; do
		ipcrm -m "$n" 2>/dev/null
	done
	[ -e "$s/had-var-lib-cni" ] || rm -rf /var/lib/cni
	ls /run/containerd/s 2>/dev/null | sort | comm -13 "$s/shim-sockets" - | while read -r n; do
		rm -f "/run/containerd/s/$n"
	done
	# Runtime state dirs of our containers under the shim's default root
	# (the shipped handler sets no Root): ours are the new ones.
	ls /run/containerd/runc/k8s.io 2>/dev/null | sort | comm -13 "$s/runc-k8s" - | while read -r n; do
		echo "cleanup: runtime state dir /run/containerd/runc/k8s.io/$n left" >&2
		rm -rf "/run/containerd/runc/k8s.io/$n"
	done
	if ! [ -e "$s/had-runc-root" ]; then
		rmdir /run/containerd/runc/k8s.io /run/containerd/runc 2>/dev/null
	fi
	if ! [ -e "$s/had-run-containerd" ] && [ -d /run/containerd ]; then
		rmdir /run/containerd/s /run/containerd/fifo 2>/dev/null
		rmdir /run/containerd 2>/dev/null ||
			echo "cleanup: /run/containerd not empty: $(find /run/containerd | head -n 5 | tr '\n' ' ')" >&2
	fi
	return 0
}
