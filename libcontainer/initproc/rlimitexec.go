package initproc

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// execRlimits sets the pending process.rlimits and execs (step "execve"
// when "rlimits" left them for it). Everything Go allocates is allocated
// first; from the first prlimit64 to execve there are only raw system
// calls on that memory, so neither a heap that cannot grow (RLIMIT_AS,
// RLIMIT_DATA), nor fds (RLIMIT_NOFILE), nor threads (RLIMIT_NPROC) can
// fail this runtime before the process starts. It returns only on
// failure. (unix.Exec cannot be used: it allocates, and restores the
// NOFILE soft limit the Go runtime saved at start-up.) It holds the
// runtime's exec lock as syscall.Exec does: a thread started during
// execve can make the kernel ignore a set-user-ID bit (go.dev/issue/19546).
func execRlimits(path string, argv, env []string, pending []pendingRlimit) error {
	pathp, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	argvp, err := cStrings(argv)
	if err != nil {
		return err
	}
	envp, err := cStrings(env)
	if err != nil {
		return err
	}
	// Nothing may allocate while the lock is held: a GC it started
	// would wait for a thread the lock holds back.
	beforeExec()
	failed, e := -1, unix.Errno(0)
	for i := range pending {
		if _, _, e = unix.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(pending[i].res), uintptr(unsafe.Pointer(&pending[i].lim)), 0, 0, 0); e != 0 {
			failed = i
			break
		}
	}
	if failed < 0 {
		_, _, e = unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(pathp)),
			uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
	}
	afterExec()
	runtime.KeepAlive(pending)
	if failed >= 0 {
		p := pending[failed]
		return fmt.Errorf("process.rlimits[%d] (%s %d:%d): %w", p.index, p.name, p.lim.Cur, p.lim.Max, e)
	}
	return fmt.Errorf("exec %s: %w", path, e)
}

// The runtime's hooks around syscall.Exec: no new OS thread in between.
//
//go:linkname beforeExec syscall.runtime_BeforeExec
func beforeExec()

//go:linkname afterExec syscall.runtime_AfterExec
func afterExec()

// cStrings is a NULL-terminated array of C strings.
func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, len(ss)+1)
	for i, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
