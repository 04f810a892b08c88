package libcontainer

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/state"
	"github.com/myrun-org/myrun/specs"
)

// The resctrl group made at create is recorded beside state.json, found
// again for exec (join) and removed at delete; over a fake resctrl root
// with a pre-made closID group (resctrl's own writes are tested in
// libcontainer/resctrl).
func TestRdtRecordJoinDestroy(t *testing.T) {
	root := t.TempDir()
	old := specs.ResctrlRoot
	specs.ResctrlRoot = root
	defer func() { specs.ResctrlRoot = old }()
	gold := filepath.Join(root, "gold")
	os.MkdirAll(filepath.Join(gold, "mon_groups"), 0o755)
	os.WriteFile(filepath.Join(gold, "tasks"), nil, 0o644)

	store := &state.Store{Root: t.TempDir()}
	h, err := store.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unlock()
	if g, err := setupRdt(h, "c1", &rspec.Spec{Linux: &rspec.Linux{}}); g != nil || err != nil {
		t.Fatalf("no intelRdt: %v %v", g, err)
	}
	if g, err := rdtOf(h); g != nil || err != nil {
		t.Fatalf("nothing recorded: %v %v", g, err)
	}
	spec := &rspec.Spec{Linux: &rspec.Linux{IntelRdt: &rspec.LinuxIntelRdt{ClosID: "gold", EnableMonitoring: true}}}
	if _, err := setupRdt(h, "c1", spec); err != nil {
		t.Fatal(err)
	}
	g, err := rdtOf(h)
	if err != nil || g == nil || g.Dir != gold || g.Mon != filepath.Join(gold, "mon_groups", "c1") {
		t.Fatalf("recorded %+v %v", g, err)
	}
	// A fake MON group has no tasks file of its own until we make one.
	os.WriteFile(filepath.Join(g.Mon, "tasks"), nil, 0o644)
	if err := g.Join(123); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(g.Mon, "tasks")); string(b) != "123\n" {
		t.Errorf("tasks %q", b)
	}
	os.Remove(filepath.Join(g.Mon, "tasks")) // rmdir of a real group takes its files along
	r := &Runtime{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r.destroyRdt(h)
	if _, err := os.Stat(g.Mon); !os.IsNotExist(err) {
		t.Error("MON group left behind")
	}
	if _, err := os.Stat(gold); err != nil {
		t.Error("the closID group must stay")
	}
}
