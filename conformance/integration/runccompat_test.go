//go:build integration

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Behaviours of runc that callers rely on, checked side by side with the
// installed runc (1.1.5 here) on the same bundle.

// runc runs the installed runc with a --root of the bundle's own; the
// container is force-deleted when the test ends.
func (b *bundle) runc(args ...string) (string, string, int) {
	b.t.Helper()
	root := filepath.Join(b.dir, "runc-state")
	if !b.runcCleanup {
		b.runcCleanup = true
		id := b.id
		// Registered after newBundle's: runs before the myrun cleanup
		// checks that nothing is left.
		b.t.Cleanup(func() { exec.Command("runc", "--root", root, "delete", "--force", id).Run() })
	}
	return runCmd(b.t, 60*time.Second, exec.Command("runc", append([]string{"--root", root}, args...)...))
}

// both runs the same command line under myrun and runc and returns their
// results, runc's second. The container is deleted in between.
func (b *bundle) both(args ...string) (mine, theirs result) {
	b.t.Helper()
	mine.out, mine.err, mine.code = b.myrun(args...)
	b.myrun("delete", "--force", b.id)
	theirs.out, theirs.err, theirs.code = b.runc(args...)
	b.runc("delete", "--force", b.id)
	return mine, theirs
}

type result struct {
	out, err string
	code     int
}

func (r result) String() string { return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err) }

// precreate makes the container's cgroup in every v1 hierarchy (and the
// hybrid cgroup2 mount) before the runtime does, and removes it at the end.
func precreate(t *testing.T, b *bundle) []string {
	t.Helper()
	var dirs []string
	for _, c := range []string{"freezer", "devices", "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "unified"} {
		d := filepath.Join("/sys/fs/cgroup", c, cgroupParent, b.id)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	if cs := "/sys/fs/cgroup/cpuset"; exists(cs) {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, _ := os.ReadFile(filepath.Join(cs, f))
			os.WriteFile(filepath.Join(cs, cgroupParent, f), v, 0)
			os.WriteFile(filepath.Join(cs, cgroupParent, b.id, f), v, 0)
		}
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "freezer.state"), []byte("THAWED"), 0)
		os.WriteFile(filepath.Join("/sys/fs/cgroup/unified", cgroupParent, b.id, "cgroup.freeze"), []byte("0"), 0)
		for _, d := range dirs {
			for i := 0; i < 100 && exists(d); i++ {
				if os.Remove(d) != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
	})
	return dirs
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// A pre-existing frozen cgroup: init would freeze on its way in and
// `run -d` would never return. runc refuses it; so do we, with its words,
// and the cgroup (not ours) stays as it was.
func TestRuncFrozenCgroupRefused(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	fz := filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "freezer.state")
	if err := os.WriteFile(fz, []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	mine, theirs := b.both("run", "-d", "--bundle", b.dir, b.id)
	const want = "container's cgroup unexpectedly frozen"
	if theirs.code == 0 || !strings.Contains(theirs.err, want) {
		t.Fatalf("runc: %v", theirs)
	}
	if mine.code == 0 || !strings.Contains(mine.err, want) {
		t.Fatalf("myrun: %v (runc: %v)", mine, theirs)
	}
	if st, _ := os.ReadFile(fz); strings.TrimSpace(string(st)) != "FROZEN" || !exists(filepath.Dir(fz)) {
		t.Errorf("the pre-existing cgroup was changed: %q", st)
	}
	if ents, _ := os.ReadDir(b.root); len(ents) > 0 {
		t.Errorf("state left behind: %v", ents)
	}
}

// The same with the hybrid host's cgroup2 side frozen (cgroup.freeze).
func TestFrozenUnifiedCgroupRefused(t *testing.T) {
	if !exists("/sys/fs/cgroup/unified/cgroup.controllers") {
		t.Skip("not a hybrid host")
	}
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	if err := os.WriteFile(filepath.Join("/sys/fs/cgroup/unified", cgroupParent, b.id, "cgroup.freeze"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	_, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id)
	if code == 0 || !strings.Contains(errs, "container's cgroup unexpectedly frozen") {
		t.Fatalf("run -d: exit %d: %s", code, errs)
	}
}

// A cgroup that already has processes: runc warns and runs.
func TestRuncNonEmptyCgroupWarns(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	for _, c := range []string{"devices", "freezer", "memory", "pids"} {
		os.WriteFile(filepath.Join("/sys/fs/cgroup", c, cgroupParent, b.id, "cgroup.procs"), []byte(fmt.Sprint(sleeper.Process.Pid)), 0)
	}
	const want = "container's cgroup is not empty: 1 process(es) found"
	_, theirs := result{}, result{}
	theirs.out, theirs.err, theirs.code = b.runc("run", "--bundle", b.dir, b.id)
	if theirs.code != 0 || !strings.Contains(theirs.err, want) {
		t.Fatalf("runc: %v", theirs)
	}
	_, errs, code := b.run()
	if code != 0 || !strings.Contains(errs, want) {
		t.Fatalf("myrun run: exit %d: %s", code, errs)
	}
}

// resources.unified where cgroup v1 holds the controller: runc refuses
// with "invalid configuration", before creating anything.
func TestRuncUnifiedOnV1Refused(t *testing.T) {
	if exists("/sys/fs/cgroup/cgroup.controllers") {
		t.Skip("pure cgroup v2 host")
	}
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Linux.Resources.Unified = map[string]string{"memory.high": "100000000"}
	})
	mine, theirs := b.both("run", "-d", "--bundle", b.dir, b.id)
	if theirs.code == 0 || !strings.Contains(theirs.err, "invalid configuration") {
		t.Fatalf("runc: %v", theirs)
	}
	if mine.code == 0 || !strings.Contains(mine.err, "invalid configuration") || !strings.Contains(mine.err, "linux.resources.unified") {
		t.Fatalf("myrun: %v", mine)
	}
	b.assertNothingLeft()
}
