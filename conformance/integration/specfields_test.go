//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// numaPolicy is the policy field of the first line of numa_maps (the
// task policy, for a mapping without its own).
func numaPolicy(t *testing.T, out string) string {
	t.Helper()
	f := strings.Fields(out)
	if len(f) < 2 {
		t.Fatalf("numa_maps: %q", out)
	}
	// "weighted interleave:0", "prefer (many):0" hold a space.
	if f[1] == "weighted" || (f[1] == "prefer" && len(f) > 2 && strings.HasPrefix(f[2], "(many)")) {
		return f[1] + " " + f[2]
	}
	return f[1]
}

// linux.memoryPolicy reaches the container's process and exec'd ones, in
// every mode and flag of the spec (this host has NUMA node 0 only).
func TestMemoryPolicy(t *testing.T) {
	flag := func(f rspec.MemoryPolicyFlagType) []rspec.MemoryPolicyFlagType {
		return []rspec.MemoryPolicyFlagType{f}
	}
	cases := []struct {
		mp   rspec.LinuxMemoryPolicy
		want string
	}{
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolDefault}, "default"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0"}, "bind:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: flag(rspec.MpolFStaticNodes)}, "bind=static:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: flag(rspec.MpolFRelativeNodes)}, "bind=relative:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: flag(rspec.MpolFNumaBalancing)}, "bind=balancing:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolInterleave, Nodes: "0"}, "interleave:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolWeightedInterleave, Nodes: "0"}, "weighted interleave:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferred, Nodes: "0"}, "prefer:0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolPreferredMany, Nodes: "0"}, "prefer (many):0"},
		{rspec.LinuxMemoryPolicy{Mode: rspec.MpolLocal}, "local"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			mp := c.mp
			b := newBundle(t, []string{"head", "-1", "/proc/self/numa_maps"}, func(s *rspec.Spec) { s.Linux.MemoryPolicy = &mp })
			if got := numaPolicy(t, b.mustRun()); got != c.want {
				t.Errorf("init: policy %q, want %q", got, c.want)
			}
		})
	}
	// An exec'd process gets it too (it goes through Go init).
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolInterleave, Nodes: "0", Flags: flag(rspec.MpolFStaticNodes)}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	out, errs, code := b.myrun("exec", b.id, "head", "-1", "/proc/self/numa_maps")
	if code != 0 || numaPolicy(t, out) != "interleave=static:0" {
		t.Errorf("exec: %d %q %s", code, out, errs)
	}
}

// Bad memory policies, netDevices and intelRdt fail create naming the
// field and leave nothing behind.
func TestSpecFieldsBadInput(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *rspec.Spec)
		want   string
	}{
		{"unknown mode", func(s *rspec.Spec) { s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: "MPOL_FOO"} }, "linux.memoryPolicy.mode"},
		{"unknown flag", func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: []rspec.MemoryPolicyFlagType{"MPOL_F_FOO"}}
		}, "linux.memoryPolicy.flags[0]"},
		{"node out of range", func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0-63"}
		}, "linux.memoryPolicy.nodes"},
		{"bad node list", func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "1-0"}
		}, "linux.memoryPolicy.nodes"},
		{"nodes missing", func(s *rspec.Spec) { s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolInterleave} }, "linux.memoryPolicy.nodes"},
		{"nodes with local", func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolLocal, Nodes: "0"}
		}, "linux.memoryPolicy.nodes"},
		{"static and relative", func(s *rspec.Spec) {
			s.Linux.MemoryPolicy = &rspec.LinuxMemoryPolicy{Mode: rspec.MpolBind, Nodes: "0", Flags: []rspec.MemoryPolicyFlagType{rspec.MpolFStaticNodes, rspec.MpolFRelativeNodes}}
		}, "linux.memoryPolicy.flags"},
		{"bad initial CPU list", func(s *rspec.Spec) { s.Process.ExecCPUAffinity = &rspec.CPUAffinity{Initial: "3-1", Final: "0"} }, "process.execCPUAffinity.initial"},
		{"personality flags", func(s *rspec.Spec) {
			s.Linux.Personality = &rspec.LinuxPersonality{Domain: rspec.PerLinux, Flags: []rspec.LinuxPersonalityFlag{"UNAME26"}}
		}, "linux.personality.flags"},
		{"windows section", func(s *rspec.Spec) { s.Windows = &rspec.Windows{} }, "windows"},
		{"commandLine", func(s *rspec.Spec) { s.Process.CommandLine = "sh" }, "process.commandLine"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, c.mutate)
			_, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
			if code == 0 || !strings.Contains(errs, c.want+":") {
				t.Fatalf("run: exit %d, error %q does not name %s", code, errs, c.want)
			}
			b.assertNothingLeft()
		})
	}
}

