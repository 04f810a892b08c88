//go:build integration

package cgroups

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// These tests run on the real host cgroupfs as root (CI runs as root);
// they only touch /myrun-test-cgroups-<pid>/... and remove it.

func needRootCgroups(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("integration tests need root")
	}
	mode := Mode()
	if mode != ModeV1 && mode != ModeHybrid {
		t.Skipf("host cgroup mode %q: these tests cover v1/hybrid hosts", mode)
	}
	return mode
}

func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopChild(cmd) })
	return cmd
}

func stopChild(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
	_ = cmd.Wait()
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// testBase is a unique absolute cgroupsPath parent for this test process.
func testBase() string { return fmt.Sprintf("/myrun-test-cgroups-%d", os.Getpid()) }

func cleanupBase(t *testing.T, base string) {
	t.Cleanup(func() {
		for _, dir := range append(hostHierarchies(), unifiedDir()) {
			_ = os.Remove(filepath.Join(dir, base, "pre"))
			_ = os.Remove(filepath.Join(dir, base))
		}
	})
}

func hostHierarchies() []string {
	var out []string
	for _, d := range v1Mounts() {
		out = append(out, d)
	}
	return out
}

func TestHostLifecycle(t *testing.T) {
	mode := needRootCgroups(t)
	base := testBase()
	cleanupBase(t, base)
	path := base + "/life"
	res := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: ptr(int64(64 << 20)), Swap: ptr(int64(128 << 20))},
		CPU:    &specs.LinuxCPU{Quota: ptr(int64(50000)), Period: ptr(uint64(100000)), Shares: ptr(uint64(512))},
		Pids:   &specs.LinuxPids{Limit: ptr(int64(32))},
	}
	m, err := New(Config{Path: path, Name: "life", Resources: res})
	if err != nil {
		t.Fatal(err)
	}
	if m.Exists() {
		t.Fatal("Exists before Apply")
	}
	child := startSleep(t)
	pid := child.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopChild(child); _ = m.Destroy() })
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	if !m.Exists() {
		t.Fatal("Exists after Apply is false")
	}
	paths := m.Paths()
	mem := paths["memory"]
	if mem != filepath.Join(cgroupRoot, "memory", path) {
		t.Fatalf("memory path %q", mem)
	}
	for file, want := range map[string]string{
		filepath.Join(mem, "memory.limit_in_bytes"):       "67108864",
		filepath.Join(mem, "memory.memsw.limit_in_bytes"): "134217728",
		filepath.Join(paths["pids"], "pids.max"):          "32",
		filepath.Join(paths["cpu"], "cpu.cfs_quota_us"):   "50000",
		filepath.Join(paths["cpu"], "cpu.cfs_period_us"):  "100000",
		filepath.Join(paths["cpu"], "cpu.shares"):         "512",
	} {
		if got := readTrim(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	for s, dir := range paths {
		procs := readTrim(t, filepath.Join(dir, "cgroup.procs"))
		if !slices.Contains(strings.Fields(procs), fmt.Sprint(pid)) {
			t.Errorf("%s: pid %d not in %s/cgroup.procs (%q)", s, pid, dir, procs)
		}
	}
	if mode == ModeHybrid && paths["unified"] != filepath.Join(unifiedDir(), path) {
		t.Errorf("unified path %q", paths["unified"])
	}
	// The device list is deny-all plus the defaults.
	devs := readTrim(t, filepath.Join(paths["devices"], "devices.list"))
	if strings.Contains(devs, "a *:* rwm") || !strings.Contains(devs, "c 1:3 rwm") {
		t.Errorf("devices.list = %q", devs)
	}

	// update: a new memory limit only.
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(96 << 20)), Swap: ptr(int64(128 << 20))}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(mem, "memory.limit_in_bytes")); got != "100663296" {
		t.Errorf("after update memory.limit_in_bytes = %s", got)
	}
	if got := readTrim(t, filepath.Join(paths["devices"], "devices.list")); got != devs {
		t.Errorf("update without devices changed devices.list: %q", got)
	}

	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != StateFrozen {
		t.Fatalf("FreezerState = %q, %v", st, err)
	}
	if got := readTrim(t, filepath.Join(paths["freezer"], "freezer.state")); got != "FROZEN" {
		t.Errorf("freezer.state = %q", got)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, err := m.FreezerState(); err != nil || st != StateThawed {
		t.Fatalf("FreezerState = %q, %v", st, err)
	}

	pids, err := m.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		t.Fatalf("Pids = %v, %v; want %d", pids, err, pid)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current < 1 || st.Pids.Limit != 32 || st.Memory.Usage.Limit != 96<<20 || len(st.CPU.Usage.Percpu) == 0 {
		t.Errorf("Stats = pids %+v memory.usage %+v cpu %+v", st.Pids, st.Memory.Usage, st.CPU.Usage)
	}
	if fd, err := m.CgroupFD(); fd != -1 || err != nil {
		t.Errorf("CgroupFD on %s = %d, %v", mode, fd, err)
	}

	// Busy: Destroy must fail and kill nothing.
	if err := m.Destroy(); err == nil {
		t.Error("Destroy of a populated cgroup succeeded")
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("Destroy killed the process")
	}
	stopChild(child)
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range m.Paths() {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still exists after Destroy", d)
			}
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// A parent that existed before is never removed; a second manager built
// from the same Config finds the same cgroup.
func TestHostKeepsExistingParentAndIsDeterministic(t *testing.T) {
	needRootCgroups(t)
	base := testBase() + "-keep"
	cleanupBase(t, base)
	var pre []string
	for _, dir := range append(hostHierarchies(), unifiedDir()) {
		p := filepath.Join(dir, base)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		pre = append(pre, p)
	}
	cfg := Config{Path: base + "/c1", Name: "c1"}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	m2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !m2.Exists() || fmt.Sprint(m2.Paths()) != fmt.Sprint(m.Paths()) {
		t.Fatalf("second manager: exists=%v paths %v vs %v", m2.Exists(), m2.Paths(), m.Paths())
	}
	if err := m2.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pre {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("pre-existing parent %s removed: %v", p, err)
		}
		if _, err := os.Stat(filepath.Join(p, "c1")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s/c1 not removed", p)
		}
	}
}

