# The unprivileged test user for rootless podman (sourced by run.sh; bash).

user_create() {
	local start
	DROPIN_USER=dropin$DROPIN_ID
	useradd -M -d "$DROPIN_TMP/podman-rootless/home" -s /bin/sh -U "$DROPIN_USER" || return 1
	DROPIN_UID=$(id -u "$DROPIN_USER")
	# A subordinate range of 65536 ids above every range already in use.
	[ -e /etc/subuid ] && DROPIN_HAD_SUBUID=1
	[ -e /etc/subgid ] && DROPIN_HAD_SUBGID=1
	start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print (m > 1000000 ? m : 1000000) }')
	echo "$DROPIN_USER:$start:65536" >>/etc/subuid
	echo "$DROPIN_USER:$start:65536" >>/etc/subgid
	mkdir -p "/run/user/$DROPIN_UID"
	chown "$DROPIN_USER:" "/run/user/$DROPIN_UID"
	chmod 0700 "/run/user/$DROPIN_UID"
	# slirp4netns opens /dev/net/tun (0600 here); host_restore restores it.
	chmod 0666 /dev/net/tun
	export DROPIN_USER DROPIN_UID
}

user_delete() {
	local pid
	[ -n "${DROPIN_USER:-}" ] && id "$DROPIN_USER" >/dev/null 2>&1 || return 0
	# Anything still running as the user was started by this run.
	for pid in $(ps -u "$DROPIN_UID" -o pid= 2>/dev/null); do
		echo "cleanup: killing pid $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)) of $DROPIN_USER" >&2
		kill -9 "$pid" 2>/dev/null
	done
	unmount_under "/run/user/$DROPIN_UID"
	rm -rf "/run/user/$DROPIN_UID"
	userdel "$DROPIN_USER" 2>/dev/null
	getent group "$DROPIN_USER" >/dev/null && groupdel "$DROPIN_USER" 2>/dev/null
	sed -i "/^$DROPIN_USER:/d" /etc/subuid /etc/subgid
	[ -n "${DROPIN_HAD_SUBUID:-}" ] || [ -s /etc/subuid ] || rm -f /etc/subuid
	[ -n "${DROPIN_HAD_SUBGID:-}" ] || [ -s /etc/subgid ] || rm -f /etc/subgid
}
