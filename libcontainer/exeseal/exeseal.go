// Package exeseal gives the runtime a view of its own binary that the
// container cannot modify (CVE-2019-5736): a process in the container could
// otherwise open /proc/<init-pid>/exe for writing and replace the host binary.
//
// Two ways, cheapest first:
//   - a detached, read-only bind mount of the binary (open_tree +
//     mount_setattr): no copy, no mount visible anywhere, writes through it
//     fail with EROFS; needs CAP_SYS_ADMIN, so not for rootless callers;
//   - a sealed memfd copy of the binary, which works everywhere but costs a
//     copy of the binary per container start.
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// Open returns a close-on-exec descriptor of our own binary that cannot be
// written through. minFd places it at or above that number so that the dup2
// of ExtraFiles in the child cannot clobber it before execve.
func Open(minFd int) (*os.File, error) {
	f, err := readOnlyMount()
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

// readOnlyMount clones a mount of just our binary, detached from every
// mount table, and makes it read-only.
func readOnlyMount() (*os.File, error) {
	return readOnlyMountOf("/proc/self/exe")
}

func readOnlyMountOf(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, attr); err != nil {
		unix.Close(tree)
		return nil, err
	}
	return os.NewFile(uintptr(tree), "myrun:ro-exe"), nil
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