// cpusAllowed reads Cpus_allowed_list of pid.
func cpusAllowed(t *testing.T, pid string) string {
	t.Helper()
	st, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in %s", st)
	return ""
}

// grepAffinity reads the mask from grep's Cpus_allowed_list line.
func grepAffinity(t *testing.T, out string) string {
	t.Helper()
	v, ok := strings.CutPrefix(strings.TrimSpace(out), "Cpus_allowed_list:")
	if !ok {
		t.Fatalf("output %q", out)
	}
	return strings.TrimSpace(v)
}

// The container's processes start with the CPUs of the container's cpuset
// cgroup, not the caller's affinity (`taskset -c 0 myrun run` used to pin
// the container to CPU 0; runc 1.5 resets it). Side by side: the same
// commands without taskset give the same masks.
func TestCPUAffinityNotInherited(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs to tell a pinned mask from the cgroup's")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Fatal("taskset (util-linux) is required")
	}
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	cmd := exec.Command("taskset", "-c", "0", myrun, "--root", b.root, "run", "-d", "--bundle", b.dir, b.id)
	if _, errs, code := runCmd(t, time.Minute, cmd); code != 0 {
		t.Fatalf("taskset run -d: %s", errs)
	}
	raw, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuset", cgroupParent, b.id, "cpuset.cpus"))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(raw))
	if want == "0" {
		t.Fatalf("the container's cpuset is %q: cannot tell it from the caller's", want)
	}
	pid := fmt.Sprint(b.state()["pid"].(float64))
	if got := cpusAllowed(t, pid); got != want {
		t.Errorf("init under taskset -c 0: Cpus_allowed_list %q, want the cgroup's %q", got, want)
	}
	// An I/O priority sends exec through Go init instead of the
	// constructor's fast path: both paths are checked.
	goInit := b.processFile("goinit.json", rspec.Process{Args: []string{"grep", "Cpus_allowed_list", "/proc/self/status"}, Cwd: "/",
		Env: []string{"PATH=/bin"}, IOPriority: &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 4}})
	for _, args := range [][]string{
		{"exec", b.id, "grep", "Cpus_allowed_list", "/proc/self/status"},
		{"exec", "-p", goInit, b.id},
	} {
		cmd := exec.Command("taskset", append([]string{"-c", "0", myrun, "--root", b.root}, args...)...)
		out, errs, code := runCmd(t, time.Minute, cmd)
		if code != 0 {
			t.Fatalf("taskset %v: %s", args, errs)
		}
		if got := grepAffinity(t, out); got != want {
			t.Errorf("taskset -c 0 myrun %v: %q, want the cgroup's %q", args, got, want)
		}
		// Without taskset: the same mask.
		out, errs, code = b.myrun(args...)
		if code != 0 || grepAffinity(t, out) != want {
			t.Errorf("myrun %v: %d %q %s, want %q", args, code, out, errs, want)
		}
	}
}

// process.execCPUAffinity.initial applies before the process joins the
// container's cgroup, final after: with a container cpuset of CPU 0, an
// initial mask of CPU 1 is replaced by the kernel with the cgroup's CPUs
// when the process joins (it used to be set after joining, and failed);
// with both set, final wins and initial is still checked.
func TestExecCPUAffinityInitial(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs")
	}
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Resources = &rspec.LinuxResources{CPU: &rspec.LinuxCPU{Cpus: "0"}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	exe := func(a *rspec.CPUAffinity) (string, string, int) {
		p := rspec.Process{Args: []string{"grep", "Cpus_allowed_list", "/proc/self/status"}, Cwd: "/", Env: []string{"PATH=/bin"}, ExecCPUAffinity: a}
		return b.myrun("exec", "-p", b.processFile("aff.json", p), b.id)
	}
	out, errs, code := exe(&rspec.CPUAffinity{Initial: "1"})
	if code != 0 || grepAffinity(t, out) != "0" {
		t.Errorf("initial 1 in a cpuset of 0: %d %q %s, want the cgroup's 0", code, out, errs)
	}
	// A CPU this host lacks as initial fails, even with a final.
	_, errs, code = exe(&rspec.CPUAffinity{Initial: "1000", Final: "0"})
	if code == 0 || !strings.Contains(errs, "process.execCPUAffinity.initial") {
		t.Errorf("initial CPU 1000: %d %s", code, errs)
	}
	out, errs, code = exe(&rspec.CPUAffinity{Initial: "1", Final: "0"})
	if code != 0 || grepAffinity(t, out) != "0" {
		t.Errorf("initial 1 final 0: %d %q %s", code, out, errs)
	}
}

