package network

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

var errExist = syscall.EEXIST

// VethName is the host end of a container's veth pair (IFNAMSIZ is 16).
func VethName(id string) string { return "myv" + id[:min(12, len(id))] }

// ConnectedVethName is the host end of the veth of a container's k-th
// connected network (`network connect`, k 1-9).
func ConnectedVethName(id string, k int) string {
	return fmt.Sprintf("myw%s%d", id[:min(11, len(id))], k)
}

// AttachVeth creates a veth pair, enslaves the host end to bridge, moves
// the other end into the namespace at nsPath as ifname with addr and a
// default route via gw (none if gw is nil) and MAC mac, and brings lo up
// there.
func AttachVeth(bridge, hostName, nsPath, ifname string, addr *net.IPNet, gw net.IP, mac net.HardwareAddr) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", bridge, err)
	}
	peer := "tmp" + hostName[3:]
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: hostName, MasterIndex: br.Attrs().Index, MTU: br.Attrs().MTU},
		PeerName:  peer,
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", hostName, err)
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	pl, err := netlink.LinkByName(peer)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetNsFd(pl, int(ns)); err != nil {
		return fmt.Errorf("move %s into %s: %w", peer, nsPath, err)
	}
	if err := linkUp(&netlink.Handle{}, hostName); err != nil { // zero Handle: our own netns
		return err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer h.Close()
	if err := linkUp(h, "lo"); err != nil {
		return err
	}
	cl, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("link %s in %s: %w", peer, nsPath, err)
	}
	if err := h.LinkSetName(cl, ifname); err != nil {
		return err
	}
	if err := h.LinkSetHardwareAddr(cl, mac); err != nil {
		return fmt.Errorf("%s: set MAC: %w", ifname, err)
	}
	if err := h.AddrAdd(cl, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("%s: add %s: %w", ifname, addr, err)
	}
	if err := h.LinkSetUp(cl); err != nil {
		return err
	}
	if gw == nil {
		return nil
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: cl.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("%s: default route via %s: %w", ifname, gw, err)
	}
	return nil
}

// MACFor is the locally administered MAC of a container address
// (docker's 02:42:<IPv4>), the default: a container that gets a released
// address again is reached at once, not after the others' ARP entries
// for the old MAC expire.
func MACFor(ip net.IP) net.HardwareAddr {
	v4 := ip.To4()
	return net.HardwareAddr{0x02, 0x42, v4[0], v4[1], v4[2], v4[3]}
}

// DeleteLink removes an interface; a missing one is not an error.
func DeleteLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(l)
}

// LinkExists reports whether an interface called name exists on the host.
func LinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func loUp(nsPath string) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	return h.LinkSetUp(lo)
}

// linkUp sets the named link up through h, naming it in errors.
func linkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

// ParseMAC checks a --mac-address: six bytes, unicast.
func ParseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("--mac-address %q: want six bytes such as 02:00:00:00:00:01", s)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("--mac-address %s: a multicast address (the first byte is odd)", s)
	}
	if mac.String() == "00:00:00:00:00:00" {
		return nil, fmt.Errorf("--mac-address %s: the zero address", s)
	}
	return mac, nil
}
