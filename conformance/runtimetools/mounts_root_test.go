//go:build integration

// A test that mounts: root only, behind the integration tag
// (docs/CONVENTIONS.md).

package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestLeakedMountCleanup mounts a tmpfs the way linux_ns_itype leaks one and
// checks that the dir is not removed while mounted, then is after unmounting.
func TestLeakedMountCleanup(t *testing.T) {
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
