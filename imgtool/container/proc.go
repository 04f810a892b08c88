package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procStartTime returns the start time (in clock ticks since boot) of
// pid, which with the pid identifies a process across pid reuse.
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// alive reports whether pid is still the process that started at start
// (and is not a zombie).
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := procStartTime(pid)
	return err == nil && (start == 0 || st == start)
}

// killVerified sends sig to pid only if it is still the same process.
func killVerified(pid int, start uint64, sig syscall.Signal) {
	if alive(pid, start) {
		syscall.Kill(pid, sig)
	}
}
