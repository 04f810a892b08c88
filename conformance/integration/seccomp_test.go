//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// seccompBundle is a busybox bundle with a writable /tmp and the given
// seccomp object.
func seccompBundle(t *testing.T, script string, sc *rspec.LinuxSeccomp) *bundle {
	t.Helper()
	return newBundle(t, []string{"sh", "-c", script}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
		s.Linux.Seccomp = sc
	})
}

func seccompErrno(n uint) *uint { return &n }

// A profile that denies mkdir with EPERM must make mkdir fail in the
// container while everything else works; a runtime that ignores
// linux.seccomp lets mkdir succeed. errnoRet must be honoured (ENOSPC).
func TestSeccompErrnoAction(t *testing.T) {
	for _, c := range []struct {
		errno *uint
		msg   string
	}{
		{nil, "Operation not permitted"},
		{seccompErrno(1), "Operation not permitted"},
		{seccompErrno(28), "No space left on device"},
	} {
		b := seccompBundle(t, "mkdir /tmp/x 2>&1; echo mkdir=$?; ls / >/dev/null && echo ls-ok; echo hi > /tmp/f && cat /tmp/f",
			&rspec.LinuxSeccomp{
				DefaultAction: rspec.ActAllow,
				Syscalls: []rspec.LinuxSyscall{{
					Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActErrno, ErrnoRet: c.errno,
				}},
			})
		out := b.mustRun()
		if !strings.Contains(out, c.msg) || !strings.Contains(out, "mkdir=1") || !strings.Contains(out, "ls-ok") || !strings.Contains(out, "hi\n") {
			t.Errorf("errnoRet %v: got:\n%s", c.errno, out)
		}
	}
}

// Argument conditions: deny kill(2) only for signal SIGUSR1 (arg1 == 10),
// and only with a masked compare for SIGUSR2 (arg1 & 0xff == 12). A
// runtime that drops args denies every kill or none.
func TestSeccompArgs(t *testing.T) {
	b := seccompBundle(t, `trap "" USR1 USR2; kill -USR1 $$ 2>/dev/null; echo a=$?; kill -USR2 $$ 2>/dev/null; echo b=$?; kill -0 $$; echo c=$?`,
		&rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"kill"}, Action: rspec.ActErrno,
					Args: []rspec.LinuxSeccompArg{{Index: 1, Value: 10, Op: rspec.OpEqualTo}}},
				{Names: []string{"kill"}, Action: rspec.ActErrno,
					Args: []rspec.LinuxSeccompArg{{Index: 1, Value: 0xff, ValueTwo: 12, Op: rspec.OpMaskedEqual}}},
			},
		})
	out := b.mustRun()
	if !strings.Contains(out, "a=1") || !strings.Contains(out, "b=1") || !strings.Contains(out, "c=0") {
		t.Fatalf("got:\n%s", out)
	}
}

// The filter must be installed as the last step before execve (runtime-tools
// linux_seccomp blocks getcwd): the runtime's own calls after installing it
// (setting the user, capabilities, no_new_privs, chdir, closing fds) must
// not be denied. A runtime that loads the filter earlier fails to start the
// container (its capset/setresuid/prctl/chdir get EPERM); the user's
// process still sees the denial.
func TestSeccompInstalledLast(t *testing.T) {
	probe := escProbe(t)
	denied := []string{"getcwd", "capset", "setresuid", "setresgid", "setgroups", "setuid", "setgid",
		"prctl", "chdir", "fchdir", "close_range", "umask", "sethostname", "setrlimit", "prlimit64",
		"mount", "pivot_root", "umount2", "unshare", "setns", "keyctl"}
	b := newBundle(t, []string{"/probe", "cwd"}, func(s *rspec.Spec) {
		s.Process.User = rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}}
		s.Process.Cwd = "/tmp"
		s.Linux.Seccomp = &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls:      []rspec.LinuxSyscall{{Names: denied, Action: rspec.ActErrno}},
		}
	})
	escInstall(t, probe, filepath.Join(b.dir, "rootfs/probe"))
	out := b.mustRun()
	if !strings.Contains(out, "operation not permitted") {
		t.Fatalf("getcwd was not denied in the container:\n%s", out)
	}
	// The same profile with the runtime-tools test's shape: only getcwd.
	b2 := seccompBundle(t, "id -u; ls /", &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Syscalls:      []rspec.LinuxSyscall{{Names: []string{"getcwd"}, Action: rspec.ActErrno}},
	})
	if out := b2.mustRun(); !strings.HasPrefix(out, "0\n") {
		t.Fatalf("got %q", out)
	}
}

