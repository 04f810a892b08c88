package container

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"

	"github.com/myrun-org/myrun/imgtool/network"
)

// maxConnected bounds the networks a container joins beyond its first
// (eth1..eth9; the host veth name has room for one digit).
const maxConnected = 9

// ConnectOptions are network connect's --alias, --ip, --ip6 and
// --mac-address.
type ConnectOptions struct {
	Aliases      []string
	IP, IP6, MAC string
}

// Connect joins container r to user network n (`network connect`). A
// running container gets a lease and a veth into its network namespace
// as the next ethN, no default route (the first network keeps it), and
// the members' hosts files and name server learn it. A stopped one has
// the network recorded; its next start (a restart) attaches it.
func (cs *Manager) Connect(r *Record, n *network.Net, o ConnectOptions) error {
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
	if err := o.apply(&a, n); err != nil {
		return err
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
	if !cs.IsRunning(r) || r.Status != StatusRunning || r.Network.Netns == "" {
		a.Netns = ""
		return persist() // attached when it starts again
	}
	if err := network.ConnectBridge(&a, r.ID, persist); err != nil {
		if cur, lerr := cs.Load(r.ID); lerr == nil && cs.stoppedMeanwhile(cur) {
			// It exited while we attached (a restart's backoff): its next
			// start attaches the network.
			a.ReleaseConnected(r.ID)
			a.IP, a.IP6, a.Netns = "", "", ""
			return persist()
		}
		cs.dropConnected(r.ID, a, true)
		return fmt.Errorf("network connect %s %s: %w", n.Name, r.Name, err)
	}
	cur, err := cs.Load(r.ID)
	if err != nil {
		return err
	}
	return errors.Join(cs.syncNetworkHosts(a), cs.writeResolv(cur))
}

// stoppedMeanwhile: r no longer runs, or its network namespace is gone.
func (cs *Manager) stoppedMeanwhile(r *Record) bool {
	if !cs.IsRunning(r) || r.Status != StatusRunning || r.Network.Netns == "" {
		return true
	}
	_, err := os.Stat(r.Network.Netns)
	return err != nil
}

var aliasRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,62})$`)

// apply checks the options against network n and records them in a.
// An IPv6 address is at its IPv4 lease's offset on our networks, so
// --ip6 picks the IPv4 lease too (and must agree with --ip).
func (o ConnectOptions) apply(a *network.Attachment, n *network.Net) error {
	for _, al := range o.Aliases {
		if !aliasRE.MatchString(al) {
			return fmt.Errorf("--alias %q: want a name of letters, digits, '_', '.' and '-'", al)
		}
	}
	a.Aliases = o.Aliases
	if o.MAC != "" {
		mac, err := network.ParseMAC(o.MAC)
		if err != nil {
			return err
		}
		a.MAC = mac.String()
	}
	sn, err := network.ParseSubnet(n.Subnet)
	if err != nil {
		return err
	}
	if o.IP != "" {
		ip := net.ParseIP(o.IP)
		if ip == nil || ip.To4() == nil || !sn.Contains(ip) {
			return fmt.Errorf("--ip %q: not an IPv4 address of network %s (%s)", o.IP, n.Name, n.Subnet)
		}
		if err := network.CheckStatic(ip, sn); err != nil {
			return err
		}
		a.StaticIP = ip.To4().String()
	}
	if o.IP6 == "" {
		return nil
	}
	ip4, err := network.IPv4AtOffsetOf(o.IP6, n.Subnet6, sn)
	if err != nil {
		return fmt.Errorf("--ip6 %s: network %s: %w", o.IP6, n.Name, err)
	}
	if a.StaticIP != "" && a.StaticIP != ip4.String() {
		return fmt.Errorf("--ip6 %s with --ip %s: on network %s the IPv6 address is at the IPv4 address's offset (%s goes with %s)", o.IP6, o.IP, n.Name, o.IP6, ip4)
	}
	a.StaticIP = ip4.String()
	return nil
}

// canConnect: only a root container with a network namespace of ours
// (bridge, none, or root's slirp4netns/pasta) can join a network.
func (cs *Manager) canConnect(r *Record) error {
	switch {
	case r.Rootless:
		return fmt.Errorf("container %s is rootless: user networks are bridges and need root", r.Name)
	case r.Network.Mode == network.ModeHost:
		return fmt.Errorf("container %s uses the host's network (--net host): it cannot join a network", r.Name)
	}
	return nil
}

// Disconnect takes container r off network n: one it joined with
// Connect, or the one it was run with (eth0, its default route and
// published ports go; it is then as if run with --net none). With
// force, what fails while taking the network down is a warning and the
// record forgets the network all the same.
func (cs *Manager) Disconnect(r *Record, n *network.Net, force bool) error {
	var err error
	if i := slices.IndexFunc(r.Connected, func(a network.Attachment) bool { return a.Name == n.Name }); i >= 0 {
		err = cs.dropConnected(r.ID, r.Connected[i], force)
	} else if _, ok := r.on(n.Name); ok {
		err = cs.dropPrimary(r, force)
	} else {
		return fmt.Errorf("container %s is not connected to network %s", r.Name, n.Name)
	}
	if err != nil && force {
		fmt.Fprintf(os.Stderr, "warning: network disconnect -f %s %s: %v\n", n.Name, r.Name, err)
		return nil
	}
	return err
}

// dropPrimary takes r off the network it was run with; its network
// namespace stays (with the connected networks).
func (cs *Manager) dropPrimary(r *Record, force bool) error {
	old := r.Network
	errs := []error{old.ReleasePrimary(r.ID)}
	if errs[0] != nil && !force {
		return fmt.Errorf("network %s: %w (disconnect -f forgets it all the same)", old.Name, errs[0])
	}
	cur, err := cs.Update(r.ID, func(c *Record) {
		c.Network = network.Attachment{Mode: network.ModeNone, Netns: c.Network.Netns, IPAMDir: c.Network.IPAMDir}
		// The first connected network with a way out takes the default
		// route over (now if attached, else at the next start).
		if i := slices.IndexFunc(c.Connected, func(x network.Attachment) bool { return !x.Internal }); i >= 0 && old.Gateway != "" && !old.Internal {
			c.Connected[i].DefaultRoute = true
			if c.Connected[i].IP != "" && cs.IsRunning(c) {
				errs = append(errs, c.Connected[i].AddDefaultRoute())
			}
		}
	})
	errs = append(errs, err, cs.syncNetworkHosts(old))
	if cur != nil {
		errs = append(errs, cs.writeHosts(cur), cs.writeResolv(cur))
	}
	return errors.Join(errs...)
}

// dropConnected releases a connected network and forgets it; the hosts
// files of the network's members and of the container itself are
// rewritten. If the release fails, the network is forgotten only with
// force.
func (cs *Manager) dropConnected(id string, a network.Attachment, force bool) error {
	errs := []error{a.ReleaseConnected(id)}
	if errs[0] != nil && !force {
		return fmt.Errorf("network %s: %w (disconnect -f forgets it all the same)", a.Name, errs[0])
	}
	cur, err := cs.Update(id, func(c *Record) {
		c.Connected = slices.DeleteFunc(c.Connected, func(x network.Attachment) bool { return x.Name == a.Name })
	})
	errs = append(errs, err, cs.syncNetworkHosts(a))
	if cur != nil {
		errs = append(errs, cs.writeHosts(cur), cs.writeResolv(cur))
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
