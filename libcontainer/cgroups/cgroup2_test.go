package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// threadedParent makes /tp a threaded subtree's root ("domain threaded")
// with a threaded child /tp/th, as after `echo threaded > tp/th/cgroup.type`.
func threadedParent(t *testing.T, h *fakeHost) (tp, th string) {
	t.Helper()
	tp, th = filepath.Join(cgroupRoot, "tp"), filepath.Join(cgroupRoot, "tp/th")
	for _, d := range []string{tp, th} {
		if err := h.mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.write(filepath.Join(tp, "cgroup.type"), "domain threaded\n")
	h.write(filepath.Join(th, "cgroup.type"), "threaded\n")
	return tp, th
}

// A new cgroup beside a threaded one is "domain invalid": with only
// threaded controllers asked for it is made threaded, as the library's
// fs2.CreateCgroupPath does, and the process goes in.
func TestV2DomainInvalidBecomesThreaded(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	threadedParent(t, h)
	m, err := New(Config{Path: "/tp/c", Name: "c", Resources: &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(10))}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(cgroupRoot, "tp/c")
	h.expect(map[string]string{
		filepath.Join(leaf, "cgroup.type"):  "threaded",
		filepath.Join(leaf, "cgroup.procs"): "4242",
	})
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !isNotExist(leaf) {
		t.Error("leaf left after Destroy")
	}
	// One that existed before is made threaded too (we are root here).
	pre := filepath.Join(cgroupRoot, "tp/pre")
	if err := h.mkdir(pre, 0o755); err != nil {
		t.Fatal(err)
	}
	if m, err = New(Config{Path: "/tp/pre", Name: "pre"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	h.expect(map[string]string{filepath.Join(pre, "cgroup.type"): "threaded"})
}

// Domain controllers have no place in a thread subtree: Apply fails
// naming the field and the cgroup, before the process goes in, and
// leaves nothing it created. Existing parents are not touched.
func TestV2ThreadSubtreeRefusesDomainControllers(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	tp, th := threadedParent(t, h)
	// The first level in thread mode is the subtree's root, /tp.
	for _, c := range []struct {
		path, made, field string // made: the top directory Apply creates
		res               *specs.LinuxResources
	}{
		{"/tp/c", "tp/c", "memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 30))}}},
		{"/tp/th/c/d", "tp/th/c", "blockIO", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(100))}}},
		{"/tp/th", "", "cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr(uint64(512))}}},
		{"/tp", "", `unified["memory.high"]`, &specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}}},
	} {
		m, err := New(Config{Path: c.path, Name: "c", Resources: c.res})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Apply(4242)
		want := "linux.resources." + c.field + ": not supported by this host (" + tp + ` is a "domain threaded" cgroup`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Apply = %v, want %s", c.path, err, want)
		}
		if c.made != "" && !isNotExist(filepath.Join(cgroupRoot, c.made)) {
			t.Errorf("%s left after a failed Apply", c.made)
		}
	}
	h.expect(map[string]string{
		filepath.Join(tp, "cgroup.type"):  "domain threaded\n",
		filepath.Join(th, "cgroup.type"):  "threaded\n",
		filepath.Join(th, "cgroup.procs"): "",
	})
}

// Rootless writes no cgroup.type it was not given: a domain invalid
// parent that is not ours stays so (the kernel then refuses the
// process); the directory we made below it is made threaded.
func TestV2RootlessThreadedOnlyOwnDirs(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	tp, _ := threadedParent(t, h)
	inv := filepath.Join(tp, "inv")
	if err := h.mkdir(inv, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Path: "/tp/inv/c", Name: "c", Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	h.expect(map[string]string{
		filepath.Join(inv, "cgroup.type"):   "domain invalid\n",
		filepath.Join(inv, "c/cgroup.type"): "threaded",
	})
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// Hybrid hosts: the cgroup2 side (hugetlb, the unified map) is checked
// the same way; what v1 serves (memory here) does not count.
func TestHybridUnifiedThreadMode(t *testing.T) {
	root := t.TempDir()
	mounts := []lib.Mount{}
	for _, s := range []string{"memory", "devices"} {
		mounts = append(mounts, lib.Mount{Mountpoint: filepath.Join(root, s), Subsystems: []string{s}})
	}
	fakeProbes(t, false, true, mounts)
	cgroupRoot = root
	h := &fakeHost{t: t, root: root, ctrls: "hugetlb"}
	oldMk, oldTM := mkdirFn, lib.TestMode
	t.Cleanup(func() { mkdirFn, lib.TestMode = oldMk, oldTM })
	mkdirFn, lib.TestMode = h.mkdir, true
	for _, d := range []string{"memory", "devices", "unified"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.kernelFiles(filepath.Join(root, "unified"))
	tp := filepath.Join(root, "unified/tp")
	if err := h.mkdir(tp, 0o755); err != nil {
		t.Fatal(err)
	}
	h.write(filepath.Join(tp, "cgroup.type"), "threaded\n")
	m, err := New(Config{Path: "/tp/c", Name: "c", Resources: &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(1 << 30))}, Unified: map[string]string{"hugetlb.2MB.max": "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := m.(*v1Manager)
	res, err := toLib(v1.cfg.Resources, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v1.unifiedSide(res).create()
	if err == nil || !strings.Contains(err.Error(), `linux.resources.unified["hugetlb.2MB.max"]: not supported`) {
		t.Errorf("hugetlb in a threaded cgroup2 dir: %v", err)
	}
	v1.cfg.Resources.Unified = nil
	res, _ = toLib(v1.cfg.Resources, nil, false)
	if _, err := v1.unifiedSide(res).create(); err != nil {
		t.Fatalf("memory goes to v1, not cgroup2: %v", err)
	}
	h.expect(map[string]string{filepath.Join(tp, "c/cgroup.type"): "threaded"})
}
