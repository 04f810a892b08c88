package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
)

// User networks: `myimg network create` records a bridge and subnet of
// its own; `run --net NAME` attaches to it like to the default bridge.
// Names resolve two ways. Every member's hosts file (bind-mounted from
// the container directory, rewritten in place so the mount sees it)
// lists every member's name, short ID, hostname and aliases, and is
// rewritten when a member joins or leaves (a lease taken or released).
// And the network's name server (resolver.go), the first nameserver of
// its members' resolv.conf, answers DNS queries for the same names.

// CreateNetwork makes user network name.
func (cs *Manager) CreateNetwork(name, subnet, iface string, labels map[string]string, ipv6 bool, subnet6 string, internal bool) (*network.Net, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("network create: user networks are bridges and need root")
	}
	return network.CreateNet(cs.IPAMDir(), name, subnet, iface, newID(), labels, ipv6, subnet6, internal)
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
		if _, ok := r.on(name); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// RemoveNetwork deletes a user network; with force its containers go
// first (as rm -f; with stopTimeout > 0 a running one is stopped first,
// as stop -t), else any container on it is an error.
func (cs *Manager) RemoveNetwork(n *network.Net, force bool, stopTimeout time.Duration) error {
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
		if stopTimeout > 0 {
			errs = append(errs, cs.Stop(r, stopTimeout))
		}
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
	if err := cs.stopResolver(n.Name); err != nil {
		return err
	}
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

// OnNetwork returns r's attachment to user network name.
func (r *Record) OnNetwork(name string) (network.Attachment, bool) { return r.on(name) }

// on returns r's attachment to user network name.
func (r *Record) on(name string) (network.Attachment, bool) {
	if name == "" {
		return network.Attachment{}, false
	}
	if r.Network.Name == name && r.Network.Mode == network.ModeBridge {
		return r.Network, true
	}
	for _, a := range r.Connected {
		if a.Name == name {
			return a, true
		}
	}
	return network.Attachment{}, false
}

// syncNetworkHosts rewrites the hosts file of every member of network
// a.Name (a member has a lease in its subnet). Callers are the joins and
// leaves (create, connect, disconnect, restart, finish, rm).
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
	members, err := cs.members(a)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range members {
		errs = append(errs, cs.writeHosts(m))
	}
	if err := cs.syncResolver(name, members); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// members are the containers with a lease in a's subnet that are on a's
// network, by name.
func (cs *Manager) members(a network.Attachment) ([]*Record, error) {
	sn, err := network.ParseSubnet(a.Subnet)
	if err != nil {
		return nil, err
	}
	ipam, err := network.NewIPAM(cs.IPAMDir(), sn)
	if err != nil {
		return nil, err
	}
	leases, err := ipam.Leases()
	if err != nil {
		return nil, err
	}
	var out []*Record
	for ip, id := range leases {
		if r, err := cs.Load(id); err == nil {
			if at, ok := r.on(a.Name); ok && at.IP == ip {
				out = append(out, r)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// writeHosts rewrites r's hosts file: its own lines, then for each of
// its user networks one line per member. In place: the container's bind
// mount holds this inode.
func (cs *Manager) writeHosts(r *Record) error {
	p := filepath.Join(cs.Dir(r.ID), "hosts")
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	data := network.Hosts(r.Hostname, r.Network.IP)
	for _, a := range append([]network.Attachment{r.Network}, r.Connected...) {
		if _, ok := r.on(a.Name); !ok || a.Subnet == "" {
			continue
		}
		members, err := cs.members(a)
		if err != nil {
			return err
		}
		data = fmt.Appendf(data, "# myimg network %s\n", a.Name)
		for _, m := range members {
			at, _ := m.on(a.Name)
			names := memberNames(m, at)
			data = fmt.Appendf(data, "%s\t%s\n", at.IP, strings.Join(names, " "))
			if at.IP6 != "" {
				data = fmt.Appendf(data, "%s\t%s\n", at.IP6, strings.Join(names, " "))
			}
		}
	}
	return os.WriteFile(p, data, 0o644)
}
