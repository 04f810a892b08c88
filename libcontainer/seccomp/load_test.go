package seccomp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const busybox = "/bin/busybox"

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox not installed")
	}
}

func mkdirRule(action specs.LinuxSeccompAction, errno *uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: action, ErrnoRet: errno}
}

func TestLoadAllowDefault(t *testing.T) {
	needBusybox(t)
	r := runChild(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, nil, busybox, "true")
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("busybox true under ALLOW: status %v, stderr %q", r.status, r.stderr)
	}
}

func TestLoadErrno(t *testing.T) {
	needBusybox(t)
	for _, tc := range []struct {
		name  string
		errno *uint
		want  string
	}{
		{"default EPERM", nil, "Operation not permitted"},
		{"errnoRet ENOSPC", uintp(uint(unix.ENOSPC)), "No space left on device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{mkdirRule(specs.ActErrno, tc.errno)}}
			r := runChild(t, cfg, nil, busybox, "mkdir", dir)
			if !r.status.Exited() || r.status.ExitStatus() == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("mkdir: status %v, stderr %q; want failure with %q", r.status, r.stderr, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatal("directory was created despite the filter")
			}
		})
	}
}

// commonSyscalls is an allow-list large enough for the Go runtime to reach
// execve and for busybox to run, without mkdir.
var commonSyscalls = []string{
	"access", "arch_prctl", "brk", "clock_gettime", "clock_nanosleep", "clone", "clone3",
	"close", "close_range", "dup", "dup2", "dup3", "epoll_create1", "epoll_ctl", "epoll_pwait",
	"epoll_wait", "execve", "exit", "exit_group", "faccessat", "faccessat2", "fcntl", "fstat",
	"futex", "getcwd", "getdents64", "getegid", "geteuid", "getgid", "getpgrp", "getpid",
	"getppid", "getrandom", "getrlimit", "gettid", "getuid", "ioctl", "lseek", "madvise",
	"mmap", "mprotect", "munmap", "nanosleep", "newfstatat", "open", "openat", "pipe2", "poll",
	"prctl", "pread64", "prlimit64", "read", "readlink", "readlinkat", "rseq", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "sched_yield", "set_robust_list",
	"set_tid_address", "sigaltstack", "stat", "statx", "tgkill", "uname", "wait4", "write",
	"writev", "lstat", "fstatfs", "statfs", "umask", "getpgid", "mremap",
}

func TestLoadDefaultErrnoRet(t *testing.T) {
	needBusybox(t)
	dir := filepath.Join(t.TempDir(), "d")
	cfg := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uintp(uint(unix.EROFS)),
		Syscalls:        []specs.LinuxSyscall{{Names: commonSyscalls, Action: specs.ActAllow}},
	}
	r := runChild(t, cfg, nil, busybox, "mkdir", dir)
	if !r.status.Exited() || r.status.ExitStatus() == 0 || !strings.Contains(r.stderr, "Read-only file system") {
		t.Fatalf("mkdir under allow-list: status %v, stderr %q; want EROFS", r.status, r.stderr)
	}
	// The same allow-list lets an ordinary command through.
	r = runChild(t, cfg, nil, busybox, "echo", "hello")
	if !r.status.Exited() || r.status.ExitStatus() != 0 || r.stdout != "hello\n" {
		t.Fatalf("echo under allow-list: status %v, out %q, err %q", r.status, r.stdout, r.stderr)
	}
}

func TestLoadKillActions(t *testing.T) {
	needBusybox(t)
	for _, act := range []specs.LinuxSeccompAction{specs.ActKillProcess, specs.ActKill, specs.ActKillThread, specs.ActTrap} {
		t.Run(string(act), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{mkdirRule(act, nil)}}
			r := runChild(t, cfg, nil, busybox, "mkdir", dir)
			if !r.status.Signaled() || r.status.Signal() != syscall.SIGSYS {
				t.Fatalf("want death by SIGSYS, got status %v (stderr %q)", r.status, r.stderr)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Fatal("directory was created")
			}
		})
	}
}

func TestLoadLog(t *testing.T) {
	needBusybox(t)
	dir := filepath.Join(t.TempDir(), "d")
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls:      []specs.LinuxSyscall{mkdirRule(specs.ActLog, nil)},
	}
	r := runChild(t, cfg, nil, busybox, "mkdir", dir)
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("mkdir under LOG: status %v, stderr %q", r.status, r.stderr)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("LOG must allow the syscall: %v", err)
	}
}

const ebadmsg = uint(unix.EBADMSG)

// getpgidProbes calls getpgid(v) for each v; an unmatched call gives ESRCH
// (no such pid), a matched one EBADMSG from the filter.
func getpgidProbes(vals ...uintptr) []probe {
	ps := make([]probe, len(vals))
	for i, v := range vals {
		ps[i] = probe{Nr: unix.SYS_GETPGID, Args: [3]uintptr{v}}
	}
	return ps
}

