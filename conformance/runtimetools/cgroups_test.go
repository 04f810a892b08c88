package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

func TestParseSelfCgroup(t *testing.T) {
	got := parseSelfCgroup("12:pids:/user.slice\n5:cpu,cpuacct:/a\n1:name=systemd:/s\n0::/u\n")
	want := map[string]string{"pids": "/user.slice", "cpu,cpuacct": "/a", "systemd": "/s", "unified": "/u"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// TestCgroupCleanupOnFakeTree uses plain dirs standing in for a cgroup mount.
func TestCgroupCleanupOnFakeTree(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"pids/me", "cpu,cpuacct/me"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	roots := cgroupRoots(root, "3:pids:/me\n2:cpu,cpuacct:/me\n")
	sort.Strings(roots)
	want := []string{
		filepath.Join(root, "cpu,cpuacct", "cgrouptest"),
		filepath.Join(root, "cpu,cpuacct", "me", "testdir"),
		filepath.Join(root, "pids", "cgrouptest"),
		filepath.Join(root, "pids", "me", "testdir"),
	}
	if !reflect.DeepEqual(roots, want) {
		t.Fatalf("roots %v\nwant %v", roots, want)
	}
	// One pre-existing test cgroup must survive.
	old := filepath.Join(root, "pids", "cgrouptest")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	before := listCgroupDirs(roots)
	nested := filepath.Join(root, "pids", "me", "testdir", "cgrouptest", "container")
	abs := filepath.Join(root, "cpu,cpuacct", "cgrouptest")
	for _, d := range []string{nested, abs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	removed, failed := removeNewCgroups(before, listCgroupDirs(roots))
	if len(failed) != 0 || len(removed) != 4 {
		t.Fatalf("removed %v failed %v", removed, failed)
	}
	for _, gone := range []string{abs, filepath.Join(root, "pids", "me", "testdir")} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Fatalf("%s still there", gone)
		}
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("pre-existing cgroup removed: %v", err)
	}
}

// TestCgroupRootsPureV2: on a pure cgroup v2 host /sys/fs/cgroup is the
// hierarchy (cgroup.controllers at its top) and its subdirectories are
// cgroups: the test cgroups are /cgrouptest and <own>/testdir directly,
// not below every top-level cgroup as if each were a v1 hierarchy.
func TestCgroupRootsPureV2(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"init.scope", "system.slice/vm-test.service"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := cgroupRoots(root, "0::/system.slice/vm-test.service\n")
	want := []string{
		filepath.Join(root, "cgrouptest"),
		filepath.Join(root, "system.slice", "vm-test.service", "testdir"),
	}
	if !reflect.DeepEqual(roots, want) {
		t.Fatalf("roots %v\nwant %v", roots, want)
	}
	before := listCgroupDirs(roots)
	made := filepath.Join(root, "cgrouptest", "ctr")
	if err := os.MkdirAll(made, 0o755); err != nil {
		t.Fatal(err)
	}
	removed, failed := removeNewCgroups(before, listCgroupDirs(roots))
	if len(failed) != 0 || len(removed) != 2 {
		t.Fatalf("removed %v failed %v", removed, failed)
	}
}
