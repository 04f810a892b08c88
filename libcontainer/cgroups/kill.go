package cgroups

import (
	"os"
	"path/filepath"
)

// KillAll sends SIGKILL to every process of m's cgroup and its
// descendants at once by writing cgroup.kill (pure cgroup v2, Linux >=
// 5.14): nothing can fork past it, and frozen processes die too. ok is
// false where there is no such file to write (v1, hybrid, older kernels,
// no cgroup): the caller signals the pids itself then.
func KillAll(m Manager) (ok bool, err error) {
	dir := m.Paths()[""]
	if dir == "" {
		return false, nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.kill"), os.O_WRONLY, 0)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	_, err = f.WriteString("1")
	return true, err
}
