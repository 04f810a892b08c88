package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/myrun-org/myrun/imgtool/userns"
)

// Create checks every option, then makes the container: record, bundle
// (overlay rootfs over the cached layers), network and config.json. It
// does not start it. Bad input fails before anything is created; a
// failure later removes everything made so far.
func (cs *Manager) Create(o *Options) (*Record, error) {
	userNet, err := cs.resolveNetwork(o)
	if err != nil {
		return nil, err
	}
	var netName, subnet6 string
	internal := false
	if userNet != nil {
		netName, subnet6, internal = userNet.Name, userNet.Subnet6, userNet.Internal
	}
	p, err := o.validate()
	if err != nil {
		return nil, err
	}
	policy, maxRestarts, err := o.checkRestart()
	if err != nil {
		return nil, err
	}
	desc, err := cs.Images.Resolve(o.Image)
	if err != nil {
		return nil, err
	}
	img, err := cs.Images.Load(desc)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", o.Image, err)
	}
	hc, onFailure, labels, err := o.fromImage(img)
	if err != nil {
		return nil, err
	}
	unlock, err := cs.lockNames()
	if err != nil {
		return nil, err
	}
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	if err := cs.checkFree(o.Name, p.ports); err != nil {
		return nil, err
	}

	id := newID()
	dir := cs.Dir(id)
	r := &Record{
		ID: id, Name: o.Name, Image: o.Image, ImageDigest: desc.Digest.String(),
		Created: time.Now().UTC(), Status: StatusCreating, Runtime: o.Runtime,
		Bundle: filepath.Join(dir, "bundle"), LogPath: filepath.Join(cs.LogDir, id+".log"),
		StopSignal: "SIGTERM", AutoRemove: o.AutoRemove, Detached: o.Detach, OpenStdin: o.Detach && o.Stdin, TTY: o.Detach && o.TTY,
		Rootless: os.Geteuid() != 0, Hostname: o.Hostname,
		Network: network.Attachment{Mode: o.Net, Name: netName, Subnet6: subnet6, Internal: internal, Ports: p.ports},
		Restart: policy, RestartMax: maxRestarts, Healthcheck: hc, Labels: labels, HealthOnFailure: onFailure,
	}
	if err := cs.completeRecord(r, o, p); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		return nil, err
	}
	if err := cs.Save(r); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The name is now taken on disk: other runs may go on.
	unlock()
	unlock = nil

	ok := false
	defer func() {
		if !ok {
			cs.Remove(r.ID, RemoveOptions{Force: true})
		}
	}()
	if err := cs.fill(r, img, o, p, netName); err != nil {
		return nil, err
	}
	ok = true
	return r, nil
}

// mergeLabels is the image's labels with --label K=V values over them.
func mergeLabels(img map[string]string, flags []string) (map[string]string, error) {
	if len(img) == 0 && len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for k, v := range img {
		out[k] = v
	}
	for _, l := range flags {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return nil, fmt.Errorf("--label %q: want K=V", l)
		}
		out[k] = v
	}
	return out, nil
}

// fromImage is what the options take from the image: its healthcheck
// (unless overridden), the --health-on-failure action, and the labels
// (the image's, then -l).
func (o *Options) fromImage(img *store.Loaded) (*store.HealthConfig, string, map[string]string, error) {
	hc, err := o.Health.resolve(img.Config.Config.Healthcheck)
	if err != nil {
		return nil, "", nil, err
	}
	onFailure, err := o.Health.checkOnFailure(hc != nil, o.Detach)
	if err != nil {
		return nil, "", nil, err
	}
	labels, err := mergeLabels(img.Config.Config.Labels, o.Labels)
	if err != nil {
		return nil, "", nil, err
	}
	return hc, onFailure, labels, nil
}

// checkFree fails if name or a port is taken by another container or a
// port by the host; called under the names lock.
func (cs *Manager) checkFree(name string, ports []network.PortMapping) error {
	all, err := cs.List()
	if err != nil {
		return err
	}
	if err := checkConflicts(all, name, ports); err != nil {
		return err
	}
	for _, pm := range ports {
		if err := network.CheckFree(pm); err != nil {
			return err
		}
	}
	return nil
}

