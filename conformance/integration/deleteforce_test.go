//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// hostPidNS drops the pid namespace: init's death then ends nothing else,
// and whatever it started outlives it unless the runtime kills it.
func hostPidNS(s *rspec.Spec) {
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool {
		return n.Type == rspec.PIDNamespace
	})
}

// cgroupPids lists the pids of every directory of the container's cgroup.
func cgroupPids(b *bundle) []int {
	var pids []int
	for _, d := range cgroupDirs(b) {
		raw, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(raw)) {
			if p, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, p) {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// deadOrZombie: gone, or exited and waiting for a reaper that is not ours.
func deadOrZombie(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err != nil || strings.Contains(string(st), ") Z ")
}

// delete --force of a container without a pid namespace whose init has
// started, in a new session, a shell that keeps forking sleeps: no process
// of it survives and its cgroup is gone (the bundle's cleanup checks the
// cgroup and the state; a cgroup with a process left cannot be removed).
func TestDeleteForceKillsForkingSession(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c",
		"setsid sh -c 'while :; do sleep 1000 & sleep 0.05; done' </dev/null >/dev/null 2>&1 & exec sleep 1000"}, hostPidNS)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	escWaitFor(t, time.Minute*timeoutScale, "init, the session's shell and three sleeps in the cgroup", func() bool {
		return len(cgroupPids(b)) >= 5
	})
	seen := cgroupPids(b)
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force: exit %d: %s", code, errs)
	}
	for _, pid := range seen {
		if !deadOrZombie(pid) {
			t.Errorf("pid %d of the container survived delete --force", pid)
			unix.Kill(pid, unix.SIGKILL)
		}
	}
	if dirs := cgroupDirs(b); len(dirs) > 0 {
		t.Errorf("cgroup left after delete --force: %v", dirs)
	}
}

// A cgroup that cannot be removed (here a tmpfs mounted on a sub-cgroup:
// rmdir says EBUSY) fails delete --force with an error naming it, and the
// container stays listed so that delete can be retried, as runc >= 1.2
// does (1.1.5 prints the error, removes the state and exits 0). Once the
// mount is gone, delete finishes.
func TestDeleteForceReportsCgroupLeft(t *testing.T) {
	if filepath.Base(myrun) == "runc" {
		t.Skip("runc 1.1.5 exits 0 here")
	}
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	dirs := cgroupDirs(b)
	if len(dirs) == 0 {
		t.Fatal("no cgroup directory found for the container")
	}
	slices.Sort(dirs)
	sub := filepath.Join(dirs[0], "held")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=4k"); err != nil {
		os.Remove(sub)
		t.Fatal(err)
	}
	unmount := func() {
		unix.Unmount(sub, unix.MNT_DETACH)
		os.Remove(sub)
	}
	defer unmount()
	_, errs, code := b.myrun("delete", "--force", b.id)
	if code == 0 || !strings.Contains(errs, dirs[0]) {
		t.Errorf("delete --force with the cgroup held: exit %d, stderr %q; want non-zero naming %s", code, errs, dirs[0])
	}
	if out, _, _ := b.myrun("list", "-q"); strings.TrimSpace(out) != b.id {
		t.Errorf("after the failed delete, list says %q, want %s kept", out, b.id)
	}
	if st := b.state(); st["status"] != "stopped" {
		t.Errorf("status %v after delete --force killed init, want stopped", st["status"])
	}
	unmount()
	if _, errs, code := b.myrun("delete", b.id); code != 0 {
		t.Fatalf("delete once the mount is gone: exit %d: %s", code, errs)
	}
}
