package cgroups

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// RemoveIfEmpty over the fake cgroup2 (its rmdir refuses a cgroup with a
// pid or a sub-cgroup, as the kernel does): a pid anywhere in the tree
// fails it with EBUSY and removes nothing that holds one; once the tree is
// empty it removes the leaf, the sub-cgroups the container made and the
// parents we created, and a second call finds it gone. A cgroup we did
// not create is neither removed nor taken as proof.
func TestRemoveIfEmpty(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	m, err := New(Config{Path: "/a/c1", Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(cgroupRoot, "a/c1")
	deeper := filepath.Join(leaf, "sub/deeper")
	for _, d := range []string{filepath.Join(leaf, "sub"), deeper} {
		if err := h.mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h.write(filepath.Join(deeper, "cgroup.procs"), "7\n")
	if err := m.RemoveIfEmpty(); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("pids in the leaf and a nested sub-cgroup: %v, want EBUSY", err)
	}
	h.expect(map[string]string{filepath.Join(leaf, "cgroup.procs"): "4242", filepath.Join(deeper, "cgroup.procs"): "7\n"})
	h.write(filepath.Join(leaf, "cgroup.procs"), "")
	if err := m.RemoveIfEmpty(); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("pid in a nested sub-cgroup: %v, want EBUSY", err)
	}
	h.expect(map[string]string{filepath.Join(deeper, "cgroup.procs"): "7\n"})
	h.write(filepath.Join(deeper, "cgroup.procs"), "")
	if err := m.RemoveIfEmpty(); err != nil {
		t.Fatalf("empty tree: %v", err)
	}
	if !isNotExist(filepath.Join(cgroupRoot, "a")) || isNotExist(cgroupRoot) {
		t.Error("want /a (ours) removed with its sub-cgroups, the root kept")
	}
	if err := m.RemoveIfEmpty(); err != nil {
		t.Errorf("gone already: %v", err)
	}

	pre := filepath.Join(cgroupRoot, "pre")
	if err := h.mkdir(pre, 0o755); err != nil {
		t.Fatal(err)
	}
	joined, err := New(Config{Path: "/pre", Name: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if err := joined.RemoveIfEmpty(); !errors.Is(err, errNotProven) || isNotExist(pre) {
		t.Errorf("joined cgroup: %v, exists %v; want errNotProven and kept", err, !isNotExist(pre))
	}
}
