package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Net is a user bridge network (`myimg network create`), kept as
// <store>/network/networks/<name>.json. Its bridge and shared rules come
// with the first container on it and go with the last, as the default
// network's do.
type Net struct {
	Name      string `json:"name"`
	ID        string `json:"id"`
	Driver    string `json:"driver"`
	Interface string `json:"network_interface"`
	Subnet    string `json:"subnet"`
	Gateway   string `json:"gateway"`
	// Subnet6 and Gateway6 are set for an IPv6 network (--ipv6).
	Subnet6  string `json:"subnet6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	// Internal (--internal): no NAT and no route out, only the network's
	// members and the host are reached.
	Internal bool              `json:"internal,omitempty"`
	Created  time.Time         `json:"created"`
	Labels   map[string]string `json:"labels,omitempty"`
}

var netNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidNetName checks a network name; the --net modes are reserved.
func ValidNetName(n string) error {
	if !netNameRE.MatchString(n) || len(n) > 64 {
		return fmt.Errorf("network name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 64 characters)", n)
	}
	if IsMode(n) {
		return fmt.Errorf("network name %q: reserved for --net %s", n, n)
	}
	return nil
}

// IsMode reports whether s is a --net mode rather than a network name.
func IsMode(s string) bool { return ValidMode(s) == nil }

func netsDir(ipamDir string) string { return filepath.Join(ipamDir, "networks") }

// LoadNet reads network name.
func LoadNet(ipamDir, name string) (*Net, error) {
	if err := ValidNetName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(netsDir(ipamDir), name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("network %s: no such network", name)
	}
	if err != nil {
		return nil, err
	}
	var n Net
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("network %s: %w", name, err)
	}
	return &n, nil
}

// ListNets returns the user networks by name.
func ListNets(ipamDir string) ([]*Net, error) {
	files, err := filepath.Glob(filepath.Join(netsDir(ipamDir), "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*Net
	for _, f := range files {
		n, err := LoadNet(ipamDir, strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LockNets serializes changes to the networks of a store.
func LockNets(ipamDir string) (func(), error) {
	if err := os.MkdirAll(ipamDir, 0o700); err != nil {
		return nil, err
	}
	return flockFile(filepath.Join(ipamDir, "networks.lock"))
}

// CreateNet makes network name (under LockNets). An empty subnet or
// iface is picked: the first 10.89.N.0/24 and myimgN (N from 1) that no
// other network, no host address or route and no link uses.
//
// With ipv6 (or a subnet6) the network also has an IPv6 subnet (default
// fd89:0:0:N::/64, N the IPv4 subnet's third byte): each container gets
// the address at its IPv4 lease's offset, and the bridge the first.
func CreateNet(ipamDir, name, subnet, iface, id string, labels map[string]string, ipv6 bool, subnet6 string, internal bool) (*Net, error) {
	if err := ValidNetName(name); err != nil {
		return nil, err
	}
	unlock, err := LockNets(ipamDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := ListNets(ipamDir)
	if err != nil {
		return nil, err
	}
	var used []*net.IPNet
	if d, err := ParseSubnet(DefaultSubnet); err == nil {
		used = append(used, d)
	}
	names := map[string]bool{DefaultBridge: true}
	for _, n := range nets {
		if n.Name == name {
			return nil, fmt.Errorf("network %s: already exists", name)
		}
		if s, err := ParseSubnet(n.Subnet); err == nil {
			used = append(used, s)
		}
		names[n.Interface] = true
	}
	used = append(used, hostNets()...)
	sn, err := pickSubnet(name, subnet, used)
	if err != nil {
		return nil, err
	}
	if iface, err = pickBridge(iface, names); err != nil {
		return nil, err
	}
	ipam, err := NewIPAM(ipamDir, sn)
	if err != nil {
		return nil, err
	}
	n := &Net{Name: name, ID: id, Driver: "bridge", Interface: iface, Subnet: sn.String(), Gateway: ipam.Gateway().String(),
		Created: time.Now().UTC(), Labels: labels, Internal: internal}
	if ipv6 || subnet6 != "" {
		if err := setSubnet6(n, nets, sn, subnet6); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(n, "", "\t")
	if err := os.MkdirAll(netsDir(ipamDir), 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(netsDir(ipamDir), "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	return n, os.Rename(tmp, filepath.Join(netsDir(ipamDir), name+".json"))
}

// pickSubnet checks the subnet asked for against the used ones, or picks
// the first free 10.89.N.0/24.
func pickSubnet(name, subnet string, used []*net.IPNet) (*net.IPNet, error) {
	var sn *net.IPNet
	var err error
	if subnet != "" {
		if sn, err = ParseSubnet(subnet); err != nil {
			return nil, fmt.Errorf("--subnet: %w", err)
		}
		for _, u := range used {
			if u.Contains(sn.IP) || sn.Contains(u.IP) {
				return nil, fmt.Errorf("--subnet %s: overlaps %s, in use by another network or the host", sn, u)
			}
		}
	} else {
		for i := 1; i < 255 && sn == nil; i++ {
			c := &net.IPNet{IP: net.IPv4(10, 89, byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
			free := true
			for _, u := range used {
				if u.Contains(c.IP) || c.Contains(u.IP) {
					free = false
					break
				}
			}
			if free {
				sn = c
			}
		}
		if sn == nil {
			return nil, fmt.Errorf("network %s: no free subnet in 10.89.1.0-10.89.254.0/24: give --subnet", name)
		}
	}
	return sn, nil
}

// pickBridge checks the bridge name asked for, or picks the first free
// myimgN; names are the other networks' bridges.
func pickBridge(iface string, names map[string]bool) (string, error) {
	if iface != "" {
		if err := ValidBridgeName(iface); err != nil {
			return "", fmt.Errorf("--interface-name: %w", err)
		}
		if names[iface] {
			return "", fmt.Errorf("--interface-name %s: used by another network", iface)
		}
		if LinkExists(iface) {
			return "", fmt.Errorf("--interface-name %s: a link of that name exists on the host", iface)
		}
	} else {
		for i := 1; iface == ""; i++ {
			c := fmt.Sprintf("myimg%d", i)
			if !names[c] && !LinkExists(c) {
				iface = c
			}
		}
	}
	return iface, nil
}

// setSubnet6 gives n its IPv6 subnet (default fd89:0:0:N::/64, N the IPv4
// subnet's third byte), which no other network or host address may
// overlap, and the bridge the first address.
func setSubnet6(n *Net, nets []*Net, sn *net.IPNet, subnet6 string) error {
	var used6 []*net.IPNet
	for _, o := range nets {
		if _, s6, err := net.ParseCIDR(o.Subnet6); err == nil {
			used6 = append(used6, s6)
		}
	}
	used6 = append(used6, hostNets6()...)
	if subnet6 == "" {
		subnet6 = fmt.Sprintf("fd89:0:0:%d::/64", sn.IP.To4()[2])
	}
	s6, err := ParseSubnet6(subnet6)
	if err != nil {
		return fmt.Errorf("--subnet: %w", err)
	}
	for _, u := range used6 {
		if u.Contains(s6.IP) || s6.Contains(u.IP) {
			return fmt.Errorf("--subnet %s: overlaps %s, in use by another network or the host", s6, u)
		}
	}
	n.Subnet6, n.Gateway6 = s6.String(), Addr6(s6, 1).String()
	return nil
}

// RemoveNet deletes a network that no container uses any more: its
// bridge and shared rules if still there, its leases file and record.
func RemoveNet(ipamDir string, n *Net) error {
	if err := RemoveBridgeIfUnused(ipamDir, n.Subnet, n.Interface); err != nil {
		return err
	}
	if LinkExists(n.Interface) {
		return fmt.Errorf("network %s: bridge %s still has ports or leases", n.Name, n.Interface)
	}
	sn, err := ParseSubnet(n.Subnet)
	if err != nil {
		return err
	}
	ipam, err := NewIPAM(ipamDir, sn)
	if err != nil {
		return err
	}
	if err := os.Remove(ipam.file()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Remove(filepath.Join(netsDir(ipamDir), n.Name+".json"))
}

// ParseSubnet6 parses an IPv6 CIDR of /64 to /120 with the host bits 0.
func ParseSubnet6(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil || ip.To4() != nil {
		return nil, fmt.Errorf("subnet %q: not an IPv6 CIDR", s)
	}
	if !ip.Equal(n.IP) {
		return nil, fmt.Errorf("subnet %q: host bits set (did you mean %s?)", s, n)
	}
	if ones, _ := n.Mask.Size(); ones < 64 || ones > 120 {
		return nil, fmt.Errorf("subnet %q: want a prefix length from 64 to 120", s)
	}
	return n, nil
}

// Addr6 is the address at offset off in subnet.
func Addr6(subnet *net.IPNet, off uint32) net.IP {
	ip := make(net.IP, 16)
	copy(ip, subnet.IP.To16())
	for i := 15; i >= 12; i-- {
		sum := uint32(ip[i]) + off&0xff
		ip[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	return ip
}

func hostNets6() []*net.IPNet {
	var out []*net.IPNet
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V6); err == nil {
		for _, a := range addrs {
			if a.IPNet != nil && a.IP.IsGlobalUnicast() {
				out = append(out, &net.IPNet{IP: a.IP.Mask(a.Mask), Mask: a.Mask})
			}
		}
	}
	return out
}

// hostNets are the subnets of the host's addresses and routes (not the
// default route), which a new network must not overlap.
func hostNets() []*net.IPNet {
	var out []*net.IPNet
	if addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4); err == nil {
		for _, a := range addrs {
			if a.IPNet != nil && !a.IP.IsLoopback() {
				out = append(out, &net.IPNet{IP: a.IP.Mask(a.Mask), Mask: a.Mask})
			}
		}
	}
	if routes, err := netlink.RouteList(nil, netlink.FAMILY_V4); err == nil {
		for _, r := range routes {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones > 0 {
					out = append(out, r.Dst)
				}
			}
		}
	}
	return out
}

func flockFile(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// ensureBridge6 gives the bridge its IPv6 address (no duplicate address
// detection: the address is ours and must work at once). No IPv6
// forwarding or NAT66 is set up: containers reach each other and the
// host over IPv6, not beyond (host-wide IPv6 forwarding would stop the
// host accepting router advertisements).
func ensureBridge6(name string, gw *net.IPNet) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := setSysctl("0", "net", "ipv6", "conf", name, "disable_ipv6"); err != nil {
		return fmt.Errorf("IPv6 on %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if a.IPNet.String() == gw.String() {
			return nil
		}
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: gw, Flags: unix.IFA_F_NODAD}); err != nil && !errors.Is(err, errExist) {
		return fmt.Errorf("bridge %s: add address %s: %w", name, gw, err)
	}
	return nil
}

// addAddr6 gives eth0 in the namespace at nsPath its IPv6 address.
func addAddr6(nsPath, ifname string, addr *net.IPNet) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", nsPath, err)
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		return err
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: addr, Flags: unix.IFA_F_NODAD}); err != nil {
		return fmt.Errorf("%s: add %s: %w", ifname, addr, err)
	}
	return nil
}
