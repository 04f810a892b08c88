//go:build integration

package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// myrunCmd is exec.Command(myrun, args...) with the suite's global flags.
func (b *bundle) myrunCmd(args ...string) *exec.Cmd {
	args = append([]string{"--root", b.root}, args...)
	if systemdCgroup {
		args = append([]string{"--systemd-cgroup"}, args...)
	}
	return exec.Command(myrun, args...)
}

// A foreground exec blocks the signals it may (USR1, USR2, WINCH, the
// real-time ones...) before its Go runtime starts and reads them from a
// signalfd (nsexec/sigfwd.go); the exec'd process still starts with the
// caller's mask, on both exec paths. Here the caller blocks USR2 (perl
// is in every Debian: perl-base is essential).
func TestExecSignalMaskIsTheCallers(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl to start myrun with a blocked signal")
	}
	b := runningBundle(t)
	for _, goInit := range []string{"0", "1"} {
		for _, blocked := range []bool{false, true} {
			cmd := b.myrunCmd("exec", b.id, "grep", "SigBlk", "/proc/self/status")
			want := "0000000000000000"
			if blocked {
				cmd.Args = append([]string{"perl", "-MPOSIX", "-e", "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR2)) or die; exec @ARGV or die", "--"}, cmd.Args...)
				cmd.Path, _ = exec.LookPath("perl")
				want = "0000000000000800"
			}
			cmd.Env = append(os.Environ(), "_MYRUN_EXEC_GO_INIT="+goInit)
			out, errs, code := runCmd(t, 60*time.Second*timeoutScale, cmd)
			if f := strings.Fields(out); code != 0 || len(f) != 2 || f[1] != want {
				t.Errorf("go init %s, caller blocks USR2 %v: %d %q %s (want SigBlk %s)", goInit, blocked, code, out, errs, want)
			}
		}
	}
}

// sigBlk returns the SigBlk mask of pid's main thread.
func sigBlk(t *testing.T, pid int) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:\t"); ok {
			m, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				t.Fatalf("SigBlk %q: %v", v, err)
			}
			return m
		}
	}
	t.Fatalf("no SigBlk in /proc/%d/status", pid)
	return 0
}

// A foreground exec relays signals to its process: ones from the signalfd
// (USR1, real-time 40) and ones os/signal takes (TERM), and exits with the
// process's status.
func TestExecForwardsSignals(t *testing.T) {
	b := runningBundle(t)
	cmd := b.myrunCmd("exec", b.id, "sh", "-c",
		`trap "echo usr1" USR1; trap "echo rt40" 40; trap "echo term; exit 7" TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only against a hang: the process never ends by itself.
	guard := time.AfterFunc(120*time.Second*timeoutScale, func() { cmd.Process.Kill() })
	defer guard.Stop()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("want %q from the exec'd process, got %q (%v)", want, lines.Text(), lines.Err())
		}
	}
	expect("ready")
	// The parent takes these from a signalfd: blocked on all its threads.
	if m := sigBlk(t, cmd.Process.Pid); m&(1<<(syscall.SIGUSR1-1)) == 0 || m&(1<<(40-1)) == 0 || m&(1<<(syscall.SIGTERM-1)) != 0 {
		t.Errorf("foreground exec's SigBlk %x: want USR1 and 40 blocked, TERM not", m)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	expect("usr1")
	cmd.Process.Signal(syscall.Signal(40))
	expect("rt40")
	cmd.Process.Signal(syscall.SIGTERM)
	expect("term")
	io.Copy(io.Discard, out)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("exec after TERM: %v, want exit status 7", err)
	}
}

// openPty returns a new pty's master and slave.
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return master, slave
}

// exec -t on our terminal: SIGWINCH (from the signalfd) resizes the
// container's pty to our terminal's size.
func TestExecTTYResizeOnSIGWINCH(t *testing.T) {
	b := runningBundle(t)
	master, slave := openPty(t)
	cmd := b.myrunCmd("exec", "-t", b.id, "sh", "-c", `trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGTERM)
	// Only against a hang: without the resize "40 120" never comes.
	guard := time.AfterFunc(120*time.Second*timeoutScale, func() { cmd.Process.Kill(); master.Close() })
	defer guard.Stop()
	lines := bufio.NewScanner(master)
	// Lines before: the first size, set when the parent picks up the
	// pty (it races with the process's start), may be reported.
	expect := func(want string) {
		t.Helper()
		for lines.Scan() {
			if strings.TrimSpace(lines.Text()) == want {
				return
			}
		}
		t.Fatalf("want %q from the exec'd process: %v", want, lines.Err())
	}
	expect("ready")
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	cmd.Process.Signal(syscall.SIGWINCH)
	expect("40 120")
}

