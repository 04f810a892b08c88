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

// nestCgroups makes sub/deeper below every directory of the container's
// cgroup (cpuset's sub-cgroups get their parent's cpus and mems) and
// moves pids into each deeper one.
func nestCgroups(t *testing.T, b *bundle, pids ...int) {
	t.Helper()
	dirs := cgroupDirs(b)
	if len(dirs) == 0 {
		t.Fatal("no cgroup directory found for the container")
	}
	for _, top := range dirs {
		deeper := filepath.Join(top, "sub", "deeper")
		if err := os.MkdirAll(deeper, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(top, f)); err == nil {
				os.WriteFile(filepath.Join(top, "sub", f), v, 0)
				os.WriteFile(filepath.Join(deeper, f), v, 0)
			}
		}
		for _, p := range pids {
			if err := os.WriteFile(filepath.Join(deeper, "cgroup.procs"), []byte(strconv.Itoa(p)), 0); err != nil {
				t.Fatalf("%s: moving %d: %v", deeper, p, err)
			}
		}
	}
}

// delete of a stopped container removes its cgroups in every hierarchy
// with the empty sub-cgroups made below them, and (no pid namespace) a
// process that outlived init in a nested sub-cgroup is killed and its
// cgroup removed too: delete's first rmdir without retries fails there
// (EBUSY) and the kill walk runs as before.
func TestDeleteStoppedRemovesNestedCgroups(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"empty", []string{"true"}},
		{"leftover", []string{"sh", "-c", "setsid sleep 1000 </dev/null >/dev/null 2>&1 & exec sleep 1000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, c.args, hostPidNS)
			if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
				t.Fatalf("run -d: %s", errs)
			}
			init := int(b.state()["pid"].(float64))
			var left []int
			if c.name == "leftover" {
				escWaitFor(t, time.Minute*timeoutScale, "init and the sleep in the cgroup", func() bool {
					return len(cgroupPids(b)) >= 2
				})
				left = slices.DeleteFunc(cgroupPids(b), func(p int) bool { return p == init })
				unix.Kill(init, unix.SIGKILL)
			}
			escWaitFor(t, time.Minute*timeoutScale, "the container stopped", func() bool {
				return b.state()["status"] == "stopped"
			})
			nestCgroups(t, b, left...)
			if _, errs, code := b.myrun("delete", b.id); code != 0 {
				t.Fatalf("delete: exit %d: %s", code, errs)
			}
			for _, pid := range left {
				if !deadOrZombie(pid) {
					t.Errorf("pid %d outlived delete", pid)
					unix.Kill(pid, unix.SIGKILL)
				}
			}
			b.checkGone("after delete")
		})
	}
}
