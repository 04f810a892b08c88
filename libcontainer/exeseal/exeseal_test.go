package exeseal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// The descriptor we exec through must refuse writes, both directly and
// through a reopen of /proc/self/fd/N (what /proc/<pid>/exe resolves to).
func checkUnwritable(t *testing.T, f *os.File) {
	t.Helper()
	w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if err != nil {
		return // refused at open: read-only filesystem or busy text
	}
	defer w.Close()
	// A sealed memfd opens, but no byte may change.
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("wrote to the sealed binary")
	}
}

func TestOpen(t *testing.T) {
	f, err := Open(100)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Fd() < 100 {
		t.Fatalf("fd %d below minimum", f.Fd())
	}
	checkUnwritable(t, f)
	// As root the view is the overlay, not a copy.
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && fs.Type != unix.OVERLAYFS_SUPER_MAGIC {
		t.Errorf("as root, Open gave a view on filesystem %#x, want overlayfs", fs.Type)
	}
}

func TestSealedCopy(t *testing.T) {
	f, err := sealedCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkUnwritable(t, f)
}

// A file nobody executes, so that the kernel's answers are about the
// filesystem and not ETXTBSY.
func testBinary(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("busybox-static is required: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bin", "busybox")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

func clearRO(fd int) error {
	return unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY})
}

func reconfigureRW(fd int) error {
	fs, err := unix.Fspick(fd, "", unix.FSPICK_EMPTY_PATH|unix.FSPICK_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetFlag(fs, "rw"); err != nil {
		return err
	}
	return unix.FsconfigReconfigure(fs)
}

func wantEROFS(t *testing.T, what, p string) {
	t.Helper()
	w, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(w)
		t.Fatalf("%s: opened for writing", what)
	}
	if !errors.Is(err, unix.EROFS) {
		t.Fatalf("%s: open for writing: %v, want EROFS", what, err)
	}
}

// The view is a file of a mount that is gone from every namespace: no
// mount operation reaches it, and a write open fails with EROFS.
func TestOverlayView(t *testing.T) {
	bin := testBinary(t)
	f, err := overlayView(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	wantEROFS(t, "view", fdPath(fd))
	if err := clearRO(fd); !errors.Is(err, unix.EINVAL) {
		t.Errorf("mount_setattr on the view: %v, want EINVAL", err)
	}
	if c, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH); err == nil {
		unix.Close(c)
		t.Errorf("open_tree cloned the view's mount")
	}
	if err := reconfigureRW(fd); err == nil {
		t.Errorf("fspick + reconfigure rw of the view worked")
	}
	wantEROFS(t, "view after the attempts", fdPath(fd))
}

// Even a reachable mount of the overlay (here its own fd, kept open) cannot
// be made writable: clearing the mount flag leaves the superblock read-only
// and the superblock refuses to become writable without an upper layer.
func TestOverlaySuperblockStaysReadOnly(t *testing.T) {
	bin := testBinary(t)
	mnt, err := overlayMount(filepath.Dir(bin) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mnt)
	clone, err := unix.OpenTree(mnt, filepath.Base(bin), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(clone)
	if err := clearRO(clone); err != nil {
		t.Fatalf("mount_setattr on a clone: %v", err)
	}
	wantEROFS(t, "clone without MOUNT_ATTR_RDONLY", fdPath(clone))
	if err := reconfigureRW(clone); !errors.Is(err, unix.EROFS) {
		t.Errorf("reconfigure rw: %v, want EROFS", err)
	}
	wantEROFS(t, "clone after reconfigure", fdPath(clone))
	// The legacy way: attach the clone, remount the bind and the
	// superblock without MS_RDONLY.
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	target := dir + "/f"
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.MoveMount(clone, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(target, unix.MNT_DETACH)
	if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind remount rw: %v", err)
	}
	if err := unix.Mount("", target, "", unix.MS_REMOUNT, ""); !errors.Is(err, unix.EROFS) {
		t.Errorf("superblock remount rw: %v, want EROFS", err)
	}
	wantEROFS(t, "attached clone after remounts", target)
}

// A process running the view maps the overlay's file: map_files, which
// root in the init user namespace may open, leads back to the view and
// not to the host file.
func TestOverlayViewMapFiles(t *testing.T) {
	bin := testBinary(t)
	var host unix.Stat_t
	if err := unix.Stat(bin, &host); err != nil {
		t.Fatal(err)
	}
	f, err := overlayView(bin)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/proc/self/fd/3", "sleep", "100")
	cmd.Args[0] = "busybox"
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer cmd.Wait()
	defer cmd.Process.Kill()
	var maps []int
	// The mappings appear once the exec is done.
	for len(maps) == 0 {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/map_files", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			fd, err := unix.Open(fmt.Sprintf("/proc/%d/map_files/%s", cmd.Process.Pid, e.Name()), unix.O_PATH|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var st unix.Stat_t
			unix.Fstat(fd, &st)
			if st.Ino == host.Ino && st.Size == host.Size {
				maps = append(maps, fd)
			} else {
				unix.Close(fd)
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait() // no ETXTBSY from here on
	for _, fd := range maps {
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		if st.Dev == host.Dev {
			t.Errorf("map_files leads to the host file (dev %d)", st.Dev)
		}
		wantEROFS(t, "map_files entry", fdPath(fd))
		unix.Close(fd)
	}
}

// A binary replaced since it was started is not looked up by name: the
// link says "(deleted)", and a name that leads to another file is refused.
func TestOverlayViewRefusesAnotherFile(t *testing.T) {
	bin := testBinary(t)
	old, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	other := bin + ".new"
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, bin); err != nil {
		t.Fatal(err)
	}
	if f, err := overlayView(fdPath(int(old.Fd()))); err == nil {
		f.Close()
		t.Fatal("overlay view of a replaced binary")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(old.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	f, err := overlayView(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := sameFile(f, &st); err == nil {
		t.Fatal("sameFile accepted another file")
	}
}