// linux.intelRdt needs resctrl: this host has none, so create fails
// naming the field (config-linux.md: the runtime MUST generate an error)
// and leaves nothing; update's --l3-cache-schema and --mem-bw-schema
// exist and refuse a container without intelRdt by name. (The resctrl
// writes themselves are unit-tested over a fake tree in
// libcontainer/resctrl.)
func TestIntelRdt(t *testing.T) {
	if _, err := os.Stat("/sys/fs/resctrl/schemata"); err == nil {
		t.Fatal("this host has resctrl mounted: this test expects the refusal of hosts without it")
	}
	for _, rdt := range []*rspec.LinuxIntelRdt{
		{ClosID: "gold"},
		{L3CacheSchema: "L3:0=f", MemBwSchema: "MB:0=50", EnableMonitoring: true},
		{Schemata: []string{"L2:0=f"}},
	} {
		b := newBundle(t, []string{"true"}, func(s *rspec.Spec) { s.Linux.IntelRdt = rdt })
		_, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
		if code == 0 || !strings.Contains(errs, "linux.intelRdt: resctrl is not mounted") {
			t.Errorf("intelRdt %+v on a host without resctrl: exit %d, %q", rdt, code, errs)
		}
		b.assertNothingLeft()
	}
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	for _, flag := range []string{"--l3-cache-schema=L3:0=f", "--mem-bw-schema=MB:0=50"} {
		_, errs, code := b.myrun("update", flag, b.id)
		if code == 0 || !strings.Contains(errs, "linux.intelRdt") {
			t.Errorf("update %s without intelRdt: exit %d, %q", flag, code, errs)
		}
	}
}

// hostLink reports whether the host has a link named name.
func hostLink(name string) bool {
	return exec.Command("ip", "link", "show", "dev", name).Run() == nil
}

// addLink runs `ip link add` and removes the link (wherever it is left on
// the host) at cleanup.
func addLink(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", append([]string{"link", "add", name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		if hostLink(name) {
			exec.Command("ip", "link", "del", name).Run()
		}
	})
}

func ipAddr(t *testing.T, dev, addr string) {
	t.Helper()
	if out, err := exec.Command("ip", "addr", "add", addr, "dev", dev).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
}

// softLink is a standalone virtual link for the test: a dummy where the
// kernel has it, else an ifb (this host's kernel has no dummy driver).
func softLink(t *testing.T, name string) {
	t.Helper()
	if err := exec.Command("ip", "link", "add", name, "type", "dummy").Run(); err == nil {
		t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
		return
	}
	addLink(t, name, "type", "ifb")
}