// completeRecord fills what a new record takes from its ID and the
// host: default name and hostname, id mapping (rootless), cgroup, the
// network's per-mode settings, a rootless container's systemd scope.
func (cs *Manager) completeRecord(r *Record, o *Options, p *parsed) error {
	if r.Name == "" {
		r.Name = "myimg-" + r.ID[:8]
	}
	r.DNS = o.DNS
	if r.Rootless {
		m, warn, err := userns.ForCaller()
		if err != nil {
			return err
		}
		if warn != "" {
			fmt.Fprintln(os.Stderr, warn)
		}
		r.IDMaps = &m
	}
	if !r.Rootless {
		r.CgroupsPath = CgroupParent + "/" + r.ID
	}
	if err := rootlessCgroup(r, o, p); err != nil {
		return err
	}
	if r.Hostname == "" {
		r.Hostname = r.ID[:12]
		if o.Net == network.ModeHost {
			r.Hostname, _ = os.Hostname()
		}
	}
	switch o.Net {
	case network.ModeBridge:
		r.Network.Bridge, r.Network.Subnet, r.Network.IPAMDir = o.Bridge, o.Subnet, cs.IPAMDir()
	case network.ModeSlirp:
		r.Network.APISocket = slirpSocket(cs.Dir(r.ID), r.ID)
	}
	return nil
}

// fill makes the container's bundle (overlay rootfs, config.json), its
// network, host files and volumes; a failure leaves the removal to the
// caller.
func (cs *Manager) fill(r *Record, img *store.Loaded, o *Options, p *parsed, netName string) error {
	if err := cs.unpackBundle(r, img, o.Storage); err != nil {
		return err
	}
	s, err := readSpec(r.Bundle)
	if err != nil {
		return err
	}
	if sig := s.Annotations[unpack.AnnotationStopSignal]; sig != "" {
		r.StopSignal = sig
	}
	args := o.Args
	if len(args) > 0 {
		// As docker: arguments replace CMD, the ENTRYPOINT stays.
		args = append(slices.Clone(img.Config.Config.Entrypoint), args...)
	}
	r.Command = s.Process.Args
	if len(args) > 0 {
		r.Command = args
	}
	if err := cs.Save(r); err != nil {
		return err
	}
	if o.Net == network.ModeBridge {
		if err := network.SetupBridge(&r.Network, r.ID, func() error { return cs.Save(r) }); err != nil {
			return fmt.Errorf("--net bridge: %w", err)
		}
	}
	if (o.Net == network.ModeNone || o.Net == network.ModeSlirp || o.Net == network.ModePasta) && !r.Rootless {
		if err := network.SetupNone(&r.Network, r.ID, func() error { return cs.Save(r) }); err != nil {
			return fmt.Errorf("--net %s: %w", o.Net, err)
		}
	}
	if err := writeHostFiles(cs.Dir(r.ID), r, o); err != nil {
		return err
	}
	if err := cs.prepareVolumes(p.volumes, filepath.Join(r.Bundle, "rootfs"), r); err != nil {
		return err
	}
	oo := *o
	oo.Args = args
	if err := applyOptions(s, r, &oo, p, filepath.Join(r.Bundle, "rootfs")); err != nil {
		return err
	}
	if err := writeSpec(r.Bundle, s); err != nil {
		return err
	}
	if err := cs.Save(r); err != nil {
		return err
	}
	if err := cs.syncNetworkHosts(r.Network); err != nil {
		return fmt.Errorf("--net %s: hosts files: %w", netName, err)
	}
	return nil
}

