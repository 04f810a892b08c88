// Command subreaper runs a command as a child subreaper so that the
// processes engines daemonize (conmon, containerd shims, podman's rootless
// pause process) are reparented to it instead of PID 1, which does not reap
// quickly on the CI machine. When the command exits, every descendant still
// alive is reported as left behind, killed by PID and reaped.
//
// Usage: subreaper COMMAND [ARG...]; exits with COMMAND's status, or 1 if
// anything was left behind and COMMAND itself succeeded.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: subreaper COMMAND [ARG...]")
		os.Exit(2)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper: prctl:", err)
		os.Exit(2)
	}
	// Forward termination to the command; it owns the cleanup.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		os.Exit(2)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	status := reapUntil(cmd.Process.Pid)
	if n := killLeftovers(); n > 0 && status == 0 {
		status = 1
	}
	os.Exit(status)
}

// reapUntil reaps every child (orphans included) until pid exits and
// returns pid's exit status.
func reapUntil(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 2
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// killLeftovers kills our remaining children by PID, repeating because a
// dying child's own children are reparented to us, and returns how many
// processes it found.
func killLeftovers() int {
	found := 0
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		kids := children()
		if len(kids) == 0 {
			return found
		}
		for _, k := range kids {
			found++
			fmt.Fprintf(os.Stderr, "subreaper: left behind: pid %d %s\n", k, cmdline(k))
			_ = unix.Kill(k, unix.SIGKILL)
		}
		reapAvailable(500 * time.Millisecond)
	}
	return found
}

func reapAvailable(wait time.Duration) {
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.ECHILD {
			return
		}
		if got <= 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
