package userns

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// gateEnv names the fd on which a myimg started by Start waits for its
// id maps before it executes itself again.
const gateEnv = "_MYIMG_USERNS_GATE"

// pdeathEnv carries a Start'ed command's Pdeathsig ("SIG:PARENT-PID")
// across the gate's exec: that exec gives the process the namespace's
// capabilities, and the kernel clears the parent-death signal of a
// process that gains capabilities (commit_creds), so the copy of a
// killed `myimg build` ran on (with its RUN container and mounts).
const pdeathEnv = "_MYIMG_USERNS_PDEATHSIG"

// rearmPdeathsig sets the parent-death signal again after the gate's
// exec, and sends it at once where the parent is already gone (it died
// between the exec and the prctl).
func rearmPdeathsig() {
	s := os.Getenv(pdeathEnv)
	if s == "" || os.Getenv(gateEnv) != "" {
		return
	}
	os.Unsetenv(pdeathEnv)
	sigs, ppids, _ := strings.Cut(s, ":")
	sig, err1 := strconv.Atoi(sigs)
	ppid, err2 := strconv.Atoi(ppids)
	if err1 != nil || err2 != nil || sig <= 0 {
		fmt.Fprintf(os.Stderr, "Error: %s=%q: want SIGNAL:PID\n", pdeathEnv, s)
		os.Exit(125)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "Error: rootless: PR_SET_PDEATHSIG: %v\n", err)
		os.Exit(125)
	}
	if os.Getppid() != ppid {
		unix.Kill(os.Getpid(), unix.Signal(sig))
	}
}

// PassGate is called first in main. In a process started by Start it
// waits until the maps are written, then executes myimg again: an exec
// before the maps exist drops every capability, one after them runs as
// root of the namespace with its full set. After that exec it sets the
// command's parent-death signal again (pdeathEnv).
func PassGate() {
	rearmPdeathsig()
	s := os.Getenv(gateEnv)
	if s == "" {
		return
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		fmt.Fprintf(os.Stderr, "Error: %s=%q: not an fd\n", gateEnv, s)
		os.Exit(125)
	}
	gate := os.NewFile(uintptr(fd), "userns-gate")
	b := make([]byte, 1)
	n, _ := gate.Read(b)
	gate.Close()
	if n != 1 {
		fmt.Fprintln(os.Stderr, "Error: rootless: the user namespace's id maps were not written")
		os.Exit(125)
	}
	os.Unsetenv(gateEnv)
	err = syscall.Exec("/proc/self/exe", os.Args, os.Environ())
	fmt.Fprintf(os.Stderr, "Error: rootless: re-executing myimg in its user namespace: %v\n", err)
	os.Exit(125)
}

// Start starts cmd, a myimg command, in a new user namespace (and the
// namespaces in flags) whose maps are m, written by newuidmap and
// newgidmap. On error nothing is left running.
func Start(cmd *exec.Cmd, m Maps, flags uintptr) error {
	gr, gw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer gr.Close()
	defer gw.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles, gr)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", gateEnv, 2+len(cmd.ExtraFiles)))
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER | flags
	if sig := cmd.SysProcAttr.Pdeathsig; sig != 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%d", pdeathEnv, sig, os.Getpid()))
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	gr.Close()
	if err := Apply(cmd.Process.Pid, m); err != nil {
		gw.Close() // the child gives up
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	if _, err := gw.Write([]byte{1}); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("rootless: starting %s: %w", cmd.Path, err)
	}
	return nil
}

// Run is Start and Wait, with the command's output in the error.
func Run(m Maps, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = "/"
	out := &limitedBuffer{max: 8192}
	cmd.Stdout, cmd.Stderr = out, out
	if err := Start(cmd, m, 0); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("rootless helper %v: %w: %s", args, err, out.String())
	}
	return nil
}

type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
