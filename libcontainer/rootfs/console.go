package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// MountConsole bind-mounts the pty slave onto /dev/console (created as an
// empty file when missing). Runs after PivotRoot, so the target is
// resolved inside the new root and the mount is made by fd.
func MountConsole(slave *os.File) error {
	target, err := openConsoleTarget()
	if err != nil {
		return err
	}
	defer target.Close()
	tree, err := cloneTree(slave, false)
	if err != nil {
		return err
	}
	defer tree.Close()
	return moveOnto(tree, target)
}

// openConsoleTarget returns an O_PATH handle on /dev/console, never
// following a symlink there: with the image's own /dev (no /dev tmpfs) a
// link /dev/console -> /proc/self/attr/exec would put the pty over the
// file the LSM label is written to, or over any file the image names.
// runc refuses such a /dev/console too.
func openConsoleTarget() (*os.File, error) {
	const path = "/dev/console"
	parent, base, err := pathrs.MkdirParentNoFollow("/", path)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	fd, err = unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h := os.NewFile(uintptr(fd), filepath.Join(parent.Name(), base))
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		h.Close()
		return nil, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFCHR:
		return h, nil
	case unix.S_IFLNK:
		h.Close()
		return nil, fmt.Errorf("%s is a symlink in the rootfs: refusing to mount the console through it", path)
	default:
		h.Close()
		return nil, fmt.Errorf("%s in the rootfs is neither a file nor a character device: refusing to mount the console over it", path)
	}
}
