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
