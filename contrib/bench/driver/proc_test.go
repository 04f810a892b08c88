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

func TestSpawner(t *testing.T) {
	r, err := newReaper()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	b := &bench{r: r, work: t.TempDir(), contrib: filepath.Join(wd, "..", "..")}
	if lookup("gcc") == "" && lookup("cc") == "" {
		t.Skip("no C compiler")
	}
	sp, err := b.spawnerFor(false)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	res := sp.run([]string{"/bin/sh", "-c", "echo hi; sleep 0.05"})
	if res.Err != nil || res.Stdout != "hi\n" {
		t.Fatalf("sh: %+v", res)
	}
	if res.Wall < 50*time.Millisecond || res.Wall > 5*time.Second {
		t.Fatalf("wall %v for a 50 ms command", res.Wall)
	}
	// The point of the spawner: maxrss is not the Go test binary's.
	if rss := res.MaxRSSKB(); rss <= 0 || rss > 3<<10 {
		t.Fatalf("maxrss of sh = %d KB, want a small shell's", rss)
	}
	if res := sp.run([]string{"/bin/false"}); res.Err == nil {
		t.Fatal("false succeeded")
	}
	res = sp.run([]string{"/bin/sh", "-c", "sleep 0.1 & echo $!"})
	var pid int
	if _, err := fmt.Sscan(res.Stdout, &pid); err != nil {
		t.Fatalf("pid %q: %v", res.Stdout, err)
	}
	if _, ok := sp.waitOrphan(pid, 5*time.Second); !ok {
		t.Fatalf("orphan %d not reaped by the spawner", pid)
	}
	if os.Getuid() != 0 || !isCgroup2(unifiedDir) {
		return
	}
	hid, err := b.spawnerFor(true)
	if err != nil {
		t.Fatal(err)
	}
	defer hid.close()
	res = hid.run([]string{lookup("stat"), "-f", "-c", "%T", unifiedDir})
	if got := strings.TrimSpace(res.Stdout); res.Err != nil || got != "tmpfs" {
		t.Fatalf("crun's namespace sees %q (%v) at %s, want tmpfs", got, res.Err, unifiedDir)
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
