package libcontainer

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	lib "github.com/opencontainers/cgroups"

	"github.com/myrun-org/myrun/libcontainer/state"
)

// A running container's freezer is read through the cgroup dirs its state
// recorded: no config decode, no manager (a systemd one cannot even be
// built on a host whose PID 1 is not systemd, which made state say
// "running" for a paused container there).
func TestStatusReadsRecordedFreezer(t *testing.T) {
	old := lib.TestMode
	lib.TestMode = true // the fake freezer dirs are not on a cgroupfs
	t.Cleanup(func() { lib.TestMode = old })
	fake := func(files map[string]string) string {
		dir := t.TempDir()
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	frozen := fake(map[string]string{"freezer.state": "FROZEN\n", "freezer.self_freezing": "1\n"})
	thawed := fake(map[string]string{"freezer.state": "THAWED\n"})
	unifiedFrozen := fake(map[string]string{"cgroup.freeze": "1\n"})
	start, _, err := procStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	store := &state.Store{Root: t.TempDir()}
	for i, c := range []struct {
		paths       map[string]string
		status      string
		beforeStart bool
	}{
		{map[string]string{"freezer": frozen}, Paused, true},
		{map[string]string{"freezer": thawed}, Running, false},
		{map[string]string{"freezer": thawed, "unified": unifiedFrozen}, Running, true},
	} {
		h, err := store.Create("c" + string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Unlock()
		// Systemd and no config: building a manager would fail or
		// decode; neither may happen.
		ctr := &container{h: h, st: &state.State{
			ID: h.ID, InitPid: os.Getpid(), InitStartTime: start, Systemd: true, CgroupPaths: c.paths,
		}}
		r := &Runtime{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if got := r.status(ctr); got != c.status {
			t.Errorf("%v: status = %q, want %q", c.paths, got, c.status)
		}
		if got := r.frozenBeforeStart(ctr); got != c.beforeStart {
			t.Errorf("%v: frozenBeforeStart = %v, want %v", c.paths, got, c.beforeStart)
		}
		if len(r.cgroups) != 0 {
			t.Errorf("%v: a cgroup manager was built", c.paths)
		}
	}
}