func argRule(args ...specs.LinuxSeccompArg) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: uintp(ebadmsg), Args: args},
	}}
}

func TestLoadArgOperators(t *testing.T) {
	const hit, miss = "74", "3" // EBADMSG, ESRCH
	vals := []uintptr{0x7ffff0, 0x7ffff1, 0x7ffff2}
	for _, tc := range []struct {
		arg  specs.LinuxSeccompArg
		want []string
	}{
		{specs.LinuxSeccompArg{Op: specs.OpEqualTo, Value: 0x7ffff1}, []string{miss, hit, miss}},
		{specs.LinuxSeccompArg{Op: specs.OpNotEqual, Value: 0x7ffff1}, []string{hit, miss, hit}},
		{specs.LinuxSeccompArg{Op: specs.OpLessThan, Value: 0x7ffff1}, []string{hit, miss, miss}},
		{specs.LinuxSeccompArg{Op: specs.OpLessEqual, Value: 0x7ffff1}, []string{hit, hit, miss}},
		{specs.LinuxSeccompArg{Op: specs.OpGreaterThan, Value: 0x7ffff1}, []string{miss, miss, hit}},
		{specs.LinuxSeccompArg{Op: specs.OpGreaterEqual, Value: 0x7ffff1}, []string{miss, hit, hit}},
		// (arg & 0x3) == 0x2
		{specs.LinuxSeccompArg{Op: specs.OpMaskedEqual, Value: 0x3, ValueTwo: 0x2}, []string{miss, miss, hit}},
	} {
		t.Run(string(tc.arg.Op), func(t *testing.T) {
			r := runChild(t, argRule(tc.arg), getpgidProbes(vals...))
			if got := r.lines(); !slices.Equal(got, tc.want) {
				t.Fatalf("getpgid results %v, want %v (stderr %q)", got, tc.want, r.stderr)
			}
		})
	}
}

// Two args on one index become separate rules: either value matches.
func TestLoadSameIndexArgsAreORed(t *testing.T) {
	cfg := argRule(
		specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo, Value: 0x7ffff5},
		specs.LinuxSeccompArg{Index: 0, Op: specs.OpEqualTo, Value: 0x7ffff7},
	)
	r := runChild(t, cfg, getpgidProbes(0x7ffff5, 0x7ffff6, 0x7ffff7))
	if got, want := r.lines(), []string{"74", "3", "74"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (stderr %q)", got, want, r.stderr)
	}
}

// Args on different indexes are ANDed.
func TestLoadArgsANDed(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"getpriority"}, Action: specs.ActErrno, ErrnoRet: uintp(ebadmsg),
		Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo, Value: 0x99}, {Index: 1, Op: specs.OpEqualTo, Value: 5}},
	}}}
	ps := []probe{
		{Nr: unix.SYS_GETPRIORITY, Args: [3]uintptr{0x99, 5}},
		{Nr: unix.SYS_GETPRIORITY, Args: [3]uintptr{0x99, 6}},
		{Nr: unix.SYS_GETPRIORITY, Args: [3]uintptr{0x98, 5}},
	}
	r := runChild(t, cfg, ps)
	if got, want := r.lines(), []string{"74", "22", "22"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (stderr %q)", got, want, r.stderr)
	}
}

// personality(0xffffffff) only queries; everything else is denied.
func TestLoadPersonality(t *testing.T) {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"personality"}, Action: specs.ActErrno,
		Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpNotEqual, Value: 0xffffffff}},
	}}}
	ps := []probe{
		{Nr: unix.SYS_PERSONALITY, Args: [3]uintptr{0xffffffff}},
		{Nr: unix.SYS_PERSONALITY, Args: [3]uintptr{0x0008}},
		{Nr: unix.SYS_PERSONALITY, Args: [3]uintptr{0}},
	}
	r := runChild(t, cfg, ps)
	if got, want := r.lines(), []string{"ok", "1", "1"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v (stderr %q)", got, want, r.stderr)
	}
}

// A thread that existed before Load is filtered too (TSYNC).
func TestLoadSyncsAllThreads(t *testing.T) {
	ps := getpgidProbes(0x7ffff1)
	ps[0].Thread = true
	r := runChild(t, argRule(specs.LinuxSeccompArg{Op: specs.OpEqualTo, Value: 0x7ffff1}), ps)
	if got := r.lines(); !slices.Equal(got, []string{"74"}) {
		t.Fatalf("other thread got %v, want [74] (stderr %q)", got, r.stderr)
	}
}

func TestLoadRejectsBadConfig(t *testing.T) {
	fd, err := Load(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"})
	if err == nil || fd != -1 {
		t.Fatalf("Load of a bad config: fd %d err %v", fd, err)
	}
	if fd, err := Load(nil); fd != -1 || err != nil {
		t.Fatalf("Load(nil) = %d, %v", fd, err)
	}
}
