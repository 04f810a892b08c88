package network

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
)

// Defaults for the privileged bridge network. 10.88.0.0/16 is podman's
// default, so we stay out of its way.
const (
	DefaultBridge = "myimg0"
	DefaultSubnet = "10.89.0.0/24"
)

// ValidBridgeName checks an interface name for a bridge.
func ValidBridgeName(n string) error {
	if n == "" || len(n) > 15 || strings.ContainsAny(n, "./ \t\n:") {
		return fmt.Errorf("bridge name %q: want 1-15 characters without '.', '/', ':' or spaces", n)
	}
	return nil
}

// ParseSubnet parses an IPv4 CIDR (the host bits must be zero).
func ParseSubnet(s string) (*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("subnet %q: not an IPv4 CIDR", s)
	}
	if !ip.Equal(n.IP) {
		return nil, fmt.Errorf("subnet %q: host bits set (did you mean %s?)", s, n)
	}
	if ones, _ := n.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("subnet %q: too small (need at least /30)", s)
	}
	return n, nil
}

// EnsureBridge creates (or checks) bridge name with gw as its address,
// brings it up and sets what NAT needs: IPv4 forwarding, route_localnet
// on the bridge (so DNAT'ed connections to 127.0.0.1 may leave through
// it) and the shared masquerade/forward rules.
//
// An internal bridge gets no NAT rules and forwards only between its own
// ports: its containers reach each other and the host, nothing beyond.
func EnsureBridge(name string, subnet *net.IPNet, gw net.IP, internal bool) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, errExist) {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
	}
	if link.Type() != "bridge" {
		return fmt.Errorf("%s exists and is a %s, not a bridge", name, link.Type())
	}
	want := &net.IPNet{IP: gw, Mask: subnet.Mask}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	have := false
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			have = true
		} else if a.IPNet.Contains(gw) || subnet.Contains(a.IP) {
			return fmt.Errorf("bridge %s has address %s, not %s (another subnet is configured for it)", name, a.IPNet, want)
		}
	}
	if !have {
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: want}); err != nil && !errors.Is(err, errExist) {
			return fmt.Errorf("bridge %s: add address %s: %w", name, want, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	if err := setSysctl("1", "net", "ipv4", "ip_forward"); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	if err := setSysctl("1", "net", "ipv4", "conf", name, "route_localnet"); err != nil {
		return fmt.Errorf("route_localnet on %s: %w", name, err)
	}
	for _, r := range bridgeRules(name, subnet, internal) {
		add := r.Append
		if r.Table == "filter" {
			add = r.Insert // ahead of a DROP policy's rules (docker's)
		}
		if err := add(); err != nil {
			return err
		}
	}
	return nil
}

// bridgeRules are shared by every container on the bridge: outbound NAT,
// masquerading of host-local sources (hairpin for 127.0.0.1 published
// ports) and forwarding to and from the bridge.
func bridgeRules(name string, subnet *net.IPNet, internal bool) []Rule {
	c := []string{"-m", "comment", "--comment", NetComment(name)}
	if internal {
		return []Rule{
			{"filter", "FORWARD", append([]string{"-i", name, "!", "-o", name}, append(c, "-j", "DROP")...)},
			{"filter", "FORWARD", append([]string{"-o", name, "!", "-i", name}, append(c, "-j", "DROP")...)},
			{"filter", "FORWARD", append([]string{"-i", name, "-o", name}, append(c, "-j", "ACCEPT")...)},
		}
	}
	return []Rule{
		{"nat", "POSTROUTING", append([]string{"-s", subnet.String(), "!", "-o", name}, append(c, "-j", "MASQUERADE")...)},
		{"nat", "POSTROUTING", append([]string{"-o", name, "-m", "addrtype", "--src-type", "LOCAL"}, append(c, "-j", "MASQUERADE")...)},
		{"filter", "FORWARD", append([]string{"-i", name}, append(c, "-j", "ACCEPT")...)},
		{"filter", "FORWARD", append([]string{"-o", name}, append(c, "-j", "ACCEPT")...)},
	}
}

// RemoveBridge deletes the bridge and its shared rules (for tests and
// `myimg network rm`-like cleanups; containers never do this).
func RemoveBridge(name string) error {
	var errs []error
	for _, t := range []string{"nat", "filter"} {
		errs = append(errs, DeleteByComment(t, NetComment(name)))
	}
	if l, err := netlink.LinkByName(name); err == nil {
		errs = append(errs, netlink.LinkDel(l))
	}
	return errors.Join(errs...)
}
