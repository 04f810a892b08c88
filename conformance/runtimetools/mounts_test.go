package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

const sampleMountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:5 / /tmp/x/ocitest1/rootfs rw - overlay overlay rw
41 40 0:6 / /tmp/x/ocitest1/rootfs/proc rw - proc proc rw
42 40 0:7 / /tmp/x/ocitest1/rootfs/dev rw - tmpfs tmpfs rw
43 22 0:8 / /tmp/with\040space rw - tmpfs tmpfs rw
44 22 0:9 / /tmp/xy rw - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	m := parseMountinfo(sampleMountinfo)
	if len(m) != 6 {
		t.Fatalf("got %d entries", len(m))
	}
	if m[4].MountPoint != "/tmp/with space" || m[4].ID != 43 {
		t.Fatalf("unescape: %+v", m[4])
	}
}

func TestNewMountsUnder(t *testing.T) {
	all := parseMountinfo(sampleMountinfo)
	before := all[:2] // / and the rootfs existed already
	got := newMountsUnder(before, all, []string{"/tmp/x"})
	want := []string{"/tmp/x/ocitest1/rootfs/proc", "/tmp/x/ocitest1/rootfs/dev"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// /tmp/xy is not under /tmp/x.
	if got := newMountsUnder(nil, all, []string{"/tmp/x"}); len(got) != 3 || got[2] != "/tmp/x/ocitest1/rootfs" {
		t.Fatalf("deepest first, no prefix confusion: %v", got)
	}
}

func TestIsUnder(t *testing.T) {
	for _, c := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/a", "/tmp/a", true},
		{"/tmp/a/b", "/tmp/a", true},
		{"/tmp/ab", "/tmp/a", false},
		{"/tmp", "/tmp/a", false},
		{"/tmp/..a", "/tmp", true},
	} {
		if got := isUnder(c.p, c.dir); got != c.want {
			t.Errorf("isUnder(%q, %q) = %v", c.p, c.dir, got)
		}
	}
}

// TestLeakedMountCleanup mounts a tmpfs the way linux_ns_itype leaks one and
// checks that the dir is not removed while mounted, then is after unmounting.
func TestLeakedMountCleanup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "ocitest-runtimetools", "rootfs", "dev")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := readMounts()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", target, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(target, "canary"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := safeRemoveAll(dir); err == nil {
		t.Fatal("safeRemoveAll removed a dir with a live mount below it")
	}
	if _, err := os.Stat(filepath.Join(target, "canary")); err != nil {
		t.Fatalf("files inside the mount were touched: %v", err)
	}
	after, _ := readMounts()
	leaked := newMountsUnder(before, after, []string{dir})
	if len(leaked) != 1 || leaked[0] != target {
		t.Fatalf("leaked = %v, want [%s]", leaked, target)
	}
	if failed := unmountLeftovers(leaked); len(failed) != 0 {
		t.Fatalf("unmount: %v", failed)
	}
	if err := safeRemoveAll(dir); err != nil {
		t.Fatalf("after unmount: %v", err)
	}
}
