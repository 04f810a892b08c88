package container

import (
	"fmt"
	"syscall"

	"github.com/myrun-org/myrun/internal/procstat"
)

// procStartTime returns the start time (in clock ticks since boot) of
// pid, which with the pid identifies a process across pid reuse; a
// process that has exited has none.
func procStartTime(pid int) (uint64, error) {
	st, state, err := procstat.StartTime(pid)
	if err == nil && procstat.Exited(state) {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return st, err
}

// alive reports whether pid is still the process that started at start
// (and is not a zombie). An unknown start time (0) matches no process.
func alive(pid int, start uint64) bool { return procstat.Alive(pid, start) }

// killVerified sends sig to pid only if it is still the same process.
func killVerified(pid int, start uint64, sig syscall.Signal) {
	if alive(pid, start) {
		syscall.Kill(pid, sig)
	}
}
