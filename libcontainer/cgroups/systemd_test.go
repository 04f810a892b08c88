package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseSystemdPath(t *testing.T) {
	for _, c := range []struct {
		path, id  string
		rootless  bool
		want      SystemdPath
		unit, exp string
	}{
		{"system.slice:docker:abc", "x", false, SystemdPath{"system.slice", "docker", "abc"}, "docker-abc.scope", "/system.slice/docker-abc.scope"},
		{"", "ctr", false, SystemdPath{"system.slice", "myrun", "ctr"}, "myrun-ctr.scope", "/system.slice/myrun-ctr.scope"},
		{"", "ctr", true, SystemdPath{"user.slice", "myrun", "ctr"}, "myrun-ctr.scope", "/user.slice/myrun-ctr.scope"},
		{":p:n", "x", false, SystemdPath{"system.slice", "p", "n"}, "p-n.scope", "/system.slice/p-n.scope"},
		{"a-b-c.slice:p:n", "x", false, SystemdPath{"a-b-c.slice", "p", "n"}, "p-n.scope", "/a.slice/a-b.slice/a-b-c.slice/p-n.scope"},
		{"-.slice:p:n", "x", false, SystemdPath{"-.slice", "p", "n"}, "p-n.scope", "/p-n.scope"},
		{"machine.slice:p:sub.slice", "x", false, SystemdPath{"machine.slice", "p", "sub.slice"}, "sub.slice", "/machine.slice/sub.slice"},
	} {
		got, err := ParseSystemdPath(c.path, c.id, c.rootless)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		if got != c.want || got.Unit() != c.unit {
			t.Errorf("%q: %+v unit %s", c.path, got, got.Unit())
		}
		if exp, err := got.Expand(); err != nil || exp != c.exp {
			t.Errorf("%q: Expand = %q, %v; want %q", c.path, exp, err, c.exp)
		}
	}
	for _, bad := range []string{"/a/b", "a:b", "a:b:c:d", "system.slice:p:", "nosuffix:p:n", "a--b.slice:p:n", "system.slice:p:n/x"} {
		if _, err := ParseSystemdPath(bad, "x", false); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSystemdNotRunning(t *testing.T) {
	dir := t.TempDir()
	oldComm, oldRun := pid1Comm, systemdRunDir
	t.Cleanup(func() { pid1Comm, systemdRunDir = oldComm, oldRun })
	pid1Comm = filepath.Join(dir, "comm")
	systemdRunDir = filepath.Join(dir, "run-systemd-system")

	os.WriteFile(pid1Comm, []byte("tini\n"), 0o644)
	os.Mkdir(systemdRunDir, 0o755) // a leftover dir alone is not enough
	if systemdRunning() {
		t.Fatal("PID 1 tini reported as systemd")
	}
	_, err := New(Config{Name: "c", Systemd: true, Path: "system.slice:p:c"})
	if !errors.Is(err, ErrSystemdNotRunning) ||
		err.Error() != "systemd cgroup driver requested but systemd is not running (PID 1 is not systemd)" {
		t.Fatalf("New = %v", err)
	}
	os.WriteFile(pid1Comm, []byte("systemd\n"), 0o644)
	if !systemdRunning() {
		t.Error("systemd as PID 1 with /run/systemd/system not detected")
	}
	os.Remove(systemdRunDir)
	if systemdRunning() {
		t.Error("no /run/systemd/system but detected")
	}
}

// A rootless systemd scope of a created container is found from the
// saved paths: podman runs pause/resume with only XDG_RUNTIME_DIR set,
// where the user manager (asked over D-Bus for its cgroup when the dir
// is derived afresh) may be out of reach.
func TestSystemdRootlessKnownPathNoDbus(t *testing.T) {
	h := newFakeV2(t, "cpu memory pids", "/user.slice/user-1000.slice/user@1000.service/init.scope")
	dir := t.TempDir()
	oldComm, oldRun := pid1Comm, systemdRunDir
	t.Cleanup(func() { pid1Comm, systemdRunDir = oldComm, oldRun })
	pid1Comm = filepath.Join(dir, "comm")
	systemdRunDir = filepath.Join(dir, "run-systemd-system")
	os.WriteFile(pid1Comm, []byte("systemd\n"), 0o644)
	os.Mkdir(systemdRunDir, 0o755)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(dir, "no-bus"))
	t.Setenv("XDG_RUNTIME_DIR", dir)

	scope := filepath.Join(cgroupRoot, "user.slice/user-1000.slice/user@1000.service/user.slice/p-c.scope")
	if err := os.MkdirAll(scope, 0o755); err != nil {
		t.Fatal(err)
	}
	h.kernelFiles(scope)
	cfg := Config{Name: "c", Systemd: true, Rootless: true, Path: "user.slice:p:c"}
	if _, err := New(cfg); err == nil {
		t.Fatal("New without saved paths and without a user bus succeeded: the test does not reach D-Bus")
	}
	cfg.Paths = map[string]string{"": scope}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New with the saved path: %v", err)
	}
	if got := m.Paths()[""]; got != scope {
		t.Fatalf("Paths = %q, want %q", got, scope)
	}
	if st, err := m.FreezerState(); err != nil || st != StateThawed || !m.Exists() {
		t.Fatalf("FreezerState = %q, %v; Exists = %v", st, err, m.Exists())
	}
}
