package container

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
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
	if err := refuseDescriptors(psArgs); err != nil {
		return err
	}
	cmd := cs.runtime(r).Command(append([]string{"ps", r.ID}, psArgs...)...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("container %s: %s ps: %w", r.Name, r.Runtime, err)
	}
	return nil
}

// podmanDescriptors are podman top's AIX-format descriptors. ps(1) reads
// none of them as options; podman's meaning (pid and user as seen inside
// the container's namespaces, capabilities, seccomp) is not what a host
// ps gives, so they are refused by name rather than passed to fail there.
var podmanDescriptors = map[string]bool{
	"args": true, "capamb": true, "capbnd": true, "capeff": true, "capinh": true,
	"capprm": true, "comm": true, "etime": true, "group": true, "hgroup": true,
	"hpid": true, "huser": true, "label": true, "nice": true, "pcpu": true,
	"pgid": true, "pid": true, "ppid": true, "rgroup": true, "ruser": true,
	"seccomp": true, "state": true, "stime": true, "time": true, "tty": true,
	"user": true, "vsz": true,
}

func refuseDescriptors(psArgs []string) error {
	var got []string
	for _, a := range psArgs {
		if strings.HasPrefix(a, "-") {
			return nil // ps(1) options: as podman, all go to ps
		}
		// Separate words, or one comma-separated word, as podman takes them.
		parts := strings.Split(a, ",")
		if !slices.ContainsFunc(parts, func(p string) bool { return !podmanDescriptors[p] }) {
			got = append(got, parts...)
		}
	}
	if len(got) == 0 {
		return nil
	}
	return fmt.Errorf("top: podman's format descriptors (%s) are not supported: give ps(1) options, e.g. -o %s",
		strings.Join(got, " "), strings.Join(got, ","))
}