// KILL_PROCESS and TRAP end the process with SIGSYS (exit 128+31 through
// the shell); a runtime mapping them to ERRNO or ALLOW shows mkdir=1/0.
// LOG allows the call.
func TestSeccompKillTrapLog(t *testing.T) {
	for _, c := range []struct {
		act  rspec.LinuxSeccompAction
		want string
	}{
		{rspec.ActKillProcess, "mkdir=159"},
		{rspec.ActKillThread, "mkdir=159"},
		{rspec.ActTrap, "mkdir=159"},
		{rspec.ActLog, "mkdir=0"},
	} {
		b := seccompBundle(t, "mkdir /tmp/x; echo mkdir=$?", &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls:      []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: c.act}},
		})
		if out := b.mustRun(); !strings.Contains(out, c.want) {
			t.Errorf("%s: got %q, want %s", c.act, out, c.want)
		}
	}
	// The container's own init killed: run reports the signal.
	b := newBundle(t, []string{"mkdir", "/x"}, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls:      []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActKillProcess}},
		}
	})
	if _, errs, code := b.run(); code != 128+int(syscall.SIGSYS) {
		t.Errorf("init killed by SIGSYS: exit %d %s", code, errs)
	}
}

// defaultAction ERRNO with an allow list: calls outside the list fail with
// defaultErrnoRet. A runtime that ignores defaultErrnoRet reports EPERM.
func TestSeccompDefaultErrno(t *testing.T) {
	probe := escProbe(t)
	b := newBundle(t, []string{"/probe", "cwd"}, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{
			DefaultAction:   rspec.ActErrno,
			DefaultErrnoRet: seccompErrno(38), // ENOSYS
			Syscalls: []rspec.LinuxSyscall{{Action: rspec.ActAllow, Names: []string{
				"execve", "brk", "arch_prctl", "mmap", "munmap", "mprotect", "rt_sigaction",
				"rt_sigprocmask", "sigaltstack", "clone", "clone3", "gettid", "getpid", "tgkill",
				"futex", "sched_getaffinity", "sched_yield", "nanosleep", "clock_gettime", "madvise",
				"write", "read", "exit", "exit_group", "stat", "newfstatat", "fstat", "openat", "close",
				"fcntl", "readlinkat", "uname", "set_tid_address", "set_robust_list", "rseq",
				"prlimit64", "getrlimit", "chdir", "mincore", "rt_sigreturn", "epoll_create1", "epoll_ctl",
				"epoll_pwait", "eventfd2", "pipe2", "getrandom", "prctl", "membarrier",
			}}},
		}
	})
	escInstall(t, probe, filepath.Join(b.dir, "rootfs/probe"))
	out := b.mustRun()
	if !strings.Contains(out, "function not implemented") {
		t.Fatalf("getcwd outside the allow list: %q (want ENOSYS)", out)
	}
}

