package container

import (
	"fmt"
	"io"
	"os"
	"time"
)

// Wait blocks until the container has exited and returns its exit code.
// The record is read every poll: the monitor writes the code there.
func (cs *Manager) Wait(r *Record, poll time.Duration) (int, error) {
	for {
		cur, err := cs.Load(r.ID)
		if err != nil {
			return 0, fmt.Errorf("container %s: %w", r.Name, err)
		}
		if !cs.IsRunning(cur) {
			if cur.Status != StatusExited {
				return 0, fmt.Errorf("container %s: not running and no exit code recorded (%s)", r.Name, cs.Status(cur))
			}
			return cur.ExitCode, nil
		}
		time.Sleep(poll)
	}
}

// Top writes ps(1) output for the container's processes, through the
// runtime's `ps` (it knows the cgroup); psArgs default to -ef there.
func (cs *Manager) Top(r *Record, psArgs []string, w io.Writer) error {
	if !cs.IsRunning(r) {
		return fmt.Errorf("container %s is not running", r.Name)
	}
	cmd := cs.runtime(r).Command(append([]string{"ps", r.ID}, psArgs...)...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("container %s: %s ps: %w", r.Name, r.Runtime, err)
	}
	return nil
}
