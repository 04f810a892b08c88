package build

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/myrun-org/myrun/imgtool/userns"
)

// privateNSEnv marks the copy of `myimg build` that runs in its own mount
// namespace.
const privateNSEnv = "_MYIMG_PRIVATE_MOUNTNS"

// ReexecInPrivateMountNS runs this command again in a new mount namespace
// and exits with its status; it returns only in that copy, or when a new
// namespace cannot be had (not root), and the caller goes on in place.
//
// Why: a build mounts an overlay per RUN step. In the host's namespace a
// build killed with SIGKILL leaves them mounted until the next build or
// prune cleans up; in a namespace of its own they go when the build does.
// The copy is killed with its caller (PDEATHSIG), so killing `myimg build`
// still stops the build.
func ReexecInPrivateMountNS() { reexec(true) }

// ReexecRootless runs this command again as root of the rootless user
// namespace (for commands that delete files owned by subordinate ids,
// such as prune); as root, or without subordinate ids, it returns at once.
func ReexecRootless() { reexec(false) }

func reexec(root bool) {
	if os.Getenv(privateNSEnv) == "1" || (!root && os.Geteuid() == 0) {
		return
	}
	var maps *userns.Maps
	if os.Geteuid() != 0 {
		// Rootless with subordinate ids: the copy runs as root of a user
		// namespace with them (and a mount namespace it owns), so layers
		// keep their owners, RUN steps may switch users and overlay
		// mounts are allowed (Linux >= 5.11).
		m, warn, err := userns.ForCaller()
		if err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(125)
		}
		if !m.Multi() {
			if root {
				fmt.Fprintln(os.Stderr, warn)
			}
			return
		}
		maps = &m
	}
	// PDEATHSIG fires when the forking thread exits: keep this one.
	runtime.LockOSThread()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), privateNSEnv+"=1")
	// Go makes / recursively private in the child after unshare, so
	// nothing mounted there propagates back to the host.
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	var err error
	if maps != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err = userns.Start(cmd, *maps, syscall.CLONE_NEWNS); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			os.Exit(125)
		}
	} else {
		err = cmd.Start()
	}
	if err != nil {
		signal.Stop(sigs)
		runtime.UnlockOSThread()
		return // e.g. no CAP_SYS_ADMIN in this user namespace: build in place
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	os.Exit(125)
}