// SCMP_ACT_NOTIFY with the contrib agent: the agent answers mkdir with a
// fake success, so mkdir returns 0 but creates nothing. A runtime that
// does not hand the listener over either fails (no agent connection) or
// hangs; one that treats NOTIFY as ALLOW creates the directory.
func TestSeccompNotifyWithContribAgent(t *testing.T) {
	dir := t.TempDir()
	agentBin := filepath.Join(dir, "seccomp-agent")
	build := exec.Command("go", "build", "-o", agentBin, "./contrib/seccomp-agent")
	build.Dir = "../.."
	if raw, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v: %s", err, raw)
	}
	sock := filepath.Join(dir, "agent.sock")
	logPath := filepath.Join(dir, "agent.log")
	logF, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logF.Close()
	agent := exec.Command(agentBin, "-socket", sock, "-rule", "mkdir=ok", "-rule", "mkdirat=ok", "-rule", "rmdir=EACCES")
	agent.Stdout, agent.Stderr = logF, logF
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill() // by PID
		agent.Wait()
	})
	escWaitFor(t, 10*time.Second, "agent socket", func() bool { return escExists(sock) })

	b := seccompBundle(t, "mkdir /tmp/n; echo mkdir=$?; ls -d /tmp/n 2>/dev/null || echo absent; mkdir -p /tmp/real/x 2>&1; rmdir /tmp 2>&1; echo rmdir=$?",
		&rspec.LinuxSeccomp{
			DefaultAction:    rspec.ActAllow,
			ListenerPath:     sock,
			ListenerMetadata: "itest-meta",
			Syscalls: []rspec.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat", "rmdir"}, Action: rspec.ActNotify},
			},
		})
	out, errs, code := b.run()
	if code != 0 {
		t.Fatalf("run: %d %s", code, errs)
	}
	if !strings.Contains(out, "mkdir=0") || !strings.Contains(out, "absent") || !strings.Contains(out, "Permission denied") {
		t.Fatalf("agent did not answer the notified syscalls:\n%s", out)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), b.id) || !strings.Contains(string(log), "itest-meta") || !strings.Contains(string(log), "syscall=mkdir") {
		t.Fatalf("agent log lacks the container state/metadata:\n%s", log)
	}

	// An exec'd process gets its own listener fd sent to the agent: exec
	// with a listener goes through Go init (the constructor path cannot
	// hand a fd to the agent), so this keeps that path under test.
	d := seccompBundle(t, "exec sleep 600", b.spec.Linux.Seccomp)
	if _, errs, code := d.myrun("run", "-d", "--bundle", d.dir, d.id); code != 0 {
		t.Fatalf("run -d: %d %s", code, errs)
	}
	out, errs, code = d.myrun("exec", d.id, "sh", "-c", "mkdir /tmp/e; echo mkdir=$?; ls -d /tmp/e 2>/dev/null || echo absent")
	if code != 0 || !strings.Contains(out, "mkdir=0") || !strings.Contains(out, "absent") {
		t.Fatalf("exec under a notify profile: %d %q %s", code, out, errs)
	}
}

// Bad profiles fail at create with an error naming the field, leaving
// nothing behind (the bundle cleanup checks state, cgroups and mounts).
// Unknown syscall names are skipped, as runc does.
func TestSeccompBadProfiles(t *testing.T) {
	for _, c := range []struct {
		name string
		sc   *rspec.LinuxSeccomp
		want []string
	}{
		{"unknown action", &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"}}},
			[]string{"linux.seccomp.syscalls[0]", "SCMP_ACT_BOGUS"}},
		{"unknown default action", &rspec.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"},
			[]string{"linux.seccomp.defaultAction", "SCMP_ACT_NOPE"}},
		{"unknown arch", &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, Architectures: []rspec.Arch{"SCMP_ARCH_VAX"}},
			[]string{"linux.seccomp.architectures[0]", "SCMP_ARCH_VAX"}},
		{"unknown operator", &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir"}, Action: rspec.ActErrno,
				Args: []rspec.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_SIMILAR"}}}}},
			[]string{"linux.seccomp.syscalls[0].args[0]", "SCMP_CMP_SIMILAR"}},
		{"missing listener", &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, ListenerPath: "/nonexistent/myrun-agent.sock",
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir"}, Action: rspec.ActNotify}}},
			[]string{"linux.seccomp.listenerPath"}},
		{"notify without listener", &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir"}, Action: rspec.ActNotify}}},
			[]string{"linux.seccomp.listenerPath"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, func(s *rspec.Spec) { s.Linux.Seccomp = c.sc })
			_, errs, code := b.myrun("create", "--bundle", b.dir, b.id)
			if code == 0 {
				t.Fatalf("create succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("error %q does not name %q", errs, w)
				}
			}
			if out, _, _ := b.myrun("list", "-q"); strings.TrimSpace(out) != "" {
				t.Errorf("container listed after failed create: %q", out)
			}
			b.assertNothingLeft()
		})
	}
	b := seccompBundle(t, "mkdir /tmp/x 2>&1; echo mkdir=$?", &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Syscalls: []rspec.LinuxSyscall{
			{Names: []string{"myrun_no_such_syscall", "mkdir", "mkdirat"}, Action: rspec.ActErrno},
		},
	})
	out, errs, code := b.myrun("--debug", "run", "--bundle", b.dir, b.id)
	if code != 0 || !strings.Contains(out, "mkdir=1") {
		t.Fatalf("unknown syscall name broke the profile: %d %q %s", code, out, errs)
	}
	// ... and the skip is logged at debug level, naming the syscall.
	if !strings.Contains(errs, "level=debug") || !strings.Contains(errs, "myrun_no_such_syscall") {
		t.Fatalf("skipped syscall not logged under --debug:\n%s", errs)
	}
}

