package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/unpack"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// CgroupParent is where container cgroups go (absolute: the caller's own
// cgroup is not ours to fill).
const CgroupParent = "/myimg"

// applyOptions adjusts the spec unpack wrote for the image to the run
// flags: command, env, user, workdir, terminal, volumes, network
// namespace, host files, hostname and resources.
func applyOptions(s *rspec.Spec, r *Record, o *Options, p *parsed, rootfs string) error {
	if len(o.Args) > 0 {
		s.Process.Args = o.Args // entrypoint + the run arguments
	}
	if len(s.Process.Args) == 0 {
		return fmt.Errorf("%s: the image has no command; give one after the image name", o.Image)
	}
	s.Process.Env = unpack.MergeEnv(s.Process.Env, p.env)
	s.Process.Env = unpack.MergeEnv(s.Process.Env, []string{"HOSTNAME=" + r.Hostname})
	if o.TTY {
		s.Process.Terminal = true
		s.Process.Env = unpack.MergeEnv(s.Process.Env, []string{"TERM=xterm"})
	}
	if o.User != "" {
		u, err := unpack.ResolveUser(rootfs, o.User)
		if err != nil {
			return fmt.Errorf("-u %q: %w", o.User, err)
		}
		s.Process.User = u
	}
	if o.Workdir != "" {
		s.Process.Cwd = o.Workdir
	}
	// Create the working directory in the container's upper dir, as
	// docker does, resolved inside the rootfs.
	if s.Process.Cwd != "" && s.Process.Cwd != "/" {
		if d, err := securejoin.SecureJoin(rootfs, s.Process.Cwd); err == nil {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("-w %s: %w", s.Process.Cwd, err)
			}
		}
	}
	s.Hostname = r.Hostname
	if r.Rootless && r.SystemdCgroup != "" {
		// Before the volumes: one at or below /sys/fs/cgroup goes on top.
		scopeCgroupMount(s)
	}
	for _, v := range p.volumes {
		opts := []string{"rbind", "rprivate"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: v.Dest, Type: "bind", Source: v.Source, Options: opts})
	}
	dir := filepath.Dir(r.Bundle)
	for _, f := range []string{"resolv.conf", "hosts", "hostname"} {
		s.Mounts = append(s.Mounts, rspec.Mount{
			Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(dir, f), Options: []string{"bind", "rprivate"},
		})
	}
	setNetns(s, r)
	if r.IDMaps != nil {
		// The pause's too when the container joins its namespaces.
		s.Linux.UIDMappings, s.Linux.GIDMappings = r.IDMaps.UIDs, r.IDMaps.GIDs
	}
	switch {
	case !r.Rootless:
		s.Linux.CgroupsPath = r.CgroupsPath
		setLimits(s, o, p)
	case r.SystemdCgroup != "":
		s.Linux.CgroupsPath = r.SystemdCgroup
		setLimits(s, o, p)
	case p.memory > 0 || p.quota > 0 || o.PidsLimit > 0:
		return fmt.Errorf("--memory, --cpus and --pids-limit rootless need a cgroup systemd delegates to the user (rootlesscg.go)")
	}
	return nil
}

// scopeCgroupMount gives a rootless container with its own scope a
// cgroup2 mount at /sys/fs/cgroup. The rootless spec has none (the
// user cannot mount the host's hierarchies) and binds the host's /sys,
// so /sys/fs/cgroup inside was the host's root cgroup, without the
// scope's memory.max, pids.max or cpu.max. In its own cgroup namespace,
// owned by its user namespace, the container may mount cgroup2, and that
// mount's root is the scope (as podman's rootless containers on v2).
func scopeCgroupMount(s *rspec.Spec) {
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool {
		return n.Type == rspec.CgroupNamespace && n.Path == ""
	}) {
		return
	}
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m rspec.Mount) bool { return m.Destination == "/sys/fs/cgroup" })
	s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}})
}

// setLimits puts -m, --cpus and --pids-limit into the spec.
func setLimits(s *rspec.Spec, o *Options, p *parsed) {
	if p.memory <= 0 && p.quota <= 0 && o.PidsLimit <= 0 {
		return
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &rspec.LinuxResources{}
	}
	res := s.Linux.Resources
	if p.memory > 0 {
		m := p.memory
		res.Memory = &rspec.LinuxMemory{Limit: &m}
	}
	if p.quota > 0 {
		q, per := p.quota, p.period
		res.CPU = &rspec.LinuxCPU{Quota: &q, Period: &per}
	}
	if o.PidsLimit > 0 {
		pl := o.PidsLimit
		res.Pids = &rspec.LinuxPids{Limit: &pl}
	}
}

// setNetns sets the network namespace: the bind-mounted one for bridge,
// none for host, a new one otherwise.
func setNetns(s *rspec.Spec, r *Record) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool {
		return n.Type == rspec.NetworkNamespace
	})
	switch r.Network.Mode {
	case network.ModeHost:
	case network.ModeBridge, network.ModeNone, network.ModeSlirp, network.ModePasta:
		if r.Network.Netns == "" {
			s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.NetworkNamespace})
			break
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.NetworkNamespace, Path: r.Network.Netns})
	default:
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.NetworkNamespace})
	}
}

func readSpec(bundle string) (*rspec.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var s rspec.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", bundle, err)
	}
	return &s, nil
}

func writeSpec(bundle string, s *rspec.Spec) error {
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
}