// linux.netDevices: host links move into the container's new network
// namespace, renamed as asked, with their permanent global addresses
// (IPv4 and IPv6), and up; they leave the host. On delete the namespace
// goes and, per the spec, the runtime does not move them out first: the
// kernel destroys virtual links with it (a veth takes its host peer along).
func TestNetDevices(t *testing.T) {
	p := os.Getpid() % 100000
	soft, va, vb := fmt.Sprintf("mrts%d", p), fmt.Sprintf("mrtv%da", p), fmt.Sprintf("mrtv%db", p)
	softLink(t, soft)
	ipAddr(t, soft, "10.81.0.1/24")
	ipAddr(t, soft, "fd81::1/64")
	addLink(t, va, "type", "veth", "peer", "name", vb)
	ipAddr(t, va, "10.82.0.1/24")
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{soft: {Name: "ctr7"}, va: {}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	out, errs, code := b.myrun("exec", b.id, "ip", "addr")
	if code != 0 {
		t.Fatalf("exec ip addr: %s", errs)
	}
	for _, want := range []string{"ctr7: <", "inet 10.81.0.1/24", "inet6 fd81::1/64", va + "@", "inet 10.82.0.1/24"} {
		if !strings.Contains(out, want) {
			t.Errorf("container's ip addr lacks %q:\n%s", want, out)
		}
	}
	for _, dev := range []string{"ctr7", va} {
		if o, _, _ := b.myrun("exec", b.id, "ip", "link", "show", dev); !strings.Contains(o, ",UP") {
			t.Errorf("%s not up in the container: %s", dev, o)
		}
	}
	if hostLink(soft) || hostLink(va) {
		t.Error("a moved link is still on the host")
	}
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	// The kernel dismantles a network namespace in a work queue after its
	// last reference goes, so the peer disappears a moment after delete.
	gone := false
	for i := 0; i < 100 && !gone; i++ {
		if gone = !hostLink(vb); !gone {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !gone {
		t.Errorf("veth peer %s outlived the container's namespace by 5 s", vb)
	}
}

// Bad netDevices fail create naming the field, and no device is lost: a
// move that fails half-way brings back those already moved.
func TestNetDevicesBadInput(t *testing.T) {
	p := os.Getpid() % 100000
	va, vb, br := fmt.Sprintf("mrta%da", p), fmt.Sprintf("mrta%db", p), fmt.Sprintf("mrtz%d", p)
	addLink(t, va, "type", "veth", "peer", "name", vb)
	ipAddr(t, va, "10.83.0.1/24")
	// A bridge cannot leave its namespace (the kernel refuses): sorted
	// after the veth, it fails once the veth is in the container.
	addLink(t, br, "type", "bridge")
	cases := []struct {
		name   string
		mutate func(s *rspec.Spec)
		want   string
	}{
		{"no network namespace", func(s *rspec.Spec) {
			var ns []rspec.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != rspec.NetworkNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{va: {}}
		}, "linux.netDevices: requires a new network namespace"},
		{"missing device", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{"mrt-nope0": {}}
		}, "linux.netDevices.mrt-nope0: no such network device"},
		{"name clash with lo", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{va: {Name: "lo"}}
		}, "linux.netDevices." + va + ".name"},
		{"two devices one name", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{va: {Name: "eth0"}, vb: {Name: "eth0"}}
		}, "is also the name of linux.netDevices."},
		{"bad name", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{va: {Name: "a/b"}}
		}, "linux.netDevices." + va + ".name"},
		{"fails half-way", func(s *rspec.Spec) {
			s.Linux.NetDevices = map[string]rspec.LinuxNetDevice{va: {Name: "ctr0"}, br: {}}
		}, "linux.netDevices." + br},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, c.mutate)
			_, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
			if code == 0 || !strings.Contains(errs, c.want) {
				t.Fatalf("run: exit %d, error %q does not name %s", code, errs, c.want)
			}
			b.assertNothingLeft()
			for _, dev := range []string{va, vb, br} {
				if !hostLink(dev) {
					t.Fatalf("%s is no longer on the host", dev)
				}
			}
			if out, _ := exec.Command("ip", "addr", "show", "dev", va).Output(); !strings.Contains(string(out), "10.83.0.1/24") {
				t.Errorf("%s came back without its address: %s", va, out)
			}
		})
	}
}

// `myrun features` reports the fields above as implemented, the memory
// policy modes and flags it applies, and runc's list of potentially
// unsafe config annotations.
func TestFeaturesSpecFields(t *testing.T) {
	out, errs, code := runWithTimeout(t, time.Minute, "features")
	if code != 0 {
		t.Fatalf("features: %s", errs)
	}
	var f features.Features
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	l := f.Linux
	if l == nil || l.IntelRdt == nil || l.IntelRdt.Enabled == nil || !*l.IntelRdt.Enabled ||
		l.IntelRdt.Schemata == nil || !*l.IntelRdt.Schemata || l.IntelRdt.Monitoring == nil || !*l.IntelRdt.Monitoring {
		t.Errorf("intelRdt: %s", out)
	}
	if l == nil || l.NetDevices == nil || l.NetDevices.Enabled == nil || !*l.NetDevices.Enabled {
		t.Errorf("netDevices: %s", out)
	}
	modes := []string{"MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"}
	flags := []string{"MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"}
	if l == nil || l.MemoryPolicy == nil || !slices.Equal(l.MemoryPolicy.Modes, modes) || !slices.Equal(l.MemoryPolicy.Flags, flags) {
		t.Errorf("memoryPolicy: %s", out)
	}
	if want := []string{"bundle", "org.systemd.property.", "org.criu.config"}; !slices.Equal(f.PotentiallyUnsafeConfigAnnotations, want) {
		t.Errorf("potentiallyUnsafeConfigAnnotations %v, want %v", f.PotentiallyUnsafeConfigAnnotations, want)
	}
}