func TestHostUnsupportedFieldsAreNamed(t *testing.T) {
	needRootCgroups(t)
	base := testBase() + "-unsup"
	cleanupBase(t, base)
	m, err := New(Config{Path: base + "/u", Name: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	cases := map[string]*specs.LinuxResources{
		"linux.resources.blockIO.leafWeight: not supported by this host (no blkio.leaf_weight)": {
			BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr(uint16(100))}},
	}
	if v1Mounts()["net_cls"] == "" {
		cases["linux.resources.network.classID: not supported by this host (no net_cls cgroup hierarchy)"] =
			&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr(uint32(1))}}
	}
	if Mode() == ModeV1 {
		cases["invalid configuration: linux.resources.unified: cannot use unified on cgroup v1 (no cgroup2 mount on this host)"] =
			&specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}
	}
	for want, r := range cases {
		err := m.Set(r)
		if err == nil || err.Error() != want {
			t.Errorf("Set: got %v, want %q", err, want)
		}
	}
	// blkio weight: this host has BFQ's blkio.bfq.weight in child cgroups.
	if fileIn(m.Paths()["blkio"], "blkio.bfq.weight") || fileIn(m.Paths()["blkio"], "blkio.weight") {
		if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}}); err != nil {
			t.Errorf("blkio weight: %v", err)
		}
	} else if err := m.Set(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}}); err == nil ||
		!strings.HasPrefix(err.Error(), "linux.resources.blockIO.weight: not supported by this host") {
		t.Errorf("blkio weight: %v", err)
	}
}

