package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// pathsManager is a Manager answering only Paths.
type pathsManager struct {
	Manager
	paths map[string]string
}

func (m pathsManager) Paths() map[string]string { return m.paths }
func (m pathsManager) Freeze() error            { return errors.New("no freezer") }
func (m pathsManager) Thaw() error              { return nil }

func TestKillAllWritesCgroupKill(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cgroup.kill"), nil, 0o200)
	ok, err := KillAll(pathsManager{paths: map[string]string{"": dir}})
	if !ok || err != nil {
		t.Fatalf("KillAll on a v2 cgroup: %v %v", ok, err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "cgroup.kill")); string(raw) != "1" {
		t.Errorf("cgroup.kill holds %q, want 1", raw)
	}
	// No cgroup.kill (kernel < 5.14), or not pure v2: the caller signals.
	if ok, _ := KillAll(pathsManager{paths: map[string]string{"": t.TempDir()}}); ok {
		t.Error("KillAll claimed success without cgroup.kill")
	}
	if ok, _ := KillAll(pathsManager{paths: map[string]string{"unified": dir, "pids": dir}}); ok {
		t.Error("KillAll used cgroup.kill of a hybrid host's unified dir")
	}
}

// fakeProcs plays the kernel for KillUntilEmpty over plain directories
// below root: a SIGKILLed pid leaves the cgroup.procs that lists it; a pid
// in forks first puts its child in the child's dir, as a process does that
// forks while the signal is on its way; a pid in immortal never leaves.
type fakeProcs struct {
	t        *testing.T
	root     string
	forks    map[int]fakeChild
	immortal map[int]bool
	kills    map[int]int
}

type fakeChild struct {
	pid int
	dir string
}

func newFakeProcs(t *testing.T) *fakeProcs {
	f := &fakeProcs{t: t, root: t.TempDir(), forks: map[int]fakeChild{}, immortal: map[int]bool{}, kills: map[int]int{}}
	oldKill, oldGap := killFn, killGap
	t.Cleanup(func() { killFn, killGap = oldKill, oldGap })
	killFn, killGap = f.kill, 0
	return f
}

// put adds pids to dir's cgroup.procs (dir is below root; made if missing).
func (f *fakeProcs) put(dir string, pids ...int) {
	f.t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	s := string(b)
	for _, p := range pids {
		s += strconv.Itoa(p) + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(s), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeProcs) kill(pid int, sig unix.Signal) error {
	f.kills[pid]++
	if sig != unix.SIGKILL {
		f.t.Errorf("signal %v to %d, want SIGKILL", sig, pid)
	}
	if c, ok := f.forks[pid]; ok {
		delete(f.forks, pid)
		f.put(c.dir, c.pid)
	}
	if f.immortal[pid] {
		return nil
	}
	filepath.WalkDir(f.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		keep := slices.DeleteFunc(strings.Fields(string(b)), func(s string) bool { return s == strconv.Itoa(pid) })
		out := ""
		for _, k := range keep {
			out += k + "\n"
		}
		os.WriteFile(p, []byte(out), 0o644)
		return nil
	})
	return nil
}

// delete --force on a v1 host (no cgroup.kill): children forked in a
// sub-cgroup while the signal is on its way, and a process left in only
// one hierarchy by a create killed mid-placement, are all killed, each
// once, and the cgroups end empty. One pass (what destroy did: every pid
// of Pids signalled once) leaves the grandchildren.
func TestKillUntilEmptyReachesForksAndEveryHierarchy(t *testing.T) {
	f := newFakeProcs(t)
	pids, mem := filepath.Join(f.root, "pids", "c1"), filepath.Join(f.root, "memory", "c1")
	f.put(pids, 100)
	f.put(filepath.Join(pids, "sub"), 200)
	f.put(mem, 100, 300) // 300: in memory only
	f.forks[200] = fakeChild{201, filepath.Join(pids, "sub")}
	f.forks[201] = fakeChild{202, filepath.Join(pids, "sub", "deeper")}
	m := pathsManager{paths: map[string]string{"pids": pids, "memory": mem, "cpu": mem, "cpuacct": mem}}
	if err := KillUntilEmpty(m, 10); err != nil {
		t.Fatal(err)
	}
	if left := procs(m); len(left) > 0 {
		t.Errorf("left in the cgroups: %v", left)
	}
	for _, pid := range []int{100, 200, 201, 202, 300} {
		if f.kills[pid] != 1 {
			t.Errorf("pid %d got %d SIGKILLs, want 1 (all: %v)", pid, f.kills[pid], f.kills)
		}
	}
}

// The loop is bounded: a process that does not go (a task stuck in the
// kernel) gets one SIGKILL a round, and the error names the cgroup
// directory and the pid.
func TestKillUntilEmptyIsBounded(t *testing.T) {
	f := newFakeProcs(t)
	dir := filepath.Join(f.root, "c1")
	f.put(dir, 666)
	f.immortal[666] = true
	err := KillUntilEmpty(pathsManager{paths: map[string]string{"pids": dir}}, 3)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "666") {
		t.Fatalf("error %v, want one naming %s and pid 666", err, dir)
	}
	if f.kills[666] != 3 {
		t.Errorf("%d SIGKILLs in 3 rounds", f.kills[666])
	}
	// Empty: nothing to signal, no error.
	if err := KillUntilEmpty(pathsManager{paths: map[string]string{"pids": t.TempDir()}}, 3); err != nil {
		t.Errorf("empty cgroup: %v", err)
	}
}

// Where cgroup.kill exists each round writes it and signals no pid itself.
func TestKillUntilEmptyUsesCgroupKill(t *testing.T) {
	f := newFakeProcs(t)
	dir := filepath.Join(f.root, "c1")
	f.put(dir, 7)
	os.WriteFile(filepath.Join(dir, "cgroup.kill"), nil, 0o200)
	// The fake kernel does not act on the write: 7 stays, and is named.
	if err := KillUntilEmpty(pathsManager{paths: map[string]string{"": dir}}, 2); err == nil || !strings.Contains(err.Error(), "7") {
		t.Errorf("error %v, want one naming pid 7", err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "cgroup.kill")); string(raw) != "1" {
		t.Errorf("cgroup.kill holds %q, want 1", raw)
	}
	if len(f.kills) > 0 {
		t.Errorf("pids signalled one by one beside cgroup.kill: %v", f.kills)
	}
}
