package cgroups

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const allV2 = "cpuset cpu io memory hugetlb pids rdma misc"

func TestV2ApplySetDestroy(t *testing.T) {
	h := newFakeV2(t, allV2, "/user.slice/session-1.scope")
	var devRules []string
	lib.DevicesSetV2 = func(dir string, r *lib.Resources) error {
		for _, d := range r.Devices {
			devRules = append(devRules, d.CgroupString())
		}
		return nil
	}
	res := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory: &specs.LinuxMemory{Limit: ptr(int64(256 << 20)), Reservation: ptr(int64(128 << 20)),
			Swap: ptr(int64(512 << 20))},
		CPU: &specs.LinuxCPU{Shares: ptr(uint64(1024)), Quota: ptr(int64(20000)), Period: ptr(uint64(100000)),
			Burst: ptr(uint64(1000)), Cpus: "0-1", Mems: "0", Idle: ptr(int64(0))},
		Pids: &specs.LinuxPids{Limit: ptr(int64(100))},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(500)),
			ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 300}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Unified:        map[string]string{"memory.high": "300000000"},
	}
	if !hasHugePageSize("2MB") {
		res.HugepageLimits = nil
	}
	m, err := New(Config{Path: "/a/b", Name: "b", Resources: res,
		Devices: []specs.LinuxDevice{{Type: "c", Major: 10, Minor: 200}}})
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(cgroupRoot, "a/b")
	if got := m.Paths()[""]; got != leaf {
		t.Fatalf("Paths = %v", m.Paths())
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	all := "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"
	h.expect(map[string]string{
		filepath.Join(cgroupRoot, "cgroup.subtree_control"):   all,
		filepath.Join(cgroupRoot, "a/cgroup.subtree_control"): all,
		filepath.Join(leaf, "cgroup.subtree_control"):         "", // the leaf holds the processes
		filepath.Join(leaf, "cgroup.procs"):                   "4242",
	})
	wantDev := "a *:* rwm" // deny all first, then the defaults; linux.devices add nothing
	if len(devRules) < 3 || devRules[0] != wantDev || strings.Contains(strings.Join(devRules, ","), "c 10:200") ||
		!strings.Contains(strings.Join(devRules, ","), "c 1:3 rwm") {
		t.Errorf("device rules %v", devRules)
	}
	for _, d := range []string{filepath.Join(cgroupRoot, "a"), leaf} {
		if ours, _ := marked(d); !ours {
			t.Errorf("%s not marked as created by us", d)
		}
	}
	if err := m.Set(res); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"memory.max":      "268435456",
		"memory.low":      "134217728",
		"memory.swap.max": "268435456", // v1 swap is memory+swap
		"memory.high":     "300000000",
		"cpu.weight":      "100", // shares 1024 with the crun formula
		"cpu.max":         "20000 100000",
		"cpu.max.burst":   "1000",
		"cpu.idle":        "0",
		"cpuset.cpus":     "0-1",
		"cpuset.mems":     "0",
		"pids.max":        "100",
		"io.weight":       "4950",           // blkio 500 -> 1 + (500-10)*9999/990
		"io.max":          "8:16 wiops=300", // the fake keeps only the last write
		"hugetlb.2MB.max": "4194304",
	}
	if res.HugepageLimits == nil {
		delete(want, "hugetlb.2MB.max")
	}
	files := map[string]string{}
	for f, v := range want {
		files[filepath.Join(leaf, f)] = v
	}
	h.expect(files)

	// Freeze/Thaw through cgroup.freeze (the fake kernel reports frozen).
	h.write(filepath.Join(leaf, "cgroup.events"), "populated 1\nfrozen 1\n")
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.FreezerState(); st != StateFrozen || h.read(filepath.Join(leaf, "cgroup.freeze")) != "1\n" {
		t.Errorf("after Freeze: state %q, cgroup.freeze %q", st, h.read(filepath.Join(leaf, "cgroup.freeze")))
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.FreezerState(); st != StateThawed {
		t.Errorf("after Thaw: %q", st)
	}

	h.write(filepath.Join(leaf, "cgroup.procs"), "4242\n4243\n")
	h.write(filepath.Join(leaf, "pids.current"), "2\n")
	h.write(filepath.Join(leaf, "pids.max"), "100\n")
	if pids, err := m.Pids(); err != nil || len(pids) != 2 {
		t.Errorf("Pids = %v, %v", pids, err)
	}
	if st, err := m.Stats(); err != nil || st.Pids.Current != 2 || st.Pids.Limit != 100 {
		t.Errorf("Stats pids = %+v, %v", st, err)
	}
	fd, err := m.CgroupFD()
	if err != nil || fd < 0 {
		t.Fatalf("CgroupFD = %d, %v", fd, err)
	}
	unix.Close(fd)

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if !isNotExist(filepath.Join(cgroupRoot, "a")) {
		t.Error("/a (created by us) not removed")
	}
	if isNotExist(cgroupRoot) {
		t.Error("root removed")
	}
	if m.Exists() {
		t.Error("Exists after Destroy")
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("Destroy of a gone cgroup: %v", err)
	}
}

