package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

func seccompCall(op, flags uintptr, arg unsafe.Pointer) (uintptr, error) {
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, op, flags, uintptr(arg))
	if e != 0 {
		return r, e
	}
	return r, nil
}

// kernelHasFlag asks seccomp(2) whether it knows a filter flag: with a NULL
// program a known flag gets EFAULT, an unknown one EINVAL. Flags that only
// make sense with a listener are probed together with NEW_LISTENER.
func kernelHasFlag(flag uint) bool {
	probe := uintptr(flag)
	if flag == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
		probe |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	_, err := seccompCall(unix.SECCOMP_SET_MODE_FILTER, probe, nil)
	return errors.Is(err, unix.EFAULT)
}

// kernelHasAction asks the kernel whether it implements a SECCOMP_RET_* action.
func kernelHasAction(ret uint32) bool {
	_, err := seccompCall(unix.SECCOMP_GET_ACTION_AVAIL, 0, unsafe.Pointer(&ret))
	return err == nil
}

var flagCache sync.Map // uint -> bool

func kernelHasFlagCached(flag uint) bool {
	if v, ok := flagCache.Load(flag); ok {
		return v.(bool)
	}
	has := kernelHasFlag(flag)
	flagCache.Store(flag, has)
	return has
}

// loadFlags adds to the configured flags what loading needs: TSYNC, and
// for a listener NEW_LISTENER; WAIT_KILLABLE_RECV only means something
// with a listener.
func loadFlags(flags uint, listener bool) uint {
	flags |= unix.SECCOMP_FILTER_FLAG_TSYNC
	if !listener {
		return flags &^ unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	// TSYNC and NEW_LISTENER need TSYNC_ESRCH (5.7+) to tell a fd from a
	// failing tid; without it only this locked thread is filtered, which
	// is fine since it execs next.
	if kernelHasFlagCached(unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH) {
		return flags | unix.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
	}
	return flags &^ unix.SECCOMP_FILTER_FLAG_TSYNC
}

// loadProgram installs prog with seccomp(2) for every thread of the process
// (TSYNC) and returns the listener fd when listener is set, else -1.
func loadProgram(prog []unix.SockFilter, flags uint, listener bool) (int, error) {
	if len(prog) == 0 || len(prog) > 0xffff {
		return -1, fmt.Errorf("seccomp: bad program length %d", len(prog))
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags = loadFlags(flags, listener)
	r, err := seccompCall(unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), unsafe.Pointer(&fprog))
	runtime.KeepAlive(prog)
	if err != nil {
		if errors.Is(err, unix.EACCES) {
			return -1, fmt.Errorf("seccomp: load filter: %w (needs no_new_privs or CAP_SYS_ADMIN)", err)
		}
		return -1, fmt.Errorf("seccomp: load filter (flags %#x): %w", flags, err)
	}
	if listener {
		return int(r), nil
	}
	if r != 0 {
		// TSYNC without a listener reports the thread it could not sync.
		return -1, fmt.Errorf("seccomp: load filter: thread %d could not be synchronised", r)
	}
	return -1, nil
}
