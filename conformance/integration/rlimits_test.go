//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// rlimitUID owns no process on the machine: RLIMIT_NPROC counts the
// processes of the user, and another test's uid 1000 would count too.
const rlimitUID = 64123

// tightRlimits leave init no room: 5 fds (the workload's cat opens one,
// with fd 3 preserved by exec), one process (Go init has several threads,
// and the kernel refuses execve after a setresuid that found the user
// over its NPROC), a 16 MiB address space and data segment.
var tightRlimits = []rspec.POSIXRlimit{
	{Type: "RLIMIT_NOFILE", Soft: 5, Hard: 5},
	{Type: "RLIMIT_NPROC", Soft: 1, Hard: 1},
	{Type: "RLIMIT_AS", Soft: 16 << 20, Hard: 16 << 20},
	{Type: "RLIMIT_DATA", Soft: 16 << 20, Hard: 16 << 20},
}

// runtimeToolsRlimits are the ones of runtime-tools' process_rlimits,
// whose 1 GiB soft RLIMIT_AS made Go init fail to grow its heap now and
// then ("fatal error: runtime: cannot allocate memory" in setresuid).
var runtimeToolsRlimits = []rspec.POSIXRlimit{
	{Type: "RLIMIT_AS", Hard: 2 << 30, Soft: 1 << 30},
	{Type: "RLIMIT_CORE", Hard: 4 << 30, Soft: 3 << 30},
	{Type: "RLIMIT_DATA", Hard: 6 << 30, Soft: 5 << 30},
	{Type: "RLIMIT_FSIZE", Hard: 8 << 30, Soft: 7 << 30},
	{Type: "RLIMIT_STACK", Hard: 10 << 30, Soft: 9 << 30},
	{Type: "RLIMIT_CPU", Hard: 120, Soft: 60},
	{Type: "RLIMIT_NOFILE", Hard: 4000, Soft: 3000},
}

// limitsLines are the /proc/self/limits lines the process must show.
func limitsLines(limits []rspec.POSIXRlimit) []string {
	names := map[string]string{"RLIMIT_NOFILE": "Max open files", "RLIMIT_NPROC": "Max processes",
		"RLIMIT_AS": "Max address space", "RLIMIT_DATA": "Max data size", "RLIMIT_CORE": "Max core file size",
		"RLIMIT_FSIZE": "Max file size", "RLIMIT_STACK": "Max stack size", "RLIMIT_CPU": "Max cpu time"}
	var out []string
	for _, l := range limits {
		out = append(out, fmt.Sprintf("%-26s%-21d%-21d", names[l.Type], l.Soft, l.Hard))
	}
	return out
}

func checkLimits(t *testing.T, what, out string, limits []rspec.POSIXRlimit) {
	t.Helper()
	for _, w := range limitsLines(limits) {
		if !strings.Contains(out, w) {
			t.Errorf("%s: %q missing from:\n%s", what, w, out)
		}
	}
}

// process.rlimits take effect at execve: limits that would stop init
// itself (no fd for its own /proc handles, no thread, no heap to grow)
// still give a workload that starts and sees exactly them, as a
// container's init (with and without a filter, which must then allow
// prlimit64) and exec'd through either applier. Before, `run` failed
// with "open /proc/self/fd: ... too many open files", and with NOFILE
// alone "exec /bin/cat: resource temporarily unavailable" (NPROC).
func TestRlimitsAtExec(t *testing.T) {
	for _, c := range []struct {
		name    string
		limits  []rspec.POSIXRlimit
		seccomp bool
	}{
		{"tight", tightRlimits, false},
		{"tight under a filter", tightRlimits, true},
		{"runtime-tools", runtimeToolsRlimits, false},
	} {
		b := newBundle(t, []string{"cat", "/proc/self/limits"}, func(s *rspec.Spec) {
			s.Process.User = rspec.User{UID: rlimitUID, GID: rlimitUID}
			s.Process.Rlimits = c.limits
			if c.seccomp {
				s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
					Syscalls: []rspec.LinuxSyscall{{Names: []string{"mknod", "mknodat"}, Action: rspec.ActErrno}}}
			}
		})
		out, errs, code := b.run()
		if code != 0 {
			t.Errorf("%s: run exited %d: %s%s", c.name, code, out, errs)
			continue
		}
		checkLimits(t, c.name+": run", out, c.limits)
	}
	b := runningBundle(t)
	p := *b.spec.Process
	p.Args = []string{"cat", "/proc/self/limits"}
	p.User = rspec.User{UID: rlimitUID, GID: rlimitUID}
	p.Rlimits = tightRlimits
	cons, goInit := execBoth(t, b, "tight", p)
	for what, r := range map[string]result{"exec (constructor)": cons, "exec (go init)": goInit} {
		if r.code != 0 {
			t.Errorf("%s: %v", what, r)
			continue
		}
		checkLimits(t, what, r.out, tightRlimits)
	}
}

// A limit that cannot be set is an error naming its entry, before the
// process starts, on every path: a hard RLIMIT_NOFILE above fs.nr_open
// is refused even with CAP_SYS_RESOURCE.
func TestRlimitsErrorNamesEntry(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Fatal(err)
	}
	var nrOpen uint64
	fmt.Sscan(string(raw), &nrOpen)
	limits := []rspec.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}, {Type: "RLIMIT_NOFILE", Soft: 10, Hard: nrOpen + 1}}
	want := fmt.Sprintf("process.rlimits[1] (RLIMIT_NOFILE 10:%d): operation not permitted", nrOpen+1)
	b := newBundle(t, []string{"echo", "started"}, func(s *rspec.Spec) { s.Process.Rlimits = limits })
	if out, errs, code := b.run(); code == 0 || strings.Contains(out, "started") || !strings.Contains(errs, want) {
		t.Errorf("run: %d %q %s, want %q", code, out, errs, want)
	}
	r := runningBundle(t)
	p := *r.spec.Process
	p.Args = []string{"echo", "started"}
	p.Rlimits = limits
	cons, goInit := execBoth(t, r, "bad", p)
	for what, res := range map[string]result{"exec (constructor)": cons, "exec (go init)": goInit} {
		if res.code == 0 || strings.Contains(res.out, "started") || !strings.Contains(res.err, want) {
			t.Errorf("%s: %v, want %q", what, res, want)
		}
	}
}
