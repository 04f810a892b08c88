// Package procstat reads what /proc/<pid>/stat says of a process that
// identifies it across pid reuse: its start time (field 22, clock ticks
// since boot) and its state (field 3). libcontainer and myimg share it.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

var errMalformed = errors.New("malformed")

// Parse reads the start time and the state letter from the content of a
// /proc/<pid>/stat file.
func Parse(stat []byte) (start uint64, state byte, err error) {
	// comm may contain spaces and parentheses: parse after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0, 0, errMalformed
	}
	f := bytes.Fields(stat[i+2:])
	// f[0] is field 3 (state); the start time is field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, errMalformed
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, 0, errMalformed
	}
	return start, f[0][0], nil
}

// StartTime returns the start time and the state letter of pid.
func StartTime(pid int) (start uint64, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	start, state, err = Parse(b)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return start, state, nil
}

// Exited reports whether a state letter is that of a process that has
// exited (a zombie waiting for its parent, or dead).
func Exited(state byte) bool { return state == 'Z' || state == 'X' }

// Alive reports whether pid is still the process that started at start
// and has not exited. A start time of 0 (unknown) matches no process: a
// pid alone may have been reused.
func Alive(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	st, state, err := StartTime(pid)
	return err == nil && st == start && !Exited(state)
}