// checkConflicts fails if name is taken or a port is published by a
// container that still runs (DNAT holds no socket, so CheckFree alone
// would not see it).
func checkConflicts(all []*Record, name string, ports []network.PortMapping) error {
	for _, c := range all {
		if name != "" && c.Name == name {
			return fmt.Errorf("--name %q: the name is already in use by container %s", name, c.ID[:12])
		}
		if c.Status == StatusExited {
			continue
		}
		for _, q := range c.Network.Ports {
			for _, pm := range ports {
				if network.Conflicts(q, pm) {
					return fmt.Errorf("-p %s: port is already in use by container %s (%s)", pm, c.Name, c.ID[:12])
				}
			}
		}
	}
	return nil
}

// slirpSocket picks a path for slirp4netns's API socket short enough for
// sun_path (108 bytes).
func slirpSocket(dir, id string) string {
	p := filepath.Join(dir, "slirp.sock")
	if len(p) < 100 {
		return p
	}
	base := "/run/myimg"
	if os.Geteuid() != 0 {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("myimg-%d", os.Geteuid()))
	}
	return filepath.Join(base, "slirp-"+id[:16]+".sock")
}

// writeHostFiles writes the resolv.conf, hosts and hostname that are
// bind-mounted into the container.
func writeHostFiles(dir string, r *Record, o *Options) error {
	host, upstream := network.ReadHostResolv()
	var resolv, hosts []byte
	switch r.Network.Mode {
	case network.ModeHost:
		resolv = network.ResolvConf(host, upstream, o.DNS, true)
		if h, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = h
		} else {
			hosts = network.Hosts(r.Hostname, "")
		}
	case network.ModeSlirp:
		dns := o.DNS
		if len(dns) == 0 {
			dns = []string{network.SlirpDNS}
		}
		resolv = network.ResolvConf(host, upstream, dns, false)
		hosts = network.Hosts(r.Hostname, network.SlirpIP)
	default:
		resolv = resolvFor(r, host, upstream)
		hosts = network.Hosts(r.Hostname, r.Network.IP)
	}
	files := map[string][]byte{"resolv.conf": resolv, "hosts": hosts, "hostname": []byte(r.Hostname + "\n")}
	var errs []error
	for name, data := range files {
		errs = append(errs, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	return errors.Join(errs...)
}

// resolvFor is the resolv.conf of a container with a network namespace
// of ours: --dns if given, else the name server of its first user
// network and the host's upstreams (none if all its user networks are
// internal), else the host's.
func resolvFor(r *Record, host, upstream []byte) []byte {
	if len(r.DNS) > 0 {
		return network.ResolvConf(host, upstream, r.DNS, false)
	}
	server, out := "", r.Network.Mode != network.ModeNone
	for _, a := range append([]network.Attachment{r.Network}, r.Connected...) {
		if a.Mode != network.ModeBridge || a.Name == "" {
			continue
		}
		if server == "" {
			server = gatewayOf(a)
		}
		if a.Name == r.Network.Name {
			out = !a.Internal
		} else if !a.Internal {
			out = true
		}
	}
	if server == "" {
		return network.ResolvConf(host, upstream, nil, false)
	}
	return network.ResolvConfVia(host, upstream, server, out)
}

// gatewayOf is the bridge address of a's network (its name server).
func gatewayOf(a network.Attachment) string {
	if a.Gateway != "" {
		return a.Gateway
	}
	if sn, err := network.ParseSubnet(a.Subnet); err == nil {
		if ipam, err := network.NewIPAM("", sn); err == nil {
			return ipam.Gateway().String()
		}
	}
	return ""
}

// writeResolv rewrites r's resolv.conf in place (its networks changed);
// host and slirp4netns containers keep theirs.
func (cs *Manager) writeResolv(r *Record) error {
	if r.Network.Mode == network.ModeHost || r.Network.Mode == network.ModeSlirp {
		return nil
	}
	p := filepath.Join(cs.Dir(r.ID), "resolv.conf")
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	host, upstream := network.ReadHostResolv()
	return os.WriteFile(p, resolvFor(r, host, upstream), 0o644)
}

// ShortID is the 12-character form of an ID.
func ShortID(id string) string { return id[:min(12, len(id))] }
