package cgroups

import (
	"errors"
	"path/filepath"
	"slices"
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

// RemoveIfEmptyAt over the recorded paths does what the manager's
// RemoveIfEmpty does, finding each dir's mount itself: busy is EBUSY and
// removes nothing that holds a pid, empty removes the dirs we created up
// to the mount, a joined cgroup is not proof, and a dir whose mount is not
// found (gone, or no paths at all) is not proof either.
func TestRemoveIfEmptyAt(t *testing.T) {
	h := newFakeV2(t, allV2, "/")
	saved := mountOf
	t.Cleanup(func() { mountOf = saved })
	mountOf = func(dir string) (string, bool) {
		if isNotExist(dir) || checkWithin(dir, cgroupRoot) != nil {
			return "", false
		}
		return cgroupRoot, true
	}
	m, err := New(Config{Path: "/a/c1", Name: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	paths := m.Paths()
	leaf := filepath.Join(cgroupRoot, "a/c1")
	if err := RemoveIfEmptyAt(paths); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("pid in the leaf: %v, want EBUSY", err)
	}
	h.expect(map[string]string{filepath.Join(leaf, "cgroup.procs"): "4242"})
	h.write(filepath.Join(leaf, "cgroup.procs"), "")
	if err := RemoveIfEmptyAt(paths); err != nil {
		t.Fatalf("empty: %v", err)
	}
	if !isNotExist(filepath.Join(cgroupRoot, "a")) || isNotExist(cgroupRoot) {
		t.Error("want /a (ours) removed, the root kept")
	}
	if err := RemoveIfEmptyAt(paths); !errors.Is(err, errNotProven) {
		t.Errorf("gone already: %v, want errNotProven (the manager decides)", err)
	}
	if err := RemoveIfEmptyAt(nil); !errors.Is(err, errNotProven) {
		t.Errorf("no paths: %v", err)
	}
	pre := filepath.Join(cgroupRoot, "pre")
	if err := h.mkdir(pre, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := RemoveIfEmptyAt(map[string]string{"": pre}); !errors.Is(err, errNotProven) || isNotExist(pre) {
		t.Errorf("joined cgroup: %v, exists %v; want errNotProven and kept", err, !isNotExist(pre))
	}
}

func TestRecordedOrder(t *testing.T) {
	got := order(map[string]string{"unified": "u", "pids": "p", "cpu": "c", "devices": "d"})
	if want := []string{"cpu", "devices", "pids", "unified"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if got := order(map[string]string{"": "x"}); !slices.Equal(got, []string{""}) {
		t.Errorf("v2 order = %v", got)
	}
}
