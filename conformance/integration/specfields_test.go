//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
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
