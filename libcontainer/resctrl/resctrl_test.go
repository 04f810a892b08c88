package resctrl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeTree makes a resctrl-like tree: groups get schemata and tasks files
// on mkdir, and rmdir takes them along.
func fakeTree(t *testing.T) string {
	root := t.TempDir()
	for _, f := range []string{"schemata", "tasks"} {
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	os.MkdirAll(filepath.Join(root, "info"), 0o755)
	os.WriteFile(filepath.Join(root, "info", "last_cmd_status"), []byte("ok\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "mon_groups"), 0o755)
	oldMk, oldRm := mkdir, rmdir
	mkdir = func(p string, m os.FileMode) error {
		if err := os.Mkdir(p, m); err != nil {
			return err
		}
		os.WriteFile(filepath.Join(p, "tasks"), nil, 0o644)
		if filepath.Base(filepath.Dir(p)) != "mon_groups" {
			os.WriteFile(filepath.Join(p, "schemata"), nil, 0o644)
			os.Mkdir(filepath.Join(p, "mon_groups"), 0o755)
		}
		return nil
	}
	rmdir = func(p string) error {
		if _, err := os.Stat(p); err != nil {
			return err
		}
		return os.RemoveAll(p)
	}
	t.Cleanup(func() { mkdir, rmdir = oldMk, oldRm })
	return root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Without closID: a group named after the container, schemata written
// l3CacheSchema, memBwSchema, schemata in that order, a MON group, and
// all of it removed by Destroy.
func TestSetupOwnGroup(t *testing.T) {
	root := fakeTree(t)
	rdt := &rspec.LinuxIntelRdt{L3CacheSchema: "L3:0=7f0", MemBwSchema: "MB:0=20", Schemata: []string{"L2:0=f", "MB:0=30"}, EnableMonitoring: true}
	g, err := Setup(root, "ctr", rdt)
	if err != nil {
		t.Fatal(err)
	}
	if g.Dir != filepath.Join(root, "ctr") || !g.Owned || g.Mon != filepath.Join(root, "ctr", "mon_groups", "ctr") {
		t.Fatalf("group %+v", g)
	}
	if got := read(t, filepath.Join(g.Dir, "schemata")); got != "L3:0=7f0\nMB:0=20\nL2:0=f\nMB:0=30\n" {
		t.Errorf("schemata writes %q", got)
	}
	if err := g.Join(42); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(g.Mon, "tasks")); got != "42\n" {
		t.Errorf("MON group tasks %q", got)
	}
	if err := g.Update("L3:0=ff", "MB:0=50"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(g.Dir, "schemata")); !strings.HasSuffix(got, "L3:0=ff\nMB:0=50\n") {
		t.Errorf("update wrote %q", got)
	}
	if err := g.Destroy(); err != nil {
		t.Fatal(err)
	}
	if exists(g.Dir) {
		t.Error("own group left behind")
	}
}

// A closID that exists is joined, never removed; its schemata must match.
func TestSetupExistingClosID(t *testing.T) {
	root := fakeTree(t)
	mkdir(filepath.Join(root, "gold"), 0o755)
	os.WriteFile(filepath.Join(root, "gold", "schemata"), []byte("    L3:0=07f0;1=1f\n    MB:0=100;1=100\n"), 0o644)
	g, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=7f0;1=1f"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Owned || g.Mon != "" {
		t.Errorf("group %+v", g)
	}
	if err := g.Join(7); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, "gold", "tasks")); got != "7\n" {
		t.Errorf("tasks %q", got)
	}
	g.Destroy()
	if !exists(filepath.Join(root, "gold")) {
		t.Error("a closID group was removed")
	}
	if _, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "gold", MemBwSchema: "MB:0=20"}); err == nil || !strings.Contains(err.Error(), "linux.intelRdt.closID") {
		t.Errorf("mismatched schemata: %v", err)
	}
	// No schemata: joined as is.
	if _, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "gold"}); err != nil {
		t.Error(err)
	}
}

// An unknown closID without schemata is an error; with schemata it is
// created (and kept on delete, per the spec).
func TestSetupUnknownClosID(t *testing.T) {
	root := fakeTree(t)
	if _, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "nope"}); err == nil || !strings.Contains(err.Error(), `linux.intelRdt.closID: unknown resctrl group "nope"`) {
		t.Errorf("unknown closID: %v", err)
	}
	if exists(filepath.Join(root, "nope")) {
		t.Error("created a group for an unknown closID")
	}
	g, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "new", MemBwSchema: "MB:0=40", EnableMonitoring: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(root, "new", "schemata")); got != "MB:0=40\n" {
		t.Errorf("schemata %q", got)
	}
	g.Destroy()
	if !exists(filepath.Join(root, "new")) || exists(filepath.Join(root, "new", "mon_groups", "ctr")) {
		t.Error("delete must keep the closID group and remove the MON group")
	}
}

// closID "/" is the default group (the root); a failed schemata write
// leaves nothing and names the field.
func TestSetupRootAndFailure(t *testing.T) {
	root := fakeTree(t)
	g, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{ClosID: "/", EnableMonitoring: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Dir != root || g.Owned || g.Mon != filepath.Join(root, "mon_groups", "ctr") {
		t.Errorf("group %+v", g)
	}
	g.Destroy()
	if !exists(root) || exists(g.Mon) {
		t.Error("root group removed or MON group kept")
	}
	old := writef
	writef = func(string, []byte) error { return os.ErrInvalid }
	defer func() { writef = old }()
	if _, err := Setup(root, "ctr", &rspec.LinuxIntelRdt{L3CacheSchema: "L3:0=zz", EnableMonitoring: true}); err == nil || !strings.Contains(err.Error(), "linux.intelRdt") {
		t.Errorf("failed write: %v", err)
	}
	if exists(filepath.Join(root, "ctr")) {
		t.Error("group left behind after a failed setup")
	}
	// The container's own name taken already.
	mkdir(filepath.Join(root, "ctr2"), 0o755)
	if _, err := Setup(root, "ctr2", &rspec.LinuxIntelRdt{}); err == nil || !exists(filepath.Join(root, "ctr2")) {
		t.Errorf("existing group: %v (and it must be kept)", err)
	}
}
