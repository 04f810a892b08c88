package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Network modes of `myimg run --net`.
const (
	ModeNone   = "none"
	ModeHost   = "host"
	ModeBridge = "bridge"
	ModeSlirp  = "slirp4netns"
)

// Attachment records everything a container's network consists of. It
// is saved in the container record before each piece is created, so
// Teardown can undo a half-made setup after a crash.
type Attachment struct {
	Mode string `json:"mode"`
	// Name is the user network (`myimg network create`) of a bridge
	// attachment; "" for the default network.
	Name    string `json:"networkName,omitempty"`
	Bridge  string `json:"bridge,omitempty"`
	Subnet  string `json:"subnet,omitempty"`
	IPAMDir string `json:"ipamDir,omitempty"`
	IP      string `json:"ip,omitempty"`
	Gateway string `json:"gateway,omitempty"`
	// Subnet6 (a user network's IPv6 subnet), IP6 and Gateway6: eth0's
	// IPv6 address at the IPv4 lease's offset, the bridge's.
	Subnet6  string `json:"subnet6,omitempty"`
	IP6      string `json:"ip6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	HostVeth string `json:"hostVeth,omitempty"`
	// Iface is the interface in the container ("": eth0); Internal, of
	// an --internal network, means no NAT rules and no default route.
	Iface string `json:"iface,omitempty"`
	// Aliases (connect --alias) are more names on this network; StaticIP
	// (connect --ip, or the IPv4 lease at --ip6's offset) and MAC
	// (--mac-address) are asked for again on a restart.
	Aliases []string `json:"aliases,omitempty"`
	// DefaultRoute: a connected network that took over the default
	// route when the first network was disconnected.
	DefaultRoute bool          `json:"defaultRoute,omitempty"`
	StaticIP     string        `json:"staticIP,omitempty"`
	MAC          string        `json:"mac,omitempty"`
	Internal     bool          `json:"internal,omitempty"`
	Netns        string        `json:"netns,omitempty"`
	Ports        []PortMapping `json:"ports,omitempty"`
	Rules        []Rule        `json:"rules,omitempty"`
	APISocket    string        `json:"apiSocket,omitempty"`
	SlirpPid     int           `json:"slirpPid,omitempty"`
	SlirpTime    uint64        `json:"slirpStartTime,omitempty"`
}

// ValidMode checks --net.
func ValidMode(m string) error {
	switch m {
	case ModeNone, ModeHost, ModeBridge, ModeSlirp, ModePasta:
		return nil
	}
	return fmt.Errorf("--net %q: want none, host, bridge, slirp4netns or pasta", m)
}

// SetupBridge creates the bridge network of container id as described
// by a (Mode, Bridge, Subnet, IPAMDir, Ports set): lease, netns, veth,
// DNAT rules. persist is called before every step that creates
// something, with a updated to name it.
func SetupBridge(a *Attachment, id string, persist func() error) error {
	a.HostVeth = VethName(id)
	a.Netns = filepath.Join(NetnsDir, id)
	return setupBridge(a, id, persist, true)
}

// ConnectBridge attaches the existing network namespace a.Netns to one
// more bridge (`network connect`): a lease, a veth whose host end is
// a.HostVeth and whose other end is a.Iface, no default route.
func ConnectBridge(a *Attachment, id string, persist func() error) error {
	if a.Netns == "" || a.HostVeth == "" || a.Iface == "" {
		return fmt.Errorf("connect %s: netns, host veth and interface must be named", id)
	}
	return setupBridge(a, id, persist, false)
}

func setupBridge(a *Attachment, id string, persist func() error, primary bool) error {
	subnet, err := ParseSubnet(a.Subnet)
	if err != nil {
		return err
	}
	ipam, err := NewIPAM(a.IPAMDir, subnet)
	if err != nil {
		return err
	}
	gw := ipam.Gateway()
	a.Gateway = gw.String()
	if err := persist(); err != nil {
		return err
	}
	var ip net.IP
	if a.StaticIP != "" {
		ip, err = ipam.AllocateStatic(id, net.ParseIP(a.StaticIP))
	} else {
		ip, err = ipam.Allocate(id)
	}
	if err != nil {
		return err
	}
	a.IP = ip.String()
	addr6, err := a.addr6(ip, subnet)
	if err != nil {
		return err
	}
	for _, p := range a.Ports {
		a.Rules = append(a.Rules, PortRules(id, a.IP, p)...)
	}
	if err := persist(); err != nil {
		return err
	}
	if err := EnsureBridge(a.Bridge, subnet, gw, a.Internal); err != nil {
		return err
	}
	if addr6 != nil {
		if err := ensureBridge6(a.Bridge, &net.IPNet{IP: net.ParseIP(a.Gateway6), Mask: addr6.Mask}); err != nil {
			return err
		}
	}
	if primary {
		if err := NewNetns(a.Netns); err != nil {
			return err
		}
	}
	route := gw
	if a.Internal || !primary && !a.DefaultRoute {
		route = nil // no way out (internal), or the primary network's
	}
	ifname := a.Iface
	if ifname == "" {
		ifname = "eth0"
	}
	mac := MACFor(ip)
	if a.MAC != "" {
		if mac, err = ParseMAC(a.MAC); err != nil {
			return err
		}
	}
	if err := AttachVeth(a.Bridge, a.HostVeth, a.Netns, ifname, &net.IPNet{IP: ip, Mask: subnet.Mask}, route, mac); err != nil {
		return err
	}
	if addr6 != nil {
		if err := addAddr6(a.Netns, ifname, addr6); err != nil {
			return err
		}
	}
	for _, r := range a.Rules {
		if err := r.Append(); err != nil {
			return err
		}
	}
	return nil
}

// addr6 is the IPv6 address at the IPv4 lease's offset (nil without an
// IPv6 subnet); it sets IP6 and Gateway6.
func (a *Attachment) addr6(ip net.IP, subnet *net.IPNet) (*net.IPNet, error) {
	if a.Subnet6 == "" {
		return nil, nil
	}
	s6, err := ParseSubnet6(a.Subnet6)
	if err != nil {
		return nil, err
	}
	off := binary.BigEndian.Uint32(ip.To4()) - binary.BigEndian.Uint32(subnet.IP.To4())
	addr6 := &net.IPNet{IP: Addr6(s6, off), Mask: s6.Mask}
	a.IP6, a.Gateway6 = addr6.IP.String(), Addr6(s6, 1).String()
	return addr6, nil
}

// ReleaseConnected undoes ConnectBridge: the veth, the lease in this
// subnet only, the bridge if that was its last user.
func (a *Attachment) ReleaseConnected(id string) error {
	errs := []error{DeleteLink(a.HostVeth)}
	if sn, err := ParseSubnet(a.Subnet); err == nil {
		if ipam, err := NewIPAM(a.IPAMDir, sn); err == nil {
			errs = append(errs, ipam.Release(id))
		}
	}
	errs = append(errs, RemoveBridgeIfUnused(a.IPAMDir, a.Subnet, a.Bridge))
	return errors.Join(errs...)
}

// ReleasePrimary takes a container's first network away while its
// network namespace stays (network disconnect): the port rules, eth0's
// veth, the lease in this subnet, the bridge if that was its last user.
func (a *Attachment) ReleasePrimary(id string) error {
	var errs []error
	for _, r := range a.Rules {
		errs = append(errs, r.Delete())
	}
	errs = append(errs, DeleteByComment("nat", Comment(id)), DeleteByComment("filter", Comment(id)))
	errs = append(errs, DeleteLink(VethName(id)))
	if sn, err := ParseSubnet(a.Subnet); err == nil {
		if ipam, err := NewIPAM(a.IPAMDir, sn); err == nil {
			errs = append(errs, ipam.Release(id))
		}
	}
	errs = append(errs, RemoveBridgeIfUnused(a.IPAMDir, a.Subnet, a.Bridge))
	return errors.Join(errs...)
}

// AddDefaultRoute routes the namespace at a.Netns out through a's
// interface and gateway (the connected network that takes over).
func (a *Attachment) AddDefaultRoute() error {
	ns, err := netns.GetFromPath(a.Netns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", a.Netns, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(a.Iface)
	if err != nil {
		return fmt.Errorf("link %s: %w", a.Iface, err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.ParseIP(a.Gateway)}); err != nil {
		return fmt.Errorf("%s: default route via %s: %w", a.Iface, a.Gateway, err)
	}
	return nil
}

// IPv4AtOffsetOf is the address of subnet4 at ip6's offset in subnet6
// (our IPv6 addresses follow the IPv4 leases).
func IPv4AtOffsetOf(ip6, subnet6 string, subnet4 *net.IPNet) (net.IP, error) {
	if subnet6 == "" {
		return nil, fmt.Errorf("the network has no IPv6 subnet")
	}
	s6, err := ParseSubnet6(subnet6)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(ip6)
	if ip == nil || ip.To4() != nil || !s6.Contains(ip) {
		return nil, fmt.Errorf("not an IPv6 address of %s", subnet6)
	}
	ip16, base := ip.To16(), s6.IP.To16()
	for i := 0; i < 12; i++ {
		if ip16[i] != base[i] {
			return nil, fmt.Errorf("beyond the addresses that follow the IPv4 subnet %s", subnet4)
		}
	}
	off := binary.BigEndian.Uint32(ip16[12:]) - binary.BigEndian.Uint32(base[12:])
	ones, bits := subnet4.Mask.Size()
	if off < 2 || off >= uint32(1)<<(bits-ones)-1 {
		return nil, fmt.Errorf("its offset %d is no host address of the IPv4 subnet %s (2 to %d)", off, subnet4, uint32(1)<<(bits-ones)-2)
	}
	return addIP(subnet4.IP.Mask(subnet4.Mask), off), nil
}

// SetupNone gives container id (as root) a network namespace of its own
// with only lo, up (a runtime-made namespace would leave lo down). It is
// also where slirp4netns adds tap0 for root.
func SetupNone(a *Attachment, id string, persist func() error) error {
	a.Netns = filepath.Join(NetnsDir, id)
	if err := persist(); err != nil {
		return err
	}
	if err := NewNetns(a.Netns); err != nil {
		return err
	}
	return loUp(a.Netns)
}

// ReleaseBridge undoes SetupBridge and SetupNone; it is idempotent and also looks for
// what the record may not name (rules by comment, the veth by name).
func (a *Attachment) ReleaseBridge(id string) error {
	if a.Mode == ModeHost || os.Geteuid() != 0 {
		return nil
	}
	var errs []error
	for _, r := range a.Rules {
		errs = append(errs, r.Delete())
	}
	errs = append(errs, DeleteByComment("nat", Comment(id)), DeleteByComment("filter", Comment(id)))
	errs = append(errs, DeleteLink(VethName(id)))
	ns := a.Netns
	if ns == "" {
		ns = filepath.Join(NetnsDir, id)
	}
	errs = append(errs, RemoveNetns(ns))
	if a.IPAMDir != "" {
		errs = append(errs, ReleaseLeases(a.IPAMDir, id))
		if a.Mode == ModeBridge && a.Bridge != "" && a.Subnet != "" {
			errs = append(errs, RemoveBridgeIfUnused(a.IPAMDir, a.Subnet, a.Bridge))
		}
	}
	return errors.Join(errs...)
}
