package container

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/myrun-org/myrun/imgtool/network"
)

// User networks: `myimg network create` records a bridge and subnet of
// its own; `run --net NAME` attaches to it like to the default bridge.
// Names resolve through /etc/hosts: every member's hosts file (bind-
// mounted from the container directory, rewritten in place so the mount
// sees it) lists every member's name, short ID and hostname, and is
// rewritten when a member joins or leaves (a lease taken or released).
// That needs no resolver process and survives monitor crashes; what it
// cannot do is answer DNS queries (nslookup asks a server, not the file).

// CreateNetwork makes user network name.
func (cs *Manager) CreateNetwork(name, subnet, iface string, labels map[string]string, ipv6 bool, subnet6 string) (*network.Net, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("network create: user networks are bridges and need root")
	}
	return network.CreateNet(cs.IPAMDir(), name, subnet, iface, newID(), labels, ipv6, subnet6)
}

// Networks lists the user networks.
func (cs *Manager) Networks() ([]*network.Net, error) { return network.ListNets(cs.IPAMDir()) }

// Network finds a user network by name or unique ID prefix.
func (cs *Manager) Network(ref string) (*network.Net, error) {
	if network.ValidNetName(ref) == nil {
		if n, err := network.LoadNet(cs.IPAMDir(), ref); err == nil {
			return n, nil
		}
	}
	nets, err := cs.Networks()
	if err != nil {
		return nil, err
	}
	var match *network.Net
	for _, n := range nets {
		if len(ref) >= 3 && strings.HasPrefix(n.ID, ref) {
			if match != nil {
				return nil, fmt.Errorf("network %q: ambiguous ID prefix", ref)
			}
			match = n
		}
	}
	if match == nil {
		return nil, fmt.Errorf("network %s: no such network", ref)
	}
	return match, nil
}

// NetworkUsers are the containers (any status) attached to network name.
func (cs *Manager) NetworkUsers(name string) ([]*Record, error) {
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range all {
		if r.Network.Name == name {
			out = append(out, r)
		}
	}
	return out, nil
}

// RemoveNetwork deletes a user network; with force its containers go
// first (as rm -f), else any container on it is an error.
func (cs *Manager) RemoveNetwork(n *network.Net, force bool) error {
	users, err := cs.NetworkUsers(n.Name)
	if err != nil {
		return err
	}
	if len(users) > 0 && !force {
		var names []string
		for _, r := range users {
			names = append(names, r.Name)
		}
		return fmt.Errorf("network %s is used by containers %s: remove them first or use network rm -f", n.Name, strings.Join(names, ", "))
	}
	var errs []error
	for _, r := range users {
		errs = append(errs, cs.Remove(r.ID, RemoveOptions{Force: true}))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	unlock, err := network.LockNets(cs.IPAMDir())
	if err != nil {
		return err
	}
	defer unlock()
	if err := network.RemoveNet(cs.IPAMDir(), n); err != nil {
		return err
	}
	os.Remove(filepath.Join(cs.IPAMDir(), "hosts-"+n.Name+".lock"))
	return nil
}

// resolveNetwork turns --net NAME into a bridge attachment of network
// NAME (o.Net stays a mode); it returns the network's name.
func (cs *Manager) resolveNetwork(o *Options) (*network.Net, error) {
	if o.Net == "" || network.IsMode(o.Net) {
		return nil, nil
	}
	n, err := network.LoadNet(cs.IPAMDir(), o.Net)
	if err != nil {
		return nil, fmt.Errorf("--net %q: neither a mode (bridge, slirp4netns, pasta, host, none) nor a network (myimg network ls): %w", o.Net, err)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("--net %s: user networks are bridges and need root", n.Name)
	}
	o.Net, o.Bridge, o.Subnet = network.ModeBridge, n.Interface, n.Subnet
	return n, nil
}

// syncNetworkHosts rewrites the hosts file of every member of network
// name: its own lines, then one line per member with a lease. Callers
// are the joins and leaves (create, restart, finish, rm).
func (cs *Manager) syncNetworkHosts(a network.Attachment) error {
	name := a.Name
	if name == "" || a.Subnet == "" {
		return nil
	}
	unlock, err := lockFile(filepath.Join(cs.IPAMDir(), "hosts-"+name+".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	sn, err := network.ParseSubnet(a.Subnet)
	if err != nil {
		return err
	}
	ipam, err := network.NewIPAM(cs.IPAMDir(), sn)
	if err != nil {
		return err
	}
	leases, err := ipam.Leases()
	if err != nil {
		return err
	}
	type member struct {
		r       *Record
		ip, ip6 string
	}
	var members []member
	for ip, id := range leases {
		if r, err := cs.Load(id); err == nil && r.Network.Name == name {
			members = append(members, member{r, ip, r.Network.IP6})
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].r.Name < members[j].r.Name })
	var table bytes.Buffer
	fmt.Fprintf(&table, "# myimg network %s\n", name)
	for _, m := range members {
		names := []string{m.r.Name, ShortID(m.r.ID)}
		if m.r.Hostname != m.r.Name && m.r.Hostname != ShortID(m.r.ID) {
			names = append(names, m.r.Hostname)
		}
		fmt.Fprintf(&table, "%s\t%s\n", m.ip, strings.Join(names, " "))
		if m.ip6 != "" {
			fmt.Fprintf(&table, "%s\t%s\n", m.ip6, strings.Join(names, " "))
		}
	}
	var errs []error
	for _, m := range members {
		data := append(network.Hosts(m.r.Hostname, m.ip), table.Bytes()...)
		// In place: the container's bind mount holds this inode.
		p := filepath.Join(cs.Dir(m.r.ID), "hosts")
		if _, err := os.Stat(p); err == nil {
			errs = append(errs, os.WriteFile(p, data, 0o644))
		}
	}
	return errors.Join(errs...)
}
