package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	lib "github.com/opencontainers/cgroups"
)

// freezerDir makes a fake cgroup dir holding files (name -> content).
func freezerDir(t *testing.T, files map[string]string) string {
	t.Helper()
	old := lib.TestMode
	lib.TestMode = true // the library opens files outside a cgroupfs
	t.Cleanup(func() { lib.TestMode = old })
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFreezerStateAt(t *testing.T) {
	v1Frozen := freezerDir(t, map[string]string{"freezer.state": "FROZEN\n", "freezer.self_freezing": "1\n"})
	v1ByParent := freezerDir(t, map[string]string{"freezer.state": "FROZEN\n", "freezer.self_freezing": "0\n"})
	v1Thawed := freezerDir(t, map[string]string{"freezer.state": "THAWED\n"})
	v2Frozen := freezerDir(t, map[string]string{"cgroup.freeze": "1\n", "cgroup.events": "populated 1\nfrozen 1\n"})
	v2Thawed := freezerDir(t, map[string]string{"cgroup.freeze": "0\n", "cgroup.events": "populated 1\nfrozen 0\n"})
	for _, c := range []struct {
		name  string
		paths map[string]string
		want  string
	}{
		{"no cgroup", map[string]string{}, ""},
		{"v1 frozen", map[string]string{"freezer": v1Frozen, "memory": v1Thawed}, StateFrozen},
		// As the library's v1 driver: frozen through an ancestor is not ours.
		{"v1 frozen by a parent", map[string]string{"freezer": v1ByParent}, StateThawed},
		{"v1 thawed", map[string]string{"freezer": v1Thawed}, StateThawed},
		// Hybrid: the v1 freezer decides, as the v1 manager's FreezerState.
		{"hybrid v1 thawed", map[string]string{"freezer": v1Thawed, "unified": v2Frozen}, StateThawed},
		{"v2 frozen", map[string]string{"": v2Frozen}, StateFrozen},
		{"v2 thawed", map[string]string{"": v2Thawed}, StateThawed},
		{"v1 dir gone", map[string]string{"freezer": filepath.Join(v1Thawed, "gone")}, ""},
		{"v2 dir gone", map[string]string{"": filepath.Join(v2Thawed, "gone")}, ""},
	} {
		got, err := FreezerStateAt(c.paths)
		if err != nil || got != c.want {
			t.Errorf("%s: FreezerStateAt = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := FreezerStateAt(map[string]string{"freezer": freezerDir(t, map[string]string{"freezer.state": "MELTING\n"})}); err == nil {
		t.Error("an unknown freezer.state was accepted")
	}
}

func TestFrozenBeforeStartAt(t *testing.T) {
	thawed := freezerDir(t, map[string]string{"freezer.state": "THAWED\n"})
	frozen := freezerDir(t, map[string]string{"freezer.state": "FROZEN\n", "freezer.self_freezing": "1\n"})
	unifiedFrozen := freezerDir(t, map[string]string{"cgroup.freeze": "1\n"})
	unifiedThawed := freezerDir(t, map[string]string{"cgroup.freeze": "0\n"})
	for _, c := range []struct {
		name  string
		paths map[string]string
		want  bool
	}{
		{"thawed", map[string]string{"freezer": thawed, "unified": unifiedThawed}, false},
		{"v1 frozen", map[string]string{"freezer": frozen, "unified": unifiedThawed}, true},
		{"hybrid cgroup2 side frozen", map[string]string{"freezer": thawed, "unified": unifiedFrozen}, true},
		{"no cgroup", nil, false},
	} {
		got, err := FrozenBeforeStartAt(c.paths)
		if err != nil || got != c.want {
			t.Errorf("%s: FrozenBeforeStartAt = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