// On a hybrid host hugetlb lives only on the cgroup2 mount: the limit
// must land in the container's unified dir.
func TestHostHybridHugetlb(t *testing.T) {
	if needRootCgroups(t) != ModeHybrid || !hasV2Controller(unifiedDir(), "hugetlb") || !hasHugePageSize("2MB") {
		t.Skip("needs a hybrid host with hugetlb on cgroup2 and 2MB pages")
	}
	before, _ := os.ReadFile(filepath.Join(unifiedDir(), "cgroup.subtree_control"))
	t.Cleanup(func() {
		if !slices.Contains(strings.Fields(string(before)), "hugetlb") {
			_ = os.WriteFile(filepath.Join(unifiedDir(), "cgroup.subtree_control"), []byte("-hugetlb"), 0)
		}
	})
	base := testBase() + "-huge"
	cleanupBase(t, base)
	res := &specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Unified:        map[string]string{"hugetlb.1GB.max": "0"},
	}
	m, err := New(Config{Path: base + "/h", Name: "h", Resources: res})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	defer m.Destroy()
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	u := m.Paths()["unified"]
	if got := readTrim(t, filepath.Join(u, "hugetlb.2MB.max")); got != "4194304" {
		t.Errorf("hugetlb.2MB.max = %q", got)
	}
	if got := readTrim(t, filepath.Join(u, "hugetlb.1GB.max")); got != "0" {
		t.Errorf("hugetlb.1GB.max = %q", got)
	}
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Hugetlb["2MB"]; !ok {
		t.Errorf("no 2MB hugetlb stats: %+v", st.Hugetlb)
	}
	err = m.Set(&specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "3MB", Limit: 1}}})
	if err == nil || !strings.HasPrefix(err.Error(), "linux.resources.hugepageLimits[0].pageSize: not supported by this host") {
		t.Errorf("bad page size: %v", err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// A relative cgroupsPath goes below our own cgroup in each hierarchy.
func TestHostRelativePath(t *testing.T) {
	needRootCgroups(t)
	own, err := ownCgroups()
	if err != nil {
		t.Fatal(err)
	}
	rel := fmt.Sprintf("myrun-test-cgroups-%d-rel/r", os.Getpid())
	m, err := New(Config{Path: rel, Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	for s, p := range m.Paths() {
		key := s
		if s == "unified" {
			key = ""
		}
		mnt := v1Mounts()[s]
		if s == "unified" {
			mnt = unifiedDir()
		}
		if want := filepath.Join(mnt, own[key], rel); p != want {
			t.Errorf("%s: %s, want %s", s, p, want)
		}
	}
}

// Thread mode on a real cgroup2 (the unified mount of this hybrid host):
// a new cgroup beside a threaded one is "domain invalid" (what the fake
// cgroupfs of the unit tests and cgroup2Dir assume), the container's is
// made threaded and its process goes in; a cgroup2 setting of a domain
// controller there is refused and leaves nothing behind.
func TestHostHybridThreadMode(t *testing.T) {
	if needRootCgroups(t) != ModeHybrid {
		t.Skip("needs a hybrid host (a cgroup2 mount beside v1)")
	}
	base := testBase() + "-thr"
	tp := filepath.Join(unifiedDir(), base, "tp")
	if err := os.MkdirAll(filepath.Join(tp, "th"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{"tp/probe", "tp/th", "tp", ""} {
			_ = os.Remove(filepath.Join(unifiedDir(), base, d))
		}
	})
	if err := os.WriteFile(filepath.Join(tp, "th/cgroup.type"), []byte("threaded"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tp, "probe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(tp, "probe/cgroup.type")); got != "domain invalid" {
		t.Fatalf("new cgroup beside a threaded one: cgroup.type %q", got)
	}
	m, err := New(Config{Path: base + "/tp/c", Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := startSleep(t)
	t.Cleanup(func() { stopChild(cmd); _ = m.Destroy() }) // also after a failed Apply
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(tp, "c/cgroup.type")); got != "threaded" {
		t.Errorf("container cgroup.type %q, want threaded", got)
	}
	if own := readTrim(t, fmt.Sprintf("/proc/%d/cgroup", cmd.Process.Pid)); !strings.Contains(own, "0::"+base+"/tp/c") {
		t.Errorf("process not in the threaded cgroup: %s", own)
	}
	m2, err := New(Config{Path: base + "/tp/d", Name: "d", Resources: &specs.LinuxResources{Unified: map[string]string{"hugetlb.2MB.max": "0"}}})
	if err != nil {
		t.Fatal(err)
	}
	err = m2.Apply(-1)
	if err == nil || !strings.Contains(err.Error(), `linux.resources.unified["hugetlb.2MB.max"]: not supported by this host (`+tp+` is a "domain threaded" cgroup`) {
		t.Errorf("hugetlb in a thread subtree: %v", err)
	}
	for _, d := range append(hostHierarchies(), unifiedDir()) {
		if _, err := os.Stat(filepath.Join(d, base, "tp/d")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after a failed Apply", filepath.Join(d, base, "tp/d"))
		}
	}
}

// RemoveIfEmpty on the host's cgroupfs: with a process in the cgroup it
// fails with EBUSY, kills nothing and leaves every directory; once the
// process is gone one call removes every hierarchy's directory, a nested
// sub-cgroup made below one, and the parent we created.
func TestHostRemoveIfEmpty(t *testing.T) {
	needRootCgroups(t)
	base := testBase() + "-quick"
	cleanupBase(t, base)
	m, err := New(Config{Path: base + "/q", Name: "q"})
	if err != nil {
		t.Fatal(err)
	}
	child := startSleep(t)
	if err := m.Apply(child.Process.Pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopChild(child); _ = m.Destroy() })
	if err := os.MkdirAll(filepath.Join(m.Paths()["pids"], "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveIfEmpty(); !errors.Is(err, syscall.EBUSY) {
		t.Fatalf("populated cgroup: %v, want EBUSY", err)
	}
	if syscall.Kill(child.Process.Pid, 0) != nil {
		t.Fatal("RemoveIfEmpty killed the process")
	}
	for s, dir := range m.Paths() {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s: %v after a failed RemoveIfEmpty", s, err)
		}
	}
	stopChild(child)
	if err := m.RemoveIfEmpty(); err != nil {
		t.Fatalf("empty cgroup: %v", err)
	}
	for s, dir := range m.Paths() {
		for _, d := range []string{dir, filepath.Dir(dir)} {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s still exists", s, d)
			}
		}
	}
}
