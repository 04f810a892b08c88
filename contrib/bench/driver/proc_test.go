package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestReaperRun(t *testing.T) {
	r, err := newReaper()
	if err != nil {
		t.Fatal(err)
	}
	res := r.run(cmd{Argv: []string{"/bin/sh", "-c", "echo out; echo err >&2"}})
	if res.Err != nil || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Fatalf("sh: %+v", res)
	}
	if res.Wall <= 0 || res.MaxRSSKB() <= 0 {
		t.Fatalf("no measurement: wall %v rss %d", res.Wall, res.MaxRSSKB())
	}
	if res := r.run(cmd{Argv: []string{"/bin/sh", "-c", "exit 3"}}); res.Err == nil || !strings.Contains(res.Err.Error(), "exit status 3") {
		t.Fatalf("exit 3: %v", res.Err)
	}
	// An orphan (the grandchild) comes back to us as subreaper.
	res = r.run(cmd{Argv: []string{"/bin/sh", "-c", "sleep 0.2 & echo $!"}})
	var pid int
	if _, err := fmt.Sscan(res.Stdout, &pid); err != nil {
		t.Fatalf("pid %q: %v", res.Stdout, err)
	}
	if _, ok := r.waitOrphan(pid, 5*time.Second); !ok {
		t.Fatalf("orphan %d not reaped", pid)
	}
}

func TestHiddenUnified(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	hybrid := isCgroup2(unifiedDir)
	h, err := newHiddenUnified()
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReaper()
	if err != nil {
		t.Fatal(err)
	}
	res := r.run(cmd{Argv: []string{"/usr/bin/stat", "-f", "-c", "%T", unifiedDir}, Spawn: h.do})
	if res.Err != nil {
		t.Skip(res.Err)
	}
	if !hybrid {
		t.Skip("no cgroup2 at " + unifiedDir)
	}
	if got := strings.TrimSpace(res.Stdout); got != "tmpfs" {
		t.Fatalf("child sees %q at %s, want tmpfs", got, unifiedDir)
	}
	if !isCgroup2(unifiedDir) {
		t.Fatal("the host's mount namespace changed")
	}
}

func TestWriteBundle(t *testing.T) {
	dir := t.TempDir()
	if err := writeBundle(dir, benchSpec("/r", []string{"/bin/true"}), "/bench-1/x"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Linux.CgroupsPath != "/bench-1/x" || s.Root.Path != "/r" || !s.Root.Readonly || s.Version != "1.1.0" {
		t.Fatalf("spec = %+v", s)
	}
}
