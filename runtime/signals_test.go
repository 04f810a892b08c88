package main

import (
	"bufio"
	"os"
	"os/exec"
	"os/signal"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A process that exits after more signals than the forwarding channel
// holds is still reaped. In the VM lane (TCG, loaded host) `exec ... cat`
// hung beside its zombie: the Go runtime's preemption signals (SIGURG)
// had filled the one channel every signal shared, and os/signal dropped
// the SIGCHLD behind them. Before the fix this test hangs in
// waitForeground (the guard below fails it).
func TestWaitForegroundAfterSignalFlood(t *testing.T) {
	sigs := forwardSignals()
	defer signal.Stop(sigs.fwd)
	defer signal.Stop(sigs.chld)
	for i := 0; i < 3*cap(sigs.fwd); i++ {
		unix.Kill(os.Getpid(), unix.SIGURG)
		// os/signal coalesces a signal still pending: let each arrive.
		time.Sleep(200 * time.Microsecond)
	}
	cmd := exec.Command("sh", "-c", "exit 3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// It ends while the flood is still queued (as cat did before exec's
	// wait began): a zombie, left for waitForeground to reap.
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // its SIGCHLD reaches os/signal
	done := make(chan int, 1)
	go func() { done <- waitForeground(cmd.Process.Pid, sigs, nil) }()
	select {
	case code := <-done:
		if code != 3 {
			t.Fatalf("exit code %d, want 3", code)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("waitForeground never saw the process end (its SIGCHLD was dropped)")
	}
}

// Forwarded signals reach the process; SIGURG, the Go runtime's own, is
// not caught.
func TestForwardedSignals(t *testing.T) {
	all := notifiedSignals(0)
	for _, s := range all {
		if s == unix.SIGURG || s == unix.SIGCHLD {
			t.Errorf("%v in the forwarded set", s)
		}
	}
	if len(all) != 60 {
		t.Errorf("%d forwarded signals, want 60 (1-64 but SIGCHLD, SIGURG, SIGKILL and SIGSTOP)", len(all))
	}
	for _, s := range notifiedSignals(1<<(unix.SIGUSR1-1) | 1<<(unix.SIGWINCH-1)) {
		if s == unix.SIGUSR1 || s == unix.SIGWINCH {
			t.Errorf("%v taken by os/signal although the signalfd has it", s)
		}
	}
	sigs := forwardSignals()
	defer signal.Stop(sigs.fwd)
	defer signal.Stop(sigs.chld)
	cmd := exec.Command("sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		cmd.Process.Kill()
		t.Fatalf("the shell said %q (%v)", line, err)
	}
	done := make(chan int, 1)
	go func() { done <- waitForeground(cmd.Process.Pid, sigs, nil) }()
	unix.Kill(os.Getpid(), unix.SIGTERM)
	select {
	case code := <-done:
		if code != 42 {
			t.Fatalf("exit code %d, want 42 (SIGTERM forwarded to the trap)", code)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("SIGTERM was not forwarded")
	}
}