func TestV2SharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 100, 262144: 10000} {
		res := &lib.Resources{CpuShares: shares}
		toV2(res)
		if res.CpuWeight != want {
			t.Errorf("shares %d -> weight %d, want %d", shares, res.CpuWeight, want)
		}
	}
}

func TestV2PathResolution(t *testing.T) {
	newFakeV2(t, allV2, "/user.slice/session-1.scope")
	for _, c := range []struct{ path, name, want string }{
		{"/a/b", "x", "a/b"},
		{"/a/../../b", "x", "b"},                // cannot climb above the root
		{"rel/c", "x", "user.slice/rel/c"},      // next to our own cgroup
		{"../../../etc", "x", "user.slice/etc"}, // relative cannot climb either
		{"", "ctr", "user.slice/ctr"},           // runc: empty = the id, relative
	} {
		m, err := New(Config{Path: c.path, Name: c.name})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Paths()[""]; got != filepath.Join(cgroupRoot, c.want) {
			t.Errorf("Path %q: %s, want %s", c.path, got, c.want)
		}
	}
}

func TestV2UnsupportedFields(t *testing.T) {
	h := newFakeV2(t, "cpu memory pids", "/")
	m, err := New(Config{Path: "/u", Name: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	_ = h
	for want, r := range map[string]*specs.LinuxResources{
		"linux.resources.cpu.realtimeRuntime: not supported by this host (cgroup v2 has no realtime CPU controller)": {
			CPU: &specs.LinuxCPU{RealtimeRuntime: ptr(int64(1))}},
		"linux.resources.network.classID: not supported by this host (cgroup v2 has no net_cls controller)": {
			Network: &specs.LinuxNetwork{ClassID: ptr(uint32(1))}},
		"linux.resources.blockIO.leafWeight: not supported by this host (cgroup v2 has no leaf weight)": {
			BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr(uint16(10))}},
		`linux.resources.blockIO: not supported by this host (controller "io" not available in ` + filepath.Join(cgroupRoot, "u") + `/cgroup.controllers)`: {
			BlockIO: &specs.LinuxBlockIO{Weight: ptr(uint16(10))}},
		"linux.resources.memory.swappiness: 101 is out of range 0-100": {
			Memory: &specs.LinuxMemory{Swappiness: ptr(uint64(101))}},
		`linux.resources.devices[0]: type: unknown device type "x"`: {
			Devices: []specs.LinuxDeviceCgroup{{Type: "x"}}},
	} {
		if err := m.Set(r); err == nil || err.Error() != want {
			t.Errorf("got %v\nwant %s", err, want)
		}
	}
}

func TestV2RootlessNeverWritesParents(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	// /deleg is delegated to us (we are its owner: euid), untouched so far.
	deleg := filepath.Join(cgroupRoot, "deleg")
	if err := h.mkdir(deleg, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Path: "/deleg/c/d", Name: "d", Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*v2Manager); !ok {
		t.Fatalf("delegated subtree: got %T", m)
	}
	if err := m.Apply(7); err != nil {
		t.Fatal(err)
	}
	h.expect(map[string]string{
		filepath.Join(cgroupRoot, "cgroup.subtree_control"): "",
		filepath.Join(deleg, "cgroup.subtree_control"):      "",
		filepath.Join(deleg, "c/cgroup.subtree_control"):    "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc",
		filepath.Join(deleg, "c/d/cgroup.procs"):            "7",
	})
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if isNotExist(deleg) || !isNotExist(filepath.Join(deleg, "c")) {
		t.Error("Destroy must remove c (ours) and keep deleg")
	}

	// Not delegated: owned by someone else -> run without a cgroup.
	other := filepath.Join(cgroupRoot, "other")
	if err := h.mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 54321, 54321); err != nil {
		t.Fatal(err)
	}
	m, err = New(Config{Path: "/other/x", Name: "x", Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*skipManager); !ok {
		t.Fatalf("not delegated: got %T", m)
	}
	if err := m.Apply(7); err != nil {
		t.Fatal(err)
	}
	if !isNotExist(filepath.Join(other, "x")) {
		t.Error("created a cgroup in a subtree not delegated to us")
	}
	if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr(int64(5))}}); err == nil {
		t.Error("limits without a cgroup must fail")
	}
	if err := m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false}}}); err != nil {
		t.Errorf("device rules only: %v", err)
	}
}

