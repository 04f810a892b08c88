package libcontainer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// procStartTime returns field 22 of /proc/<pid>/stat (start time in clock
// ticks since boot): with the pid it identifies a process across pid reuse.
func procStartTime(pid int) (uint64, byte, error) {
	b, err := smallfile.Read("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// comm may contain spaces and parentheses: parse after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+2:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	return st, fields[0][0], err
}

// alive reports whether pid is still the process that started at start and
// has not exited (a zombie counts as exited).
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, s, err := procStartTime(pid)
	return err == nil && st == start && s != 'Z' && s != 'X'
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
