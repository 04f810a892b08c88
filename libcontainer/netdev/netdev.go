// Package netdev moves host network interfaces into a container's network
// namespace (runtime-spec linux.netDevices): renamed as asked, with their
// permanent global addresses, and up.
package netdev

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Moved is one device in the container: its host name and its index in
// the container's namespace (a "%d" name is the kernel's choice).
type Moved struct {
	HostName string
	Index    int
}

func field(host string) string { return "linux.netDevices." + host }

// Check refuses, before anything is created, devices that are not on the
// host.
func Check(devs map[string]rspec.LinuxNetDevice) error {
	for _, host := range slices.Sorted(maps.Keys(devs)) {
		if _, err := netlink.LinkByName(host); err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				return fmt.Errorf("%s: no such network device on the host", field(host))
			}
			return fmt.Errorf("%s: %w", field(host), err)
		}
	}
	return nil
}

// Move puts each device in the network namespace of pid. On error the
// devices moved so far are moved back to the host, so none is lost when
// the namespace dies.
func Move(pid int, devs map[string]rspec.LinuxNetDevice) (moved []Moved, err error) {
	if len(devs) == 0 {
		return nil, nil
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return nil, fmt.Errorf("linux.netDevices: container network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("linux.netDevices: %w", err)
	}
	defer h.Close()
	defer func() {
		if err != nil {
			returnDevices(ns, h, moved)
			moved = nil
		}
	}()
	for _, host := range slices.Sorted(maps.Keys(devs)) {
		name := devs[host].Name
		if name == "" {
			name = host
		}
		link, err := netlink.LinkByName(host)
		if err != nil {
			return moved, fmt.Errorf("%s: %w", field(host), err)
		}
		addrs, err := keptAddrs(link)
		if err != nil {
			return moved, fmt.Errorf("%s: reading addresses: %w", field(host), err)
		}
		if !strings.Contains(name, "%") {
			if _, err := h.LinkByName(name); err == nil {
				return moved, fmt.Errorf("%s.name: %q exists in the container's network namespace", field(host), name)
			}
		}
		if err := moveLink(nil, link.Attrs().Index, int(ns), name); err != nil {
			// The kernel moves first and renames after: a failed rename
			// leaves the device in the container under its host name.
			for _, n := range []string{host, name} {
				if l, lerr := h.LinkByName(n); lerr == nil && l.Attrs().HardwareAddr.String() == link.Attrs().HardwareAddr.String() {
					moved = append(moved, Moved{HostName: host, Index: l.Attrs().Index})
					break
				}
			}
			if errors.Is(err, unix.EEXIST) {
				return moved, fmt.Errorf("%s.name: %q exists in the container's network namespace", field(host), name)
			}
			return moved, fmt.Errorf("%s: moving to the container's network namespace: %w", field(host), err)
		}
		// The kernel may give it another index there; find it by name
		// (the kernel's, for a "%d" template).
		in, err := findMoved(h, link.Attrs(), name)
		if err != nil {
			return moved, fmt.Errorf("%s: %w", field(host), err)
		}
		moved = append(moved, Moved{HostName: host, Index: in.Attrs().Index})
		for _, a := range addrs {
			a.Label = relabel(a.Label, host, in.Attrs().Name)
			if err := h.AddrAdd(in, &a); err != nil && !errors.Is(err, unix.EEXIST) {
				return moved, fmt.Errorf("%s: adding address %s: %w", field(host), a.IPNet, err)
			}
		}
		if err := h.LinkSetUp(in); err != nil {
			return moved, fmt.Errorf("%s: setting it up: %w", field(host), err)
		}
	}
	return moved, nil
}

// Return moves devices back from pid's namespace to ours, under their
// host names: for a create that fails after the move, so that they are
// not destroyed with the namespace (virtual devices) or left with the
// container's name (physical ones).
func Return(pid int, moved []Moved) error {
	if len(moved) == 0 {
		return nil
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return err
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return returnDevices(ns, h, moved)
}

func returnDevices(ns netns.NsHandle, h *netlink.Handle, moved []Moved) error {
	host, err := netns.Get()
	if err != nil {
		return err
	}
	defer host.Close()
	sock, err := nl.GetNetlinkSocketAt(ns, host, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer sock.Close()
	var errs []error
	for _, m := range moved {
		link, err := h.LinkByIndex(m.Index)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field(m.HostName), err))
			continue
		}
		addrs, _ := keptAddrsOf(h, link)
		h.LinkSetDown(link)
		if err := moveLink(sock, m.Index, int(host), m.HostName); err != nil {
			errs = append(errs, fmt.Errorf("%s: moving back to the host: %w", field(m.HostName), err))
			continue
		}
		// As it was: its addresses (a move drops them), down.
		back, err := netlink.LinkByName(m.HostName)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: moved back, but %w", field(m.HostName), err))
			continue
		}
		for _, a := range addrs {
			a.Label = relabel(a.Label, link.Attrs().Name, m.HostName)
			if err := netlink.AddrAdd(back, &a); err != nil && !errors.Is(err, unix.EEXIST) {
				errs = append(errs, fmt.Errorf("%s: restoring address %s: %w", field(m.HostName), a.IPNet, err))
			}
		}
	}
	return errors.Join(errs...)
}

// moveLink moves and renames in one RTM_SETLINK (IFLA_NET_NS_FD with
// IFLA_IFNAME): the kernel moves the device, using the name as the
// pattern if its own name is taken there, then renames it; sock nil means
// a socket in our namespace.
func moveLink(sock *nl.NetlinkSocket, index, nsFd int, name string) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	if sock != nil {
		req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: sock}}
	}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(nsFd))))
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// findMoved finds the device that just arrived: by name, or for a "%d"
// template by its hardware address among the links with that prefix.
func findMoved(h *netlink.Handle, host *netlink.LinkAttrs, name string) (netlink.Link, error) {
	if !strings.Contains(name, "%") {
		return h.LinkByName(name)
	}
	links, err := h.LinkList()
	if err != nil {
		return nil, err
	}
	prefix, _, _ := strings.Cut(name, "%")
	for _, l := range links {
		a := l.Attrs()
		if strings.HasPrefix(a.Name, prefix) && a.HardwareAddr.String() == host.HardwareAddr.String() {
			return l, nil
		}
	}
	return nil, fmt.Errorf("moved, but not found as %q in the container", name)
}

// keptAddrs are the addresses the spec says to keep: permanent, global
// scope, any family.
func keptAddrs(link netlink.Link) ([]netlink.Addr, error) {
	return keptAddrsOf(nil, link)
}

// keptAddrsOf is keptAddrs in h's namespace (nil: ours).
func keptAddrsOf(h *netlink.Handle, link netlink.Link) ([]netlink.Addr, error) {
	list := netlink.AddrList
	if h != nil {
		list = h.AddrList
	}
	all, err := list(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netlink.Addr
	for _, a := range all {
		if a.Scope == unix.RT_SCOPE_UNIVERSE && a.Flags&unix.IFA_F_PERMANENT != 0 {
			// Fresh in the new namespace: no lifetimes, no peer index.
			a.LinkIndex, a.PreferedLft, a.ValidLft = 0, 0, 0
			out = append(out, a)
		}
	}
	return out, nil
}

// relabel keeps an IPv4 label's suffix ("eth0:1") under the new name; the
// kernel refuses a label that does not start with the device's name.
func relabel(label, oldName, newName string) string {
	if label == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(label, oldName); ok && len(newName)+len(rest) < unix.IFNAMSIZ {
		return newName + rest
	}
	return newName
}
