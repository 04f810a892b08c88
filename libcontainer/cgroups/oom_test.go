package cgroups

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestOOMKills(t *testing.T) {
	d := t.TempDir()
	v1 := filepath.Join(d, "v1")
	v2 := filepath.Join(d, "v2")
	os.MkdirAll(v1, 0o755)
	os.MkdirAll(v2, 0o755)
	os.WriteFile(filepath.Join(v1, "memory.oom_control"), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 0o644)
	os.WriteFile(filepath.Join(v2, "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n"), 0o644)
	if n, err := OOMKills(map[string]string{"memory": v1}); err != nil || n != 3 {
		t.Fatalf("v1: %d %v", n, err)
	}
	if n, err := OOMKills(map[string]string{"": v2}); err != nil || n != 2 {
		t.Fatalf("v2: %d %v", n, err)
	}
	if _, err := OOMKills(map[string]string{"pids": v1}); err == nil {
		t.Fatal("no memory controller must be an error")
	}
}

// v2: a change of memory.events wakes; its removal (the cgroup went)
// closes the channel.
func TestNotifyOOMV2(t *testing.T) {
	dir := t.TempDir()
	ev := filepath.Join(dir, "memory.events")
	if err := os.WriteFile(ev, []byte("oom 0\noom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wake, stop, err := NotifyOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := os.WriteFile(ev, []byte("oom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-wake:
		if !ok {
			t.Fatal("closed instead of woken")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after memory.events changed")
	}
	os.Remove(ev)
	for deadline := time.After(5 * time.Second); ; {
		select {
		case _, ok := <-wake:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after memory.events went away")
		}
	}
}

// v2 on a real cgroupfs: rmdir of the cgroup takes memory.events with it
// but sends no inotify event for the file (kernfs), only for the
// directory. Here a second hard link keeps the file's inode alive, so its
// unlink, like kernfs, wakes nothing: the channel must close on the rmdir.
func TestNotifyOOMV2CgroupRemoved(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "cg")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "memory.events")
	if err := os.WriteFile(ev, []byte("oom 0\noom_kill 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(ev, filepath.Join(base, "keep")); err != nil {
		t.Fatal(err)
	}
	wake, stop, err := NotifyOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := os.Remove(ev); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	for deadline := time.After(5 * time.Second); ; {
		select {
		case _, ok := <-wake:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after the cgroup directory was removed")
		}
	}
}

func TestNotifyOOMNeedsMemory(t *testing.T) {
	if _, _, err := NotifyOOM(map[string]string{"pids": t.TempDir()}); err == nil {
		t.Fatal("no error without a memory controller")
	}
}
