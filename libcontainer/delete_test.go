package libcontainer

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// busyCgroup is a container cgroup whose removal fails (EBUSY, as rmdir
// of a cgroup with something mounted in it) until busy is cleared. It
// counts the calls: Paths is where the kill walk starts.
type busyCgroup struct {
	cgroups.Manager
	dir      string
	busy     bool
	destroys int
	quick    int // RemoveIfEmpty
	paths    int
}

func (m *busyCgroup) Paths() map[string]string {
	m.paths++
	return map[string]string{"pids": m.dir}
}

func (m *busyCgroup) RemoveIfEmpty() error {
	m.quick++
	if m.busy {
		return &os.PathError{Op: "rmdir", Path: m.dir, Err: unix.EBUSY}
	}
	return nil
}
func (m *busyCgroup) Exists() bool  { return true }
func (m *busyCgroup) Freeze() error { return errors.New("no freezer") }
func (m *busyCgroup) Thaw() error   { return nil }
func (m *busyCgroup) Destroy() error {
	m.destroys++
	if m.busy {
		return &os.PathError{Op: "rmdir", Path: m.dir, Err: unix.EBUSY}
	}
	return nil
}

// A cgroup that cannot be removed fails delete with an error naming it,
// and the container stays (runc >= 1.2) so a later delete can finish the
// job; it does once the cgroup lets go. Before, delete warned, removed
// the state and returned nil, leaving the cgroup behind unrecorded.
func TestDeleteFailsWhenCgroupStays(t *testing.T) {
	oldTries, oldGap := destroyTries, destroyRetryGap
	t.Cleanup(func() { destroyTries, destroyRetryGap = oldTries, oldGap })
	destroyTries, destroyRetryGap = 3, 0

	root := t.TempDir()
	r := New(root, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h, err := r.store.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Save(&state.State{ID: "c1", Config: &rspec.Spec{Linux: &rspec.Linux{}}}); err != nil {
		t.Fatal(err)
	}
	h.Unlock()
	cg := &busyCgroup{dir: filepath.Join(t.TempDir(), "pids", "c1"), busy: true}
	os.MkdirAll(cg.dir, 0o755)
	os.WriteFile(filepath.Join(cg.dir, "cgroup.procs"), nil, 0o644)
	r.rememberCgroup("c1", cg)

	err = r.Delete("c1", true)
	if err == nil || !strings.Contains(err.Error(), cg.dir) || !errors.Is(err, unix.EBUSY) {
		t.Fatalf("delete with a busy cgroup: %v, want an EBUSY error naming %s", err, cg.dir)
	}
	if cg.destroys != destroyTries {
		t.Errorf("%d removal attempts, want %d", cg.destroys, destroyTries)
	}
	if ids, _ := r.List(); len(ids) != 1 {
		t.Fatalf("containers after the failed delete: %v, want c1 kept", ids)
	}
	cg.busy = false
	if err := r.Delete("c1", false); err != nil {
		t.Fatalf("delete again once the cgroup lets go: %v", err)
	}
	if ids, _ := r.List(); len(ids) != 0 {
		t.Fatalf("containers after delete: %v", ids)
	}
}

// delete of a stopped container whose cgroup is empty: one removal
// without retries proves it empty, and the kill walk (ThawTree and the
// cgroup.procs listing of every hierarchy and sub-cgroup, both started
// from Paths) and the retrying Destroy are skipped. A busy cgroup still
// gets both. Before, every delete walked: 11 directories on a hybrid host.
func TestDestroyEmptyCgroupSkipsKillWalk(t *testing.T) {
	oldTries, oldGap := destroyTries, destroyRetryGap
	t.Cleanup(func() { destroyTries, destroyRetryGap = oldTries, oldGap })
	destroyTries, destroyRetryGap = 1, 0
	cg := &busyCgroup{dir: filepath.Join(t.TempDir(), "pids", "c1")}
	os.MkdirAll(cg.dir, 0o755)
	os.WriteFile(filepath.Join(cg.dir, "cgroup.procs"), nil, 0o644)
	if err := destroyCgroup(cg); err != nil {
		t.Fatal(err)
	}
	if cg.quick != 1 || cg.paths != 0 || cg.destroys != 0 {
		t.Errorf("empty cgroup: %d quick removals, %d Paths, %d Destroy; want 1, 0, 0", cg.quick, cg.paths, cg.destroys)
	}
	cg = &busyCgroup{dir: cg.dir, busy: true}
	if err := destroyCgroup(cg); err == nil {
		t.Fatal("busy cgroup: destroyCgroup succeeded")
	}
	if cg.quick != 1 || cg.paths == 0 || cg.destroys != 1 {
		t.Errorf("busy cgroup: %d quick removals, %d Paths, %d Destroy; want 1, >0, 1", cg.quick, cg.paths, cg.destroys)
	}
}
