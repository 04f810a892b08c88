package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// recordedDirs makes a cgroup.procs file in a dir per key under a temp
// dir and returns the paths map of those dirs.
func recordedDirs(t *testing.T, keys ...string) map[string]string {
	t.Helper()
	old := lib.TestMode
	lib.TestMode = true
	t.Cleanup(func() { lib.TestMode = old })
	root := t.TempDir()
	paths := map[string]string{}
	for _, k := range keys {
		d := filepath.Join(root, "h"+k, "ctr")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[k] = d
	}
	return paths
}

func noBuild(t *testing.T) func() (Manager, error) {
	return func() (Manager, error) {
		t.Helper()
		t.Fatal("the manager was built")
		return nil, nil
	}
}

func TestRecordedJoinWritesEveryDir(t *testing.T) {
	paths := recordedDirs(t, "cpu", "devices", "memory", "unified")
	var order []string
	saved := writeCgroupProc
	t.Cleanup(func() { writeCgroupProc = saved })
	writeCgroupProc = func(dir string, pid int) error {
		order = append(order, filepath.Base(filepath.Dir(dir)))
		return saved(dir, pid)
	}
	if err := Recorded(paths, noBuild(t)).Join(42); err != nil {
		t.Fatal(err)
	}
	for k, d := range paths {
		if b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs")); string(b) != "42" {
			t.Errorf("%s: cgroup.procs %q, want 42", k, b)
		}
	}
	// The hybrid host's cgroup2 side goes last, as the v1 manager's Join.
	if got := strings.Join(order, " "); got != "hcpu hdevices hmemory hunified" {
		t.Errorf("written in order %s", got)
	}
	// A cgroup2 side that is gone is not an error (the v1 manager checks
	// it exists too); a v1 hierarchy's dir that is gone is.
	os.RemoveAll(paths["unified"])
	if err := Recorded(paths, noBuild(t)).Join(43); err != nil {
		t.Errorf("without the cgroup2 side: %v", err)
	}
	os.RemoveAll(paths["memory"])
	if err := Recorded(paths, noBuild(t)).Join(44); err == nil || !strings.Contains(err.Error(), "join pid 44") {
		t.Errorf("without the memory dir: %v", err)
	}
}

// joinRecorder is a Manager whose Join records its pid.
type joinRecorder struct {
	Manager
	joined []int
	err    error
}

func (j *joinRecorder) Join(pid int) error { j.joined = append(j.joined, pid); return j.err }

func TestRecordedJoinAsksTheManagerOnlyWhenRefused(t *testing.T) {
	paths := recordedDirs(t, "")
	saved := writeCgroupProc
	t.Cleanup(func() { writeCgroupProc = saved })
	for _, c := range []struct {
		name     string
		write    error
		buildErr error
		joinErr  error
		asked    bool
		wantErr  string
	}{
		{"written", nil, nil, nil, false, ""},
		{"EACCES: the manager joins (systemd attaches)", unix.EACCES, nil, nil, true, ""},
		{"EPERM: the manager joins", unix.EPERM, nil, nil, true, ""},
		{"the manager's error", unix.EACCES, nil, errors.New("attach refused"), true, "attach refused"},
		{"no manager: both named", unix.EPERM, errors.New("systemd is not running"), nil, false,
			"cgroups: join pid 7: operation not permitted; systemd is not running"},
		{"other errors are the answer", unix.ENOENT, nil, nil, false, "cgroups: join pid 7: no such file or directory"},
	} {
		writeCgroupProc = func(string, int) error { return c.write }
		rec := &joinRecorder{err: c.joinErr}
		built := false
		err := Recorded(paths, func() (Manager, error) {
			built = true
			if c.buildErr != nil {
				return nil, c.buildErr
			}
			return rec, nil
		}).Join(7)
		if got := err != nil; got != (c.wantErr != "") || (err != nil && err.Error() != c.wantErr) {
			t.Errorf("%s: Join = %v, want %q", c.name, err, c.wantErr)
		}
		if asked := len(rec.joined) == 1 && rec.joined[0] == 7; asked != c.asked {
			t.Errorf("%s: manager joined %v, want asked %v", c.name, rec.joined, c.asked)
		}
		if built != (c.write == unix.EACCES || c.write == unix.EPERM) {
			t.Errorf("%s: manager built %v", c.name, built)
		}
	}
}

func TestRecordedCgroupFD(t *testing.T) {
	v2 := recordedDirs(t, "")
	fd, err := Recorded(v2, noBuild(t)).CgroupFD()
	if err != nil || fd < 0 {
		t.Fatalf("pure v2: CgroupFD = %d, %v", fd, err)
	}
	var st, want unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || unix.Stat(v2[""], &want) != nil || st.Ino != want.Ino {
		t.Errorf("fd is not the cgroup dir")
	}
	unix.Close(fd)
	// Hybrid and v1: the v1 hierarchies need their writes; no fd.
	if fd, err := Recorded(recordedDirs(t, "devices", "unified"), noBuild(t)).CgroupFD(); fd != -1 || err != nil {
		t.Errorf("hybrid: CgroupFD = %d, %v", fd, err)
	}
	os.RemoveAll(v2[""])
	if _, err := Recorded(v2, noBuild(t)).CgroupFD(); err == nil {
		t.Error("a removed dir gave an fd")
	}
	// Paths is a copy.
	r := Recorded(v2, noBuild(t))
	r.Paths()["x"] = "y"
	if _, ok := r.Paths()["x"]; ok {
		t.Error("Paths shares the recorded map")
	}
}

func TestHierarchyMount(t *testing.T) {
	// sysfs is a filesystem of its own at /sys, as each v1 hierarchy is
	// at /sys/fs/cgroup/<name>.
	if got, ok := hierarchyMount("/sys/kernel/mm"); !ok || got != "/sys" {
		t.Errorf("hierarchyMount(/sys/kernel/mm) = %q %v", got, ok)
	}
	if got, ok := hierarchyMount("/sys"); !ok || got != "/sys" {
		t.Errorf("hierarchyMount(/sys) = %q %v", got, ok)
	}
	// A v1 or hybrid host's devices hierarchy.
	if _, err := os.Stat("/sys/fs/cgroup/devices/cgroup.procs"); err == nil {
		if got, ok := hierarchyMount("/sys/fs/cgroup/devices"); !ok || got != "/sys/fs/cgroup/devices" {
			t.Errorf("hierarchyMount(/sys/fs/cgroup/devices) = %q %v", got, ok)
		}
	}
	if _, ok := hierarchyMount("/no/such/dir"); ok {
		t.Error("a missing dir has a mount")
	}
	if got, ok := hierarchyMount("/"); !ok || got != "/" {
		t.Errorf("hierarchyMount(/) = %q %v", got, ok)
	}
	if root, ok := isMountRoot("/sys/kernel"); !ok || root {
		t.Errorf("isMountRoot(/sys/kernel) = %v %v", root, ok)
	}
}
