package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

// pathsManager is a Manager answering only Paths.
type pathsManager struct {
	Manager
	paths map[string]string
}

func (m pathsManager) Paths() map[string]string { return m.paths }

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
