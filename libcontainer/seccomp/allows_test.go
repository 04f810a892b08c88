package seccomp

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Allows agrees with the kernel: each profile is loaded in a child that
// then calls prlimit64(0, resource, NULL, NULL) (a no-op when allowed).
func TestAllowsMatchesKernel(t *testing.T) {
	nofile := func(act specs.LinuxSeccompAction) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"prlimit64"}, Action: act,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.RLIMIT_NOFILE, Op: specs.OpEqualTo}}}
	}
	var without []string
	for _, n := range commonSyscalls {
		if n != "prlimit64" {
			without = append(without, n)
		}
	}
	for _, c := range []struct {
		name string
		cfg  *specs.LinuxSeccomp
		want map[int]bool // resource -> allowed
	}{
		{"default allow", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}},
			map[int]bool{unix.RLIMIT_NOFILE: true, unix.RLIMIT_AS: true}},
		{"prlimit64 denied", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"setrlimit", "prlimit64"}, Action: specs.ActErrno}}},
			map[int]bool{unix.RLIMIT_NOFILE: false, unix.RLIMIT_AS: false}},
		{"denied for NOFILE only", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{nofile(specs.ActErrno)}},
			map[int]bool{unix.RLIMIT_NOFILE: false, unix.RLIMIT_AS: true}},
		{"allow list with prlimit64", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			allow(commonSyscalls...)}},
			map[int]bool{unix.RLIMIT_NOFILE: true, unix.RLIMIT_AS: true}},
		{"allow list without it", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			allow(without...)}},
			map[int]bool{unix.RLIMIT_NOFILE: false}},
		{"allowed for NOFILE only", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			allow(without...), nofile(specs.ActAllow)}},
			map[int]bool{unix.RLIMIT_NOFILE: true, unix.RLIMIT_AS: false}},
		{"logged", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"prlimit64"}, Action: specs.ActLog}}},
			map[int]bool{unix.RLIMIT_NOFILE: true}},
	} {
		f, err := Build(c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var probes []probe
		var res []int
		for r := range c.want {
			probes = append(probes, probe{Nr: unix.SYS_PRLIMIT64, Args: [3]uintptr{0, uintptr(r), 0}})
			res = append(res, r)
		}
		got := runChild(t, c.cfg, probes).lines()
		if len(got) != len(res) {
			t.Fatalf("%s: child printed %q", c.name, got)
		}
		for i, r := range res {
			kernel := got[i] == "ok"
			if kernel != c.want[r] {
				t.Errorf("%s: resource %d: kernel says %s, the test wants allowed=%v", c.name, r, got[i], c.want[r])
			}
			if a := f.Allows(unix.SYS_PRLIMIT64, [6]uint64{0, uint64(r)}); a != kernel {
				t.Errorf("%s: resource %d: Allows = %v, kernel %s", c.name, r, a, got[i])
			}
		}
	}
}

// A program it cannot follow is taken as denying.
func TestAllowsUnknownIsDenied(t *testing.T) {
	ret := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}
	for name, prog := range map[string][]unix.SockFilter{
		"unknown opcode":    {{Code: unix.BPF_ALU | unix.BPF_NEG}, ret},
		"load out of range": {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 64}, ret},
		"falls off the end": {{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}},
		"jumps past it":     {{Code: unix.BPF_JMP | unix.BPF_JA, K: 5}, ret},
	} {
		if (&Filter{prog: prog}).Allows(unix.SYS_PRLIMIT64, [6]uint64{}) {
			t.Errorf("%s: allowed", name)
		}
	}
	if !(&Filter{prog: []unix.SockFilter{ret}}).Allows(unix.SYS_PRLIMIT64, [6]uint64{}) || !(*Filter)(nil).Allows(0, [6]uint64{}) {
		t.Error("an allow-all program (or none) is not allowed")
	}
}
