#!/bin/sh
# Fails when a lower package imports a higher one. Layers, lowest first:
#   1 libcontainer/{pathrs,syncproto,exeseal,nsexec}, internal/procself
#     (it reads with internal/smallfile, a leaf at layer 0)
#   2 libcontainer/{caps,seccomp,userns,console,hooks,state,cgroups,criu}
#     (criu's message codec, libcontainer/criu/rpc, is a leaf: layer 0)
#   3 libcontainer/{rootfs,initproc}
#   4 libcontainer (facade) and specs
#   5 runtime (myrun CLI), imgtool (myimg; never libcontainer)
set -eu
M=github.com/myrun-org/myrun
level() {
	case "$1" in
	$M/libcontainer/pathrs* | $M/libcontainer/syncproto* | $M/libcontainer/exeseal* | $M/libcontainer/nsexec* | \
		$M/libcontainer/internal/procself*) echo 1 ;;
	$M/libcontainer/caps* | $M/libcontainer/seccomp* | $M/libcontainer/userns* | $M/libcontainer/console* | \
		$M/libcontainer/hooks* | $M/libcontainer/state* | $M/libcontainer/cgroups* | "$M"/libcontainer/criu) echo 2 ;;
	$M/libcontainer/rootfs* | $M/libcontainer/initproc*) echo 3 ;;
	"$M"/libcontainer | "$M"/specs*) echo 4 ;;
	$M/runtime* | $M/imgtool* | $M/conformance* | $M/contrib*) echo 5 ;;
	*) echo 0 ;;
	esac
}
fail=0
go list -f '{{.ImportPath}}{{range .Imports}} {{.}}{{end}}' ./... >/tmp/depcheck.$$
while read -r pkg imports; do
	pl=$(level "$pkg")
	for imp in $imports; do
		case "$imp" in $M/*) ;; github.com/urfave/cli*)
			case "$pkg" in $M/runtime* | $M/imgtool* | $M/conformance* | $M/contrib*) ;; *)
				echo "depcheck: $pkg imports the CLI library $imp"; fail=1 ;;
			esac
			continue ;;
		*) continue ;; esac
		il=$(level "$imp")
		case "$pkg" in $M/imgtool*)
			case "$imp" in $M/libcontainer* | $M/runtime*)
				echo "depcheck: $pkg must run containers through myrun, not import $imp"; fail=1 ;;
			esac ;;
		esac
		if [ "$il" -gt "$pl" ] || { [ "$il" = "$pl" ] && [ "$pl" -le 1 ]; } || { [ "$il" = 4 ] && [ "$pl" = 4 ] && [ "$pkg" = "$M/specs" ]; }; then
			echo "depcheck: $pkg (layer $pl) imports $imp (layer $il)"
			fail=1
		fi
	done
done </tmp/depcheck.$$
rm -f /tmp/depcheck.$$
[ "$fail" = 0 ] && echo "depcheck: ok"
exit "$fail"
