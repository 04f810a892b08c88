package cgroups

import (
	"os"
	"path/filepath"
	"testing"
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
