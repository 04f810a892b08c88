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
	oldRoot, oldProc, oldMagic, oldMk, oldRm, oldTM := cgroupRoot, procSelfCgroup, fsMagic, mkdirFn, rmdirFn, lib.TestMode
	oldDev := lib.DevicesSetV2
	t.Cleanup(func() {
		cgroupRoot, procSelfCgroup, fsMagic, mkdirFn, rmdirFn, lib.TestMode = oldRoot, oldProc, oldMagic, oldMk, oldRm, oldTM
		lib.DevicesSetV2 = oldDev
	})
	cgroupRoot = filepath.Join(root, "cg")
	procSelfCgroup = filepath.Join(root, "self-cgroup")
	lib.TestMode = true
	h.write(procSelfCgroup, "0::"+ownV2+"\n")
	fsMagic = func(p string) (int64, error) {
		if p == cgroupRoot {
			return unix.CGROUP2_SUPER_MAGIC, nil
		}
		return unix.TMPFS_MAGIC, nil
	}
	mkdirFn = h.mkdir
	rmdirFn = func(p string) error {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if !e.IsDir() {
				os.Remove(filepath.Join(p, e.Name()))
			}
		}
		return unix.Rmdir(p)
	}
	lib.DevicesSetV2 = func(string, *lib.Resources) error { return nil }
	if err := os.MkdirAll(cgroupRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	h.kernelFiles(cgroupRoot)
	return h
}

// mkdir emulates the kernel: a new cgroup has its interface files.
func (h *fakeHost) mkdir(p string, mode os.FileMode) error {
	if err := os.Mkdir(p, mode); err != nil {
		return err
	}
	h.kernelFiles(p)
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
