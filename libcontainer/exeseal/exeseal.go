// Package exeseal gives the runtime a view of its own binary that the
// container cannot modify (CVE-2019-5736): a process in the container could
// otherwise open /proc/<init-pid>/exe for writing and replace the host binary.
//
// The view must stay read-only whatever the container does with a handle on
// it, with every capability in its own user namespace or, without one, with
// CAP_SYS_ADMIN: a read-only bind mount does not qualify (mount_setattr, or
// a remount of an open_tree clone, clears MOUNT_ATTR_RDONLY again while the
// mount lives). Two ways, cheapest first:
//   - the binary looked up through an overlayfs of only lower layers (its
//     directory over an empty tmpfs): such a superblock has nowhere to
//     write and refuses to be reconfigured writable, whatever the mount
//     flags. The mount is never attached and its fd is closed before use,
//     which dissolves it: no mount operation reaches it afterwards. No copy;
//     needs CAP_SYS_ADMIN over our mount namespace, so not for rootless
//     callers. The file mappings of a process running it name the overlay
//     file (/proc/<pid>/map_files gives no path to the host file);
//   - a sealed memfd copy (F_SEAL_WRITE and the rest), which works
//     everywhere but copies the binary at every container start or exec.
package exeseal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Open returns a close-on-exec descriptor of our own binary that cannot be
// written through. minFd places it at or above that number so that the dup2
// of ExtraFiles in the child cannot clobber it before execve.
func Open(minFd int) (*os.File, error) {
	f, err := overlayView("/proc/self/exe")
	if err != nil {
		f, err = sealedCopy()
	}
	if err != nil {
		return nil, err
	}
	if minFd <= int(f.Fd()) {
		return f, nil
	}
	hi, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, minFd)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("exeseal: dup: %w", err)
	}
	return os.NewFile(uintptr(hi), "myrun:sealed"), nil
}

// overlayView returns an O_PATH descriptor of exe (a path, or the
// /proc/self/exe link) looked up through a detached, dissolved overlayfs
// whose layers are exe's directory and an empty tmpfs.
func overlayView(exe string) (*os.File, error) {
	var self unix.Stat_t
	if err := unix.Stat(exe, &self); err != nil {
		return nil, err
	}
	path := exe
	if l, err := os.Readlink(exe); err == nil {
		path = l
	}
	if !filepath.IsAbs(path) || strings.HasSuffix(path, " (deleted)") {
		return nil, fmt.Errorf("exeseal: %s: no directory to look %q up in", exe, path)
	}
	dir, name := filepath.Split(path)
	mnt, err := overlayMount(dir)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	// Closing the only handle on a detached mount unmounts it: the file
	// keeps it alive, but mount_setattr, open_tree and fspick on it fail.
	unix.Close(mnt)
	if err != nil {
		return nil, fmt.Errorf("exeseal: %s in overlay: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "myrun:overlay-exe")
	if err := sameFile(f, &self); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// overlayMount returns a detached mount of an overlayfs with dir over an
// empty tmpfs and no upper layer.
func overlayMount(dir string) (int, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("exeseal: fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// An overlay without upper layer needs two lower ones. Ours on top,
	// so that nothing in the other can shadow the binary.
	if err := unix.FsconfigSetString(ctx, "lowerdir+", dir); err != nil {
		return -1, fmt.Errorf("exeseal: overlay lowerdir+ %s: %w", dir, err)
	}
	empty, err := emptyTmpfs()
	if err != nil {
		return -1, err
	}
	defer unix.Close(empty)
	if err := unix.FsconfigSetString(ctx, "lowerdir+", "/proc/self/fd/"+strconv.Itoa(empty)); err != nil {
		return -1, fmt.Errorf("exeseal: overlay lowerdir+ (empty tmpfs): %w", err)
	}
	// Inode numbers stay the lower file's, for sameFile; xino would
	// also log when the layers are on different filesystems.
	if err := unix.FsconfigSetString(ctx, "xino", "off"); err != nil {
		return -1, fmt.Errorf("exeseal: overlay xino=off: %w", err)
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("exeseal: creating overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return -1, fmt.Errorf("exeseal: fsmount overlay: %w", err)
	}
	return mnt, nil
}

// sameFile checks that the overlay found the file we run, not one renamed
// over it since (an upgrade in progress).
func sameFile(f *os.File, self *unix.Stat_t) error {
	var st unix.Stat_t
	var fs unix.Statfs_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("exeseal: %w", err)
	}
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil {
		return fmt.Errorf("exeseal: %w", err)
	}
	if fs.Type != unix.OVERLAYFS_SUPER_MAGIC || fs.Flags&unix.ST_RDONLY == 0 {
		return errors.New("exeseal: overlay view is not a read-only overlayfs")
	}
	if st.Ino != self.Ino || st.Size != self.Size || st.Mtim != self.Mtim || st.Ctim != self.Ctim || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("exeseal: the binary in the overlay is not the one running")
	}
	return nil
}

// emptyTmpfs returns the root of a detached, read-only, empty tmpfs.
func emptyTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("exeseal: fsopen tmpfs: %w", err)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigSetString(ctx, "size", "4k"); err != nil {
		return -1, fmt.Errorf("exeseal: tmpfs size: %w", err)
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("exeseal: creating tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return -1, fmt.Errorf("exeseal: fsmount tmpfs: %w", err)
	}
	return mnt, nil
}

func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("exeseal: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, fmt.Errorf("exeseal: %w", err)
	}
	fd, err := unix.MemfdCreate("myrun:sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL { // kernels before 6.3 lack MFD_EXEC
		fd, err = unix.MemfdCreate("myrun:sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("exeseal: memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "myrun:sealed")
	// sendfile under the hood: the copy stays in the kernel.
	if n, err := io.Copy(mem, src); err != nil || n != st.Size() {
		mem.Close()
		return nil, fmt.Errorf("exeseal: copying /proc/self/exe: %d of %d bytes: %v", n, st.Size(), err)
	}
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		mem.Close()
		return nil, fmt.Errorf("exeseal: F_ADD_SEALS: %w", err)
	}
	return mem, nil
}
