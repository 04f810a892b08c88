package specs

import (
	"slices"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultHostname is the hostname of the default spec (runc uses "runc").
const DefaultHostname = "myrun"

// defaultCaps are the only capabilities of the example spec. Like current
// runc they are not inheritable or ambient (CVE-2022-29162).
var defaultCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// Default returns the starter config.json `myrun spec` writes: the same
// content as `runc spec`, a busybox-friendly shell with few privileges.
func Default() *rspec.Spec {
	caps := func() []string { return slices.Clone(defaultCaps) }
	return &rspec.Spec{
		Version: rspec.Version,
		Process: &rspec.Process{
			Terminal: true,
			User:     rspec.User{UID: 0, GID: 0},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &rspec.LinuxCapabilities{
				Bounding:  caps(),
				Effective: caps(),
				Permitted: caps(),
			},
			Rlimits:         []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &rspec.Root{Path: "rootfs", Readonly: true},
		Hostname: DefaultHostname,
		Mounts: []rspec.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts",
				Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm",
				Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue",
				Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs",
				Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
				Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &rspec.Linux{
			Resources: &rspec.LinuxResources{
				Devices: []rspec.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []rspec.LinuxNamespace{
				{Type: rspec.PIDNamespace},
				{Type: rspec.NetworkNamespace},
				{Type: rspec.IPCNamespace},
				{Type: rspec.UTSNamespace},
				{Type: rspec.MountNamespace},
				{Type: rspec.CgroupNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
		},
	}
}

// ForHost fits the default spec to the host as `runc spec` does: the
// cgroup namespace is listed only when /sys/fs/cgroup is cgroup v2
// (unified); on v1 and hybrid hosts the container sees the host's cgroup
// paths, which runc's own tests of hybrid hosts rely on.
func ForHost(s *rspec.Spec, unified bool) {
	if unified || s.Linux == nil {
		return
	}
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool {
		return n.Type == rspec.CgroupNamespace
	})
}

// ToRootless turns a spec into one an unprivileged user (uid, gid) can run,
// as `runc spec --rootless` does: a user namespace mapping only the caller
// to root, no new network namespace (nobody could configure it), /sys bound
// from the host (sysfs cannot be mounted without owning a netns), no uid=/gid=
// mount options (those ids are unmapped), no cgroup mount and no cgroup
// limits (an unprivileged user cannot mount or write host cgroups).
func ToRootless(s *rspec.Spec, uid, gid uint32) {
	if s.Linux == nil {
		s.Linux = &rspec.Linux{}
	}
	var nss []rspec.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == rspec.NetworkNamespace || ns.Type == rspec.UserNamespace {
			continue
		}
		nss = append(nss, ns)
	}
	s.Linux.Namespaces = append(nss, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
	s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}

	var mounts []rspec.Mount
	for _, m := range s.Mounts {
		switch {
		case m.Destination == "/sys" || m.Type == "sysfs":
			m = rspec.Mount{Destination: m.Destination, Type: "none", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		case m.Type == "cgroup" || m.Type == "cgroup2":
			continue
		default:
			m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool {
				return strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "uid=")
			})
		}
		mounts = append(mounts, m)
	}
	s.Mounts = mounts
	s.Linux.Resources = nil
}
