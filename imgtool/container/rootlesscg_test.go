package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/specs"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeUserManager makes a cgroup2 tree with uid's user manager cgroup
// delegating controllers, and the user bus socket path.
func fakeUserManager(t *testing.T, uid int, controllers string) {
	t.Helper()
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	mgr := filepath.Join(root, "user.slice", fmt.Sprintf("user-%d.slice", uid), fmt.Sprintf("user@%d.service", uid))
	os.MkdirAll(mgr, 0o755)
	os.WriteFile(filepath.Join(mgr, "cgroup.controllers"), []byte(controllers+"\n"), 0o644)
	old := cgroupFS
	cgroupFS = root
	t.Cleanup(func() { cgroupFS = old })
	rd := t.TempDir()
	os.WriteFile(filepath.Join(rd, "bus"), nil, 0o644)
	t.Setenv("XDG_RUNTIME_DIR", rd)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
}

func TestRootlessLimitsThroughUserManager(t *testing.T) {
	fakeUserManager(t, os.Getuid(), "cpu memory pids")
	o := &Options{Image: "img", Args: []string{"sh"}, Memory: "64m", CPUs: "0.5", PidsLimit: 20, Net: network.ModeNone, Runtime: "/bin/true"}
	p, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{ID: strings.Repeat("2", 64), Hostname: "h", Rootless: true, Network: network.Attachment{Mode: network.ModeNone}}
	if err := rootlessCgroup(r, o, p); err != nil {
		t.Fatal(err)
	}
	if want := "user.slice:myimg:" + r.ID; r.SystemdCgroup != want {
		t.Fatalf("SystemdCgroup %q, want %q", r.SystemdCgroup, want)
	}
	s := specs.Default()
	specs.ToRootless(s, uint32(os.Getuid()), uint32(os.Getgid())) // as unpack writes it rootless
	if err := applyOptions(s, r, o, p, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	res := s.Linux.Resources
	if s.Linux.CgroupsPath != r.SystemdCgroup || res == nil || *res.Memory.Limit != 64<<20 || *res.CPU.Quota != 50000 || *res.Pids.Limit != 20 {
		t.Fatalf("cgroupsPath %q resources %+v", s.Linux.CgroupsPath, res)
	}
	// Its scope at /sys/fs/cgroup (a cgroup mount after the host's /sys),
	// not the host's root cgroup through the /sys bind.
	if dests := mountDests(s); !strings.HasSuffix(dests, " /sys /sys/fs/cgroup /etc/resolv.conf /etc/hosts /etc/hostname") ||
		s.Mounts[len(s.Mounts)-4].Type != "cgroup" {
		t.Errorf("rootless scope container mounts %s", dests)
	}
	// -v at or below /sys/fs/cgroup: kept, on top of the cgroup mount
	// (the first was deleted, the second mounted under it).
	host := t.TempDir()
	ov := &Options{Image: "img", Args: []string{"sh"}, Memory: "64m", Net: network.ModeNone, Runtime: "/bin/true",
		Volumes: []string{host + ":/sys/fs/cgroup", host + ":/sys/fs/cgroup/x"}}
	pv, err := ov.validate()
	if err != nil {
		t.Fatal(err)
	}
	sv := specs.Default()
	specs.ToRootless(sv, uint32(os.Getuid()), uint32(os.Getgid()))
	if err := applyOptions(sv, r, ov, pv, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if dests := mountDests(sv); !strings.Contains(dests, " /sys /sys/fs/cgroup /sys/fs/cgroup /sys/fs/cgroup/x /etc/resolv.conf") {
		t.Errorf("rootless scope container with -v on /sys/fs/cgroup: mounts %s", dests)
	}
	// Without a scope (no limits) the rootless spec stays as it was.
	s2 := specs.Default()
	specs.ToRootless(s2, uint32(os.Getuid()), uint32(os.Getgid()))
	r3 := &Record{ID: r.ID, Hostname: "h", Rootless: true, Network: network.Attachment{Mode: network.ModeNone}}
	o3 := &Options{Image: "img", Args: []string{"sh"}, Net: network.ModeNone, Runtime: "/bin/true"}
	p3, err := o3.validate()
	if err != nil {
		t.Fatal(err)
	}
	if err := applyOptions(s2, r3, o3, p3, t.TempDir()); err != nil || strings.Contains(mountDests(s2), "/sys/fs/cgroup") {
		t.Errorf("rootless without a scope: mounts %s (%v)", mountDests(s2), err)
	}
	cs := &Manager{Root: t.TempDir()}
	if args := strings.Join(cs.runtime(r).Command("state", r.ID).Args, " "); !strings.Contains(args, " --systemd-cgroup state ") {
		t.Errorf("runtime call %q: no --systemd-cgroup", args)
	}
	// A root container or one without limits: no systemd scope.
	r2 := &Record{ID: r.ID, Rootless: true}
	if err := rootlessCgroup(r2, &Options{}, &parsed{}); err != nil || r2.SystemdCgroup != "" {
		t.Errorf("no limits: %q %v", r2.SystemdCgroup, err)
	}
	if args := strings.Join(cs.runtime(r2).Command("state", r.ID).Args, " "); strings.Contains(args, "--systemd-cgroup") {
		t.Errorf("runtime call %q of a container without a scope", args)
	}
}

func TestRootlessLimitsRefusedWithoutDelegation(t *testing.T) {
	fakeUserManager(t, os.Getuid(), "memory")
	o := &Options{Image: "img", Args: []string{"sh"}, Memory: "64m", PidsLimit: 20, Net: network.ModeNone, Runtime: "/bin/true"}
	p, err := o.validate()
	if err != nil {
		t.Fatal(err)
	}
	r := &Record{ID: strings.Repeat("3", 64), Rootless: true}
	err = rootlessCgroup(r, o, p)
	if err == nil || !strings.Contains(err.Error(), "no pids controller") {
		t.Fatalf("pids not delegated: %v", err)
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	o.PidsLimit = 0
	if err := rootlessCgroup(r, o, p); err == nil || !strings.Contains(err.Error(), "bus") {
		t.Fatalf("no user bus: %v", err)
	}
	cgroupFS = t.TempDir()
	if err := rootlessCgroup(r, o, p); err == nil || !strings.Contains(err.Error(), "cgroup v2") {
		t.Fatalf("v1 host: %v", err)
	}
	// applyOptions refuses limits of a rootless container without a scope.
	r.SystemdCgroup = ""
	if err := applyOptions(specs.Default(), r, o, p, t.TempDir()); err == nil {
		t.Fatal("rootless limits without a scope accepted")
	}
}

func mountDests(s *rspec.Spec) string {
	var d []string
	for _, m := range s.Mounts {
		d = append(d, m.Destination)
	}
	return strings.Join(d, " ")
}
