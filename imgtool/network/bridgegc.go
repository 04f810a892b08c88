package network

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// RemoveBridgeIfUnused deletes bridge and its shared NAT and forward
// rules once the last container on it is gone: no lease left in the
// subnet's IPAM file and no port (veth) left on the bridge, which also
// covers containers of another store on the same bridge. It runs under
// the IPAM lock, and setups take their lease under that lock before they
// create the bridge, so a setup either sees the bridge gone and makes
// it again, or holds a lease that keeps it.
func RemoveBridgeIfUnused(ipamDir, subnet, bridge string) error {
	n, err := ParseSubnet(subnet)
	if err != nil {
		return err
	}
	ipam, err := NewIPAM(ipamDir, n)
	if err != nil {
		return err
	}
	return ipam.locked(func(leases map[string]string) (bool, error) {
		if len(leases) > 0 {
			return false, nil
		}
		l, err := netlink.LinkByName(bridge)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				// Gone already; rules may still be left (a crash between).
				return false, RemoveBridge(bridge)
			}
			return false, err
		}
		if l.Type() != "bridge" {
			return false, nil
		}
		links, err := netlink.LinkList()
		if err != nil {
			return false, err
		}
		for _, o := range links {
			if o.Attrs().MasterIndex == l.Attrs().Index {
				return false, nil
			}
		}
		if err := RemoveBridge(bridge); err != nil {
			return false, fmt.Errorf("removing unused bridge %s: %w", bridge, err)
		}
		return false, nil
	})
}
