package container

import (
	"errors"
	"fmt"
	"slices"

	"github.com/myrun-org/myrun/imgtool/network"
)

// maxConnected bounds the networks a container joins beyond its first
// (eth1..eth9; the host veth name has room for one digit).
const maxConnected = 9

// Connect joins running container r to user network n (`network
// connect`): a lease and a veth into its network namespace as the next
// ethN, no default route (the first network keeps it); the members'
// hosts files are rewritten.
func (cs *Manager) Connect(r *Record, n *network.Net) error {
	if err := cs.canConnect(r); err != nil {
		return err
	}
	if _, ok := r.on(n.Name); ok {
		return fmt.Errorf("container %s is already connected to network %s", r.Name, n.Name)
	}
	if len(r.Connected) >= maxConnected {
		return fmt.Errorf("container %s: at most %d networks can be connected", r.Name, maxConnected)
	}
	k := len(r.Connected) + 1
	for slices.ContainsFunc(r.Connected, func(a network.Attachment) bool { return a.Iface == fmt.Sprintf("eth%d", k) }) {
		k++
	}
	a := network.Attachment{
		Mode: network.ModeBridge, Name: n.Name, Bridge: n.Interface, Subnet: n.Subnet, Subnet6: n.Subnet6,
		IPAMDir: cs.IPAMDir(), Internal: n.Internal, Netns: r.Network.Netns,
		HostVeth: network.ConnectedVethName(r.ID, k), Iface: fmt.Sprintf("eth%d", k),
	}
	persist := func() error {
		_, err := cs.Update(r.ID, func(c *Record) {
			if i := slices.IndexFunc(c.Connected, func(x network.Attachment) bool { return x.Name == a.Name }); i >= 0 {
				c.Connected[i] = a
			} else {
				c.Connected = append(c.Connected, a)
			}
		})
		return err
	}
	if err := network.ConnectBridge(&a, r.ID, persist); err != nil {
		cs.dropConnected(r.ID, a)
		return fmt.Errorf("network connect %s %s: %w", n.Name, r.Name, err)
	}
	return cs.syncNetworkHosts(a)
}

// canConnect: only a running root container with a network namespace of
// ours (bridge, none, or root's slirp4netns/pasta) can join a network.
func (cs *Manager) canConnect(r *Record) error {
	switch {
	case r.Rootless:
		return fmt.Errorf("container %s is rootless: user networks are bridges and need root", r.Name)
	case r.Network.Mode == network.ModeHost:
		return fmt.Errorf("container %s uses the host's network (--net host): it cannot join a network", r.Name)
	case !cs.IsRunning(r) || r.Status != StatusRunning || r.Network.Netns == "":
		return fmt.Errorf("container %s is not running: only a running container's network namespace can be connected", r.Name)
	}
	return nil
}

// Disconnect takes running container r off a network it joined with
// Connect. The network it was run with is refused: its eth0 carries the
// default route and the published ports.
func (cs *Manager) Disconnect(r *Record, n *network.Net) error {
	i := slices.IndexFunc(r.Connected, func(a network.Attachment) bool { return a.Name == n.Name })
	if i < 0 {
		if _, ok := r.on(n.Name); ok {
			return fmt.Errorf("network disconnect %s %s: the network the container was run with cannot be disconnected (only ones joined by network connect)", n.Name, r.Name)
		}
		return fmt.Errorf("container %s is not connected to network %s", r.Name, n.Name)
	}
	return cs.dropConnected(r.ID, r.Connected[i])
}

// dropConnected releases a connected network and forgets it; the hosts
// files of the network's members and of the container itself are
// rewritten.
func (cs *Manager) dropConnected(id string, a network.Attachment) error {
	errs := []error{a.ReleaseConnected(id)}
	cur, err := cs.Update(id, func(c *Record) {
		c.Connected = slices.DeleteFunc(c.Connected, func(x network.Attachment) bool { return x.Name == a.Name })
	})
	errs = append(errs, err, cs.syncNetworkHosts(a))
	if cur != nil {
		errs = append(errs, cs.writeHosts(cur))
	}
	return errors.Join(errs...)
}

// releaseConnected releases every connected network (the container
// stopped or is removed); the record keeps them for a restart.
func (cs *Manager) releaseConnected(r *Record) {
	for _, a := range r.Connected {
		a.ReleaseConnected(r.ID)
		cs.syncNetworkHosts(a)
	}
}

// reconnect makes the connected networks again after a restart.
func (cs *Manager) reconnect(id string) error {
	r, err := cs.Load(id)
	if err != nil {
		return err
	}
	for i := range r.Connected {
		a := &r.Connected[i]
		a.IP, a.IP6, a.Netns = "", "", r.Network.Netns
		if err := network.ConnectBridge(a, id, func() error { return cs.Save(r) }); err != nil {
			return fmt.Errorf("network %s: %w", a.Name, err)
		}
		if err := cs.syncNetworkHosts(*a); err != nil {
			return err
		}
	}
	return nil
}
