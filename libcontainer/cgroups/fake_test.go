package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// fakeHost points the package at a fake cgroupfs in a temp dir: root is
// cgroup2 (or hybrid/v1 as asked), our own cgroup is ownV2.
type fakeHost struct {
	t     *testing.T
	root  string
	ctrls string
}

func newFakeV2(t *testing.T, ctrls, ownV2 string) *fakeHost {
	t.Helper()
	root := t.TempDir()
	h := &fakeHost{t: t, root: root, ctrls: ctrls}
	fakeProbes(t, true, false, nil)
	oldProc, oldMk, oldRm, oldRP, oldTM := procSelfCgroup, mkdirFn, rmdirFn, removePath, lib.TestMode
	oldDev := lib.DevicesSetV2
	t.Cleanup(func() {
		procSelfCgroup, mkdirFn, rmdirFn, removePath, lib.TestMode = oldProc, oldMk, oldRm, oldRP, oldTM
		lib.DevicesSetV2 = oldDev
	})
	cgroupRoot = filepath.Join(root, "cg")
	procSelfCgroup = filepath.Join(root, "self-cgroup")
	lib.TestMode = true
	h.write(procSelfCgroup, "0::"+ownV2+"\n")
	mkdirFn = h.mkdir
	// The kernel drops a cgroup's files with it: the fake removes them
	// first, then the library's RemovePath and unix.Rmdir do the rest.
	// Like the kernel, rmdir refuses a cgroup with a process or a
	// sub-cgroup in it.
	rmdirFn = func(p string) error {
		if busy(p) {
			return unix.EBUSY
		}
		dropFiles(p)
		return unix.Rmdir(p)
	}
	removePath = func(p string) error {
		filepath.WalkDir(p, func(d string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dropFiles(d)
			}
			return nil
		})
		return lib.RemovePath(p)
	}
	lib.DevicesSetV2 = func(string, *lib.Resources) error { return nil }
	if err := os.MkdirAll(cgroupRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	h.kernelFiles(cgroupRoot)
	return h
}

// fakeProbes replaces the host probes (the library reads the real
// /sys/fs/cgroup and mountinfo) and cgroupRoot for the test.
func fakeProbes(t *testing.T, unified, hybrid bool, mounts []lib.Mount) {
	oldRoot, oldU, oldH, oldM := cgroupRoot, isUnified, isHybrid, cgroupMounts
	t.Cleanup(func() { cgroupRoot, isUnified, isHybrid, cgroupMounts = oldRoot, oldU, oldH, oldM })
	isUnified = func() bool { return unified }
	isHybrid = func() bool { return hybrid }
	cgroupMounts = func(bool) ([]lib.Mount, error) { return mounts, nil }
}

// busy: dir's cgroup.procs lists a pid, or dir has a sub-directory.
func busy(dir string) bool {
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); strings.TrimSpace(string(b)) != "" {
		return true
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			return true
		}
	}
	return false
}

func dropFiles(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// mkdir emulates the kernel: a new cgroup has its interface files, and
// is a valid domain only below one (cgroup-v2.rst, "Threads").
func (h *fakeHost) mkdir(p string, mode os.FileMode) error {
	if err := os.Mkdir(p, mode); err != nil {
		return err
	}
	h.kernelFiles(p)
	typ := "domain"
	if parent, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cgroup.type")); err == nil && string(parent) != "domain\n" {
		typ = "domain invalid"
	}
	h.write(filepath.Join(p, "cgroup.type"), typ+"\n")
	return nil
}

func (h *fakeHost) kernelFiles(p string) {
	h.write(filepath.Join(p, "cgroup.controllers"), h.ctrls+"\n")
	h.write(filepath.Join(p, "cgroup.subtree_control"), "")
	h.write(filepath.Join(p, "cgroup.procs"), "")
	h.write(filepath.Join(p, "cgroup.freeze"), "0\n")
	h.write(filepath.Join(p, "cgroup.events"), "populated 0\nfrozen 0\n")
}

func (h *fakeHost) write(p, data string) {
	h.t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) read(p string) string {
	h.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *fakeHost) expect(files map[string]string) {
	h.t.Helper()
	for f, want := range files {
		if got := h.read(f); got != want {
			h.t.Errorf("%s = %q, want %q", strings.TrimPrefix(f, h.root), got, want)
		}
	}
}

func isNotExist(p string) bool {
	_, err := os.Stat(p)
	return errors.Is(err, os.ErrNotExist)
}
