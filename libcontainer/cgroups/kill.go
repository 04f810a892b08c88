package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// Replaced by tests: the fake cgroupfs's "kernel" takes a killed pid out
// of its cgroup.procs itself, at once.
var (
	killFn  = unix.Kill
	killGap = 10 * time.Millisecond // between rounds: an exit takes the kernel a moment
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

// KillUntilEmpty SIGKILLs the processes of m's cgroups until none is
// left, in at most rounds rounds: each writes cgroup.kill where it exists,
// else signals every pid listed, with the cgroup frozen where it can be. A
// process forked after one listing (no freezer) is in the next. The tree is thawed first (a frozen v1 task takes no SIGKILL).
// The listing reads cgroup.procs in every hierarchy's directory and its
// sub-cgroups: a create killed mid-placement can leave a process in only
// some hierarchies, where Pids (which reads one) does not see it. The
// error names the directories and the pids still there.
func KillUntilEmpty(m Manager, rounds int) error {
	ThawTree(m)
	for i := 0; i < rounds; i++ {
		left := procs(m)
		if len(left) == 0 {
			return nil
		}
		if ok, _ := KillAll(m); !ok {
			// Frozen, none forks past the signals; they die on the thaw.
			frozen := m.Freeze() == nil
			for _, pid := range left {
				killFn(pid, unix.SIGKILL)
			}
			if frozen {
				m.Thaw()
			}
		}
		time.Sleep(killGap)
	}
	if left := procs(m); len(left) > 0 {
		return fmt.Errorf("cgroup %s: processes %v still there after %d rounds of SIGKILL", strings.Join(Dirs(m), ", "), left, rounds)
	}
	return nil
}

// Dirs lists m's directories, sorted, each once (v1 hierarchies mounted
// together share one).
func Dirs(m Manager) []string {
	var dirs []string
	for _, d := range m.Paths() {
		if d != "" && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	return dirs
}

// procs lists, each once, the pids in cgroup.procs of m's directories and
// of every sub-cgroup below them.
func procs(m Manager) []int {
	var pids []int
	for _, dir := range Dirs(m) {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			b, err := smallfile.Read(filepath.Join(p, "cgroup.procs"))
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 0 && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}
