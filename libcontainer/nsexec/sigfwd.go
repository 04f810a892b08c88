package nsexec

/*
#include <stdint.h>
extern uint64_t myrun_sig_forward_blocked;
extern uint64_t myrun_sig_orig_mask;
*/
import "C"

import (
	"os"
	"os/exec"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// A foreground `myrun exec` or `myrun run` forwards every signal it gets to the process.
// With os/signal alone that costs ~1.1 ms of CPU and ~130 context switches
// per exec (docs/benchmarks.md): signal.Notify enables each of the ~64
// signals by a round trip to os/signal's own locked thread. So sigfwd.c's
// constructor blocks, before the Go runtime starts, the signals Go lets a
// process block (ForwardBlocked); every thread inherits that mask, those
// signals stay pending and the parent reads them from a signalfd. The
// others (SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGPIPE, SIGTERM, SIGCHLD and
// the ones without a round trip) still go through os/signal.
//
// Our children would inherit the blocked mask (Go's fork restores the
// mask the process started with), so every child we start gets
// ChildEnv, and its constructor sets the caller's mask back before
// anything of it runs. Other programs (hooks, newuidmap) are started
// through our binary for that (ViaCallerMask).

// SigMaskEnv carries the signal mask (hex, bit n-1 for signal n) a child
// of ours sets first thing.
const SigMaskEnv = "_MYRUN_SIGMASK"

// ForwardBlocked returns the signals the constructor blocked for the
// parent to read from a signalfd (bit n-1 for signal n), 0 when it
// blocked none: the process is not a foreground exec, or not sure to be.
func ForwardBlocked() uint64 {
	return uint64(C.myrun_sig_forward_blocked)
}

// ChildEnv returns the environment entry that gives a child of ours the
// caller's signal mask, or "" when the constructor blocked nothing.
func ChildEnv() string {
	if ForwardBlocked() == 0 {
		return ""
	}
	return SigMaskEnv + "=" + strconv.FormatUint(uint64(C.myrun_sig_orig_mask), 16)
}

// Sigset returns a mask as the kernel's sigset (signalfd's argument).
func Sigset(mask uint64) *unix.Sigset_t {
	var s unix.Sigset_t
	s.Val[0] = mask
	return &s
}

// execPathEnv names the program a trampoline (our binary started by
// ViaCallerMask) execs once it has set the caller's mask.
const execPathEnv = "_MYRUN_EXECPATH"

// ViaCallerMask makes cmd, a program that is not ours, start with the
// caller's signal mask when the constructor blocked signals: it runs our
// binary, whose constructor sets the mask and execs cmd.Path with cmd's
// arguments and environment (sigfwd.c's exec_target), before any Go runs.
// A program os/exec cannot start (not found, not a regular file, not
// executable) is left as it is: it never runs, and os/exec's error is the
// same as before. One whose execve fails all the same (a script whose
// interpreter is missing) exits 127 with the error on its stderr.
func ViaCallerMask(cmd *exec.Cmd) {
	env := ChildEnv()
	if env == "" || cmd.Err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Stat(cmd.Path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || unix.Access(cmd.Path, unix.X_OK) != nil {
		return
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(slices.Clip(cmd.Env), env, execPathEnv+"="+cmd.Path)
	cmd.Path = "/proc/self/exe"
}
