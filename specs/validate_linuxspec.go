package specs

import (
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// hasNamespace reports whether the spec lists namespace t (new or joined).
func hasNamespace(l *rspec.Linux, t rspec.LinuxNamespaceType) bool {
	if l == nil {
		return false
	}
	for _, ns := range l.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// hasNewNamespace reports whether the spec asks for a new namespace t.
func hasNewNamespace(l *rspec.Linux, t rspec.LinuxNamespaceType) bool {
	return hasNamespace(l, t) && namespacePath(l, t) == ""
}

func namespacePath(l *rspec.Linux, t rspec.LinuxNamespaceType) string {
	for _, ns := range l.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

func checkLinux(p *problems, s *rspec.Spec) {
	checkLSM(p, s)
	checkSpecFields(p, s)
	l := s.Linux
	if s.Hostname != "" && !hasNamespace(l, rspec.UTSNamespace) {
		p.add("hostname", "cannot be set without a private UTS namespace (add a uts entry to linux.namespaces)")
	}
	if s.Domainname != "" && !hasNamespace(l, rspec.UTSNamespace) {
		p.add("domainname", "cannot be set without a private UTS namespace (add a uts entry to linux.namespaces)")
	}
	if l == nil {
		return
	}
	if l.Personality != nil && l.Personality.Domain != rspec.PerLinux && l.Personality.Domain != rspec.PerLinux32 {
		p.add("linux.personality.domain", "unknown domain %q (LINUX or LINUX32)", l.Personality.Domain)
	}
	checkNamespaces(p, l)
	checkIDMappings(p, l)
	checkSysctls(p, l)
	checkDevices(p, l.Devices)
	for i, m := range l.MaskedPaths {
		if !filepath.IsAbs(m) {
			p.add(idx("linux.maskedPaths", i), "must be an absolute path, got %q", m)
		}
	}
	for i, m := range l.ReadonlyPaths {
		if !filepath.IsAbs(m) {
			p.add(idx("linux.readonlyPaths", i), "must be an absolute path, got %q", m)
		}
	}
	switch l.RootfsPropagation {
	case "", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable":
	default:
		p.add("linux.rootfsPropagation", "unknown propagation %q", l.RootfsPropagation)
	}
	if len(l.TimeOffsets) > 0 && !hasNewNamespace(l, rspec.TimeNamespace) {
		if path := namespacePath(l, rspec.TimeNamespace); path != "" {
			// An existing namespace's clocks are fixed once a process is in it.
			p.add("linux.timeOffsets", "require a new time namespace; the time namespace is joined (%s), whose offsets cannot change", path)
		} else {
			p.add("linux.timeOffsets", "require a new time namespace")
		}
	}
	for k := range l.TimeOffsets {
		if k != "boottime" && k != "monotonic" {
			p.add("linux.timeOffsets."+k, "unknown clock (boottime or monotonic)")
		}
	}
	if l.Resources != nil {
		checkDeviceRules(p, l.Resources.Devices)
	}
}

func checkNamespaces(p *problems, l *rspec.Linux) {
	seen := map[rspec.LinuxNamespaceType]bool{}
	for i, ns := range l.Namespaces {
		f := idx("linux.namespaces", i)
		if _, ok := NamespaceFlags[ns.Type]; !ok {
			p.add(f+".type", "unknown namespace type %q", ns.Type)
			continue
		}
		if seen[ns.Type] {
			p.add(f+".type", "duplicate namespace %q", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path == "" {
			continue
		}
		if !filepath.IsAbs(ns.Path) {
			p.add(f+".path", "must be an absolute path, got %q", ns.Path)
			continue
		}
		if err := CheckNamespacePath(ns.Path, ns.Type); err != nil {
			p.add(f+".path", "%v", err)
		}
	}
}

func checkIDMappings(p *problems, l *rspec.Linux) {
	haveMaps := len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0
	switch {
	case hasNewNamespace(l, rspec.UserNamespace):
		if len(l.UIDMappings) == 0 {
			p.add("linux.uidMappings", "required when a new user namespace is created")
		}
		if len(l.GIDMappings) == 0 {
			p.add("linux.gidMappings", "required when a new user namespace is created")
		}
	case haveMaps && !hasNamespace(l, rspec.UserNamespace):
		p.add("linux.uidMappings", "id mappings are set but linux.namespaces has no user namespace")
	}
	for i, m := range l.UIDMappings {
		if m.Size == 0 {
			p.add(idx("linux.uidMappings", i)+".size", "must be greater than zero")
		}
	}
	for i, m := range l.GIDMappings {
		if m.Size == 0 {
			p.add(idx("linux.gidMappings", i)+".size", "must be greater than zero")
		}
	}
}

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace.
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// checkSysctls allows only namespaced sysctls, and only when the container
// has its own copy of that namespace, so a config cannot change the host.
func checkSysctls(p *problems, l *rspec.Linux) {
	for k := range l.Sysctl {
		f := "linux.sysctl." + k
		switch {
		case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
			if !hasNamespace(l, rspec.IPCNamespace) {
				p.add(f, "requires an ipc namespace")
			}
		case strings.HasPrefix(k, "net."):
			if !hasNamespace(l, rspec.NetworkNamespace) {
				p.add(f, "requires a network namespace")
			} else if path := namespacePath(l, rspec.NetworkNamespace); path != "" && sameFile(path, "/proc/self/ns/net") {
				p.add(f, "not allowed in the runtime's own network namespace (%s)", path)
			}
		case k == "kernel.domainname":
			if !hasNamespace(l, rspec.UTSNamespace) {
				p.add(f, "requires a uts namespace")
			}
		case k == "kernel.hostname":
			p.add(f, "not allowed: use the hostname field")
		default:
			p.add(f, "not a namespaced sysctl: it would change the host")
		}
	}
}

func checkDevices(p *problems, devs []rspec.LinuxDevice) {
	seen := map[string]bool{}
	for i, d := range devs {
		f := idx("linux.devices", i)
		switch d.Type {
		case "c", "b", "u", "p":
		default:
			p.add(f+".type", "must be c, b, u or p, got %q", d.Type)
		}
		if !filepath.IsAbs(d.Path) {
			p.add(f+".path", "must be an absolute path, got %q", d.Path)
		} else if seen[filepath.Clean(d.Path)] {
			p.add(f+".path", "duplicate device %q", d.Path)
		}
		seen[filepath.Clean(d.Path)] = true
	}
}

func checkDeviceRules(p *problems, rules []rspec.LinuxDeviceCgroup) {
	for i, r := range rules {
		f := idx("linux.resources.devices", i)
		switch r.Type {
		case "", "a", "b", "c":
		default:
			p.add(f+".type", "must be a, b or c, got %q", r.Type)
		}
		if strings.Trim(r.Access, "rwm") != "" {
			p.add(f+".access", "may only contain r, w and m, got %q", r.Access)
		}
	}
}