// The mode comes from the library's probes; the v1 mounts we use are
// those directly below the cgroup root, co-mounted ones sharing a dir.
func TestModeDetection(t *testing.T) {
	fakeProbes(t, false, false, nil)
	cgroupRoot = "/sys/fs/cgroup"
	if got := Mode(); got != "" {
		t.Errorf("nothing mounted: %q", got)
	}
	mounts := []lib.Mount{
		{Mountpoint: "/run/elsewhere/memory", Subsystems: []string{"memory"}}, // a bind mount, not ours
		{Mountpoint: "/sys/fs/cgroup/cpu,cpuacct", Subsystems: []string{"cpu", "cpuacct"}},
		{Mountpoint: "/sys/fs/cgroup/memory", Subsystems: []string{"memory"}},
		{Mountpoint: "/sys/fs/cgroup/devices", Subsystems: []string{"devices"}},
		{Mountpoint: "/sys/fs/cgroup/systemd", Subsystems: []string{"systemd"}}, // name=systemd: not ours
	}
	cgroupMounts = func(bool) ([]lib.Mount, error) { return mounts, nil }
	if got := Mode(); got != ModeV1 {
		t.Errorf("v1: %q", got)
	}
	want := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"memory": "/sys/fs/cgroup/memory", "devices": "/sys/fs/cgroup/devices"}
	if got := v1Mounts(); !maps.Equal(got, want) {
		t.Errorf("v1 mounts %v, want %v", got, want)
	}
	isHybrid = func() bool { return true }
	if got := Mode(); got != ModeHybrid {
		t.Errorf("hybrid: %q", got)
	}
	isUnified = func() bool { return true }
	if got := Mode(); got != ModeV2 {
		t.Errorf("v2: %q", got)
	}
}

// A runtime killed between mkdir and marking leaves unmarked directories:
// Destroy alone refuses them, Claim with the recorded Missing list
// returns them, and a path outside the cgroup root is never claimed.
func TestClaimAfterCrashBeforeMarker(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	m, err := New(Config{Path: "/a/b", Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	missing := m.Missing()
	want := []string{filepath.Join(cgroupRoot, "a"), filepath.Join(cgroupRoot, "a/b")}
	if strings.Join(missing, ",") != strings.Join(want, ",") {
		t.Fatalf("Missing = %v, want %v", missing, want)
	}
	for _, d := range missing { // the crash: dirs made, no marker
		if err := h.mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want[1]); err != nil {
		t.Fatalf("Destroy removed an unmarked cgroup: %v", err)
	}
	outside := t.TempDir()
	Claim(append(missing, outside, cgroupRoot))
	if ours, _ := marked(outside); ours {
		t.Fatal("Claim marked a directory outside the cgroup root")
	}
	if ours, _ := marked(cgroupRoot); ours {
		t.Fatal("Claim marked the cgroup root")
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range want {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left after Claim + Destroy", d)
		}
	}
	if len(m.Missing()) != 2 {
		t.Errorf("Missing after Destroy = %v", m.Missing())
	}
}

// The delete of a sibling removes the parent we found, between our stat
// and our mkdir: Apply starts again and succeeds.
func TestApplyRacesParentRemoval(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	parent := filepath.Join(cgroupRoot, "shared")
	if err := h.mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Path: "/shared/c1", Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	mk := mkdirFn
	mkdirFn = func(p string, mode os.FileMode) error {
		if !removed && filepath.Dir(p) == parent {
			removed = true
			os.RemoveAll(parent) // the sibling's delete wins the race
		}
		return mk(p, mode)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatalf("Apply after the parent vanished: %v", err)
	}
	if !removed {
		t.Fatal("the race was not exercised")
	}
	if _, err := os.Stat(filepath.Join(parent, "c1")); err != nil {
		t.Fatal(err)
	}
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// Join (exec) only enters the cgroup: no device filter, no limits.
func TestV2JoinOnlyEnters(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	m, err := New(Config{Path: "/j/c", Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	lib.DevicesSetV2 = func(string, *lib.Resources) error {
		t.Fatal("Join rewrote the device filter")
		return nil
	}
	if err := m.Join(4343); err != nil {
		t.Fatal(err)
	}
	h.expect(map[string]string{filepath.Join(cgroupRoot, "j/c/cgroup.procs"): "4343"})
	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
}
