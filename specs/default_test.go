package specs

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDefaultValidates(t *testing.T) {
	b := newBundle(t)
	if err := Validate(Default(), b); err != nil {
		t.Fatal(err)
	}
	if err := WriteSpec(filepath.Join(b, ConfigFile), Default(), false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadBundle(b); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultRoundTrip(t *testing.T) {
	data, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Fatalf("round trip changed the spec:\n%s", data)
	}
}

func TestDefaultIndependentCopies(t *testing.T) {
	a := Default()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Destination = "/x"
	if b := Default(); b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Mounts[0].Destination != "/proc" {
		t.Fatal("Default shares state between calls")
	}
}

func TestDefaultContent(t *testing.T) {
	s := Default()
	if s.Version != rspec.Version || !s.Process.Terminal || !s.Process.NoNewPrivileges ||
		!reflect.DeepEqual(s.Process.Args, []string{"sh"}) {
		t.Fatalf("process: %+v", s.Process)
	}
	c := s.Process.Capabilities
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Error("default must not have inheritable or ambient capabilities")
	}
	if !reflect.DeepEqual(c.Bounding, defaultCaps) || !reflect.DeepEqual(c.Effective, defaultCaps) || !reflect.DeepEqual(c.Permitted, defaultCaps) {
		t.Errorf("caps %+v", c)
	}
	var ns []string
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, string(n.Type))
	}
	if want := []string{"pid", "network", "ipc", "uts", "mount", "cgroup"}; !reflect.DeepEqual(ns, want) {
		t.Errorf("namespaces %v, want %v", ns, want)
	}
}

// runc spec lists the cgroup namespace only on a cgroup v2 host.
func TestForHostCgroupNamespace(t *testing.T) {
	has := func(s *rspec.Spec) bool {
		return slices.ContainsFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool { return n.Type == rspec.CgroupNamespace })
	}
	s := Default()
	ForHost(s, true)
	if !has(s) {
		t.Error("unified host: cgroup namespace missing")
	}
	s = Default()
	ForHost(s, false)
	if has(s) || len(s.Linux.Namespaces) != 5 {
		t.Errorf("v1/hybrid host: namespaces %v", s.Linux.Namespaces)
	}
}

func TestToRootless(t *testing.T) {
	s := Default()
	ToRootless(s, 1234, 5678)
	b := newBundle(t)
	if err := Validate(s, b); err != nil {
		t.Fatal(err)
	}
	l := s.Linux
	if !hasNewNamespace(l, rspec.UserNamespace) || hasNamespace(l, rspec.NetworkNamespace) {
		t.Errorf("namespaces %+v", l.Namespaces)
	}
	if !reflect.DeepEqual(l.UIDMappings, []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 1234, Size: 1}}) ||
		!reflect.DeepEqual(l.GIDMappings, []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 5678, Size: 1}}) {
		t.Errorf("mappings %+v %+v", l.UIDMappings, l.GIDMappings)
	}
	if l.Resources != nil {
		t.Error("resources kept")
	}
	for _, m := range s.Mounts {
		switch {
		case m.Type == "cgroup" || m.Type == "sysfs":
			t.Errorf("mount %+v kept", m)
		case m.Destination == "/sys":
			if m.Source != "/sys" || !reflect.DeepEqual(m.Options, []string{"rbind", "nosuid", "noexec", "nodev", "ro"}) {
				t.Errorf("/sys %+v", m)
			}
		}
		for _, o := range m.Options {
			if strings.HasPrefix(o, "gid=") || strings.HasPrefix(o, "uid=") {
				t.Errorf("%s keeps %s", m.Destination, o)
			}
		}
	}
	// Idempotent: a second call leaves one user namespace.
	ToRootless(s, 1234, 5678)
	if err := Validate(s, b); err != nil {
		t.Fatal(err)
	}
	// The default spec itself is untouched.
	if slices.ContainsFunc(Default().Mounts, func(m rspec.Mount) bool { return m.Source == "/sys" }) {
		t.Error("ToRootless changed Default")
	}
}

// runcSpec runs `runc spec [args]` in a temp dir and decodes the result.
func runcSpec(t *testing.T, args ...string) *rspec.Spec {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Skip("runc not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command(runc, append([]string{"spec"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withoutNS drops the cgroup namespace we add on top of runc 1.1's list.
func withoutNS(nss []rspec.LinuxNamespace, t rspec.LinuxNamespaceType) []rspec.LinuxNamespace {
	return slices.DeleteFunc(slices.Clone(nss), func(n rspec.LinuxNamespace) bool { return n.Type == t })
}

func TestDefaultMatchesRunc(t *testing.T) {
	r := runcSpec(t)
	s := Default()
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs from runc:\n got  %+v\n want %+v", what, got, want)
		}
	}
	check("mounts", s.Mounts, r.Mounts)
	check("maskedPaths", s.Linux.MaskedPaths, r.Linux.MaskedPaths)
	check("readonlyPaths", s.Linux.ReadonlyPaths, r.Linux.ReadonlyPaths)
	// runc >= 1.2 adds the cgroup namespace; 1.1 lacks it.
	check("namespaces", withoutNS(s.Linux.Namespaces, rspec.CgroupNamespace), withoutNS(r.Linux.Namespaces, rspec.CgroupNamespace))
	check("resources", s.Linux.Resources, r.Linux.Resources)
	// runc 1.1 also lists ambient (dropped by later runc); the other sets match.
	check("bounding", s.Process.Capabilities.Bounding, r.Process.Capabilities.Bounding)
	check("effective", s.Process.Capabilities.Effective, r.Process.Capabilities.Effective)
	check("permitted", s.Process.Capabilities.Permitted, r.Process.Capabilities.Permitted)
	check("inheritable", s.Process.Capabilities.Inheritable, r.Process.Capabilities.Inheritable)
	check("args", s.Process.Args, r.Process.Args)
	check("env", s.Process.Env, r.Process.Env)
	check("cwd", s.Process.Cwd, r.Process.Cwd)
	check("user", s.Process.User, r.Process.User)
	check("rlimits", s.Process.Rlimits, r.Process.Rlimits)
	check("terminal", s.Process.Terminal, r.Process.Terminal)
	check("noNewPrivileges", s.Process.NoNewPrivileges, r.Process.NoNewPrivileges)
	check("root", s.Root, r.Root)
}

func TestRootlessMatchesRunc(t *testing.T) {
	r := runcSpec(t, "--rootless")
	s := Default()
	ToRootless(s, uint32(os.Geteuid()), uint32(os.Getegid()))
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s differs from runc:\n got  %+v\n want %+v", what, got, want)
		}
	}
	// We drop the cgroup mount that runc keeps; everything else matches.
	rm := slices.DeleteFunc(slices.Clone(r.Mounts), func(m rspec.Mount) bool { return m.Type == "cgroup" })
	check("mounts", s.Mounts, rm)
	check("namespaces", withoutNS(s.Linux.Namespaces, rspec.CgroupNamespace), withoutNS(r.Linux.Namespaces, rspec.CgroupNamespace))
	check("uidMappings", s.Linux.UIDMappings, r.Linux.UIDMappings)
	check("gidMappings", s.Linux.GIDMappings, r.Linux.GIDMappings)
	check("resources", s.Linux.Resources, r.Linux.Resources)
}