// A foreground run blocks signals for its signalfd too: it relays them
// (USR1 from the signalfd, TERM from os/signal) and exits with the
// process's status, while the process and the hooks the parent starts
// (through our binary, nsexec.ViaCallerMask) get the caller's mask, here
// with USR2 blocked by the caller, and the hook keeps its environment.
func TestRunSignalsAndHookMask(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl to start myrun with a blocked signal")
	}
	out := t.TempDir()
	b := newBundle(t, []string{"sh", "-c",
		`grep SigBlk /proc/self/status; trap "echo usr1" USR1; trap "echo term; exit 7" TERM; echo ready; while :; do sleep 0.05; done`},
		func(s *rspec.Spec) {
			// cp, not a shell: dash clears the mask it execs with.
			copyHook := func(what, to string) rspec.Hook {
				return rspec.Hook{Path: "/bin/cp", Args: []string{"cp", "/proc/self/" + what, filepath.Join(out, to)}, Env: []string{"HOOKVAR=kept"}}
			}
			s.Hooks = &rspec.Hooks{
				Prestart: []rspec.Hook{copyHook("status", "prestart"), copyHook("environ", "prestart.env")},
				Poststop: []rspec.Hook{copyHook("status", "poststop"), copyHook("environ", "poststop.env")},
				// Init runs this one in the container (after its
				// Clearenv: no _MYRUN_ variable either).
				StartContainer: []rspec.Hook{{Path: "/bin/cp", Args: []string{"cp", "/proc/self/environ", "/out/start.env"}}},
			}
			s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind"}})
		})
	cmd := b.myrunCmd("run", "--bundle", b.dir, b.id)
	cmd.Args = append([]string{"perl", "-MPOSIX", "-e", "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR2)) or die; exec @ARGV or die", "--"}, cmd.Args...)
	cmd.Path = perl
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only against a hang: the process never ends by itself.
	guard := time.AfterFunc(120*time.Second*timeoutScale, func() { cmd.Process.Kill() })
	defer guard.Stop()
	lines := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			t.Fatalf("want %q from the container, got %q (%v; stderr %s)", want, lines.Text(), lines.Err(), stderr.String())
		}
	}
	expect("SigBlk:\t0000000000000800")
	expect("ready")
	// The parent takes USR1 from a signalfd: blocked on all its threads.
	if m := sigBlk(t, cmd.Process.Pid); m&(1<<(syscall.SIGUSR1-1)) == 0 {
		t.Errorf("foreground run's SigBlk %x: want USR1 blocked", m)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	expect("usr1")
	cmd.Process.Signal(syscall.SIGTERM)
	expect("term")
	io.Copy(io.Discard, stdout)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("run after TERM: %v, want exit status 7", err)
	}
	for _, h := range []string{"prestart", "poststop"} {
		status, err := os.ReadFile(filepath.Join(out, h))
		if err != nil || !strings.Contains(string(status), "\nSigBlk:\t0000000000000800\n") {
			t.Errorf("%s hook: want the caller's mask (USR2 blocked), got %v:\n%s", h, err, status)
		}
		env, err := os.ReadFile(filepath.Join(out, h+".env"))
		if err != nil || string(env) != "HOOKVAR=kept\x00" {
			t.Errorf("%s hook: want its own environment only, got %q (%v)", h, env, err)
		}
	}
	if env, err := os.ReadFile(filepath.Join(out, "start.env")); err != nil || strings.Contains(string(env), "_MYRUN_") {
		t.Errorf("startContainer hook's environment %q (%v): want no _MYRUN_ variable", env, err)
	}
}
