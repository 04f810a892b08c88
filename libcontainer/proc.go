package libcontainer

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/procstat"
	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// procStartTime returns field 22 of /proc/<pid>/stat (start time in clock
// ticks since boot) and the state: with the pid it identifies a process
// across pid reuse. Read with smallfile (fewer syscalls than os.ReadFile),
// parsed by internal/procstat.
func procStartTime(pid int) (uint64, byte, error) {
	b, err := smallfile.Read("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	st, state, err := procstat.Parse(b)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, state, nil
}

// alive reports whether pid is still the process that started at start and
// has not exited (a zombie counts as exited).
func alive(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	st, s, err := procStartTime(pid)
	return err == nil && st == start && !procstat.Exited(s)
}

// openPidfd opens a pidfd for pid and checks afterwards that it is still the
// process we recorded, so a signal cannot hit a recycled pid.
func openPidfd(pid int, start uint64) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return -1, errNotRunning
		}
		return -1, err
	}
	if !alive(pid, start) {
		unix.Close(fd)
		return -1, errNotRunning
	}
	return fd, nil
}

var errNotRunning = errors.New("container not running")

// waitExit waits until the process behind pidfd has exited (it need not be
// our child), or the timeout passes.
func waitExit(pidfd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n > 0 {
			return true
		}
	}
}
