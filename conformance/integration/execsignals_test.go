//go:build integration

package integration

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
	status, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "SigBlk:\t"); ok {
			m, _ := strconv.ParseUint(v, 16, 64)
			if m&(1<<(syscall.SIGUSR1-1)) == 0 || m&(1<<(40-1)) == 0 || m&(1<<(syscall.SIGTERM-1)) != 0 {
				t.Errorf("foreground exec's SigBlk %s: want USR1 and 40 blocked, TERM not", v)
			}
		}
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