// `myrun features` lists what the libseccomp in use supports.
func TestSeccompFeatures(t *testing.T) {
	out, errs, code := runWithTimeout(t, 30*time.Second, "features")
	if code != 0 {
		t.Fatalf("features: %s", errs)
	}
	var f struct {
		Linux struct {
			Seccomp struct {
				Enabled   *bool    `json:"enabled"`
				Actions   []string `json:"actions"`
				Operators []string `json:"operators"`
				Archs     []string `json:"archs"`
			} `json:"seccomp"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	sc := f.Linux.Seccomp
	has := func(l []string, v string) bool {
		for _, x := range l {
			if x == v {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_NOTIFY", "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "SCMP_ACT_TRACE"} {
		if !has(sc.Actions, a) {
			t.Errorf("features lacks action %s: %v", a, sc.Actions)
		}
	}
	if !has(sc.Operators, "SCMP_CMP_MASKED_EQ") || !has(sc.Archs, "SCMP_ARCH_X86_64") || sc.Enabled == nil || !*sc.Enabled {
		t.Errorf("features seccomp: %+v", sc)
	}
}

// An exec'd process gets the container's seccomp profile too (exec sends
// init only the spec parts it needs; the profile must be among them).
func TestSeccompAppliesToExec(t *testing.T) {
	b := seccompBundle(t, "exec sleep 600", &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Syscalls:      []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActErrno, ErrnoRet: seccompErrno(28)}},
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %d %s", code, errs)
	}
	out, _, code := b.myrun("exec", b.id, "sh", "-c", "mkdir /tmp/x 2>&1; echo mkdir=$?; grep Seccomp: /proc/self/status")
	if code != 0 || !strings.Contains(out, "No space left on device") || !strings.Contains(out, "mkdir=1") || !strings.Contains(out, "Seccomp:\t2") {
		t.Fatalf("exec %d: %q", code, out)
	}
}

// Init's Go runtime may start a thread after the container's seccomp
// filter is loaded, and glibc aborts a new thread whose rseq(2) fails when
// the first thread's succeeded: "Fatal glibc error: rseq registration
// failed" (9 of 2200 creates under load with runtime-tools' default
// profile, which answers EPERM and lists no rseq). So init runs with no
// glibc rseq registration: a created container's init, waiting for start,
// has none (PTRACE_GET_RSEQ_CONFIGURATION), and starts fine after the
// look.
func TestInitRegistersNoRseq(t *testing.T) {
	b := seccompBundle(t, "true", &rspec.LinuxSeccomp{
		DefaultAction: rspec.ActAllow,
		Syscalls:      []rspec.LinuxSyscall{{Names: []string{"rseq"}, Action: rspec.ActErrno}},
	})
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	pid := int(b.state()["pid"].(float64))
	size, err := rseqSize(pid)
	if err != nil {
		t.Fatal(err)
	}
	if size != 0 {
		t.Errorf("init (pid %d) has an rseq area of %d bytes registered; want none", pid, size)
	}
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %d %s", code, errs)
	}
	deadline := time.Now().Add(10 * time.Second * timeoutScale)
	for b.state()["status"] != "stopped" {
		if time.Now().After(deadline) {
			t.Fatal("the container did not run to its end after start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rseqSize is the size of the rseq area pid's main thread registered (0:
// none), read while the thread is held in a ptrace stop.
func rseqSize(pid int) (uint32, error) {
	runtime.LockOSThread() // ptrace's tracer is this thread
	defer runtime.UnlockOSThread()
	if err := unix.PtraceSeize(pid); err != nil {
		return 0, fmt.Errorf("PTRACE_SEIZE %d: %w", pid, err)
	}
	defer unix.PtraceDetach(pid)
	if err := unix.PtraceInterrupt(pid); err != nil {
		return 0, fmt.Errorf("PTRACE_INTERRUPT %d: %w", pid, err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return 0, fmt.Errorf("wait4 %d: %w", pid, err)
	}
	var cfg struct {
		Pointer                   uint64
		Size, Sig, Flags, Padding uint32
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GET_RSEQ_CONFIGURATION, uintptr(pid),
		unsafe.Sizeof(cfg), uintptr(unsafe.Pointer(&cfg)), 0, 0); e != 0 {
		return 0, fmt.Errorf("PTRACE_GET_RSEQ_CONFIGURATION %d: %w", pid, e)
	}
	return cfg.Size, nil
}
