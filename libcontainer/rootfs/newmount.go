package rootfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// cloneTree makes a detached bind mount of what f refers to.
func cloneTree(f *os.File, recursive bool) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(int(f.Fd()), "", flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: f.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), "tree:"+f.Name()), nil
}

// moveOnto attaches the detached mount tree on top of target.
func moveOnto(tree, target *os.File) error {
	err := unix.MoveMount(int(tree.Fd()), "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return &os.PathError{Op: "move_mount", Path: target.Name(), Err: err}
	}
	return nil
}

// newReadonlyTmpfs makes a detached, empty, read-only tmpfs mount.
func newReadonlyTmpfs() (*os.File, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, &os.PathError{Op: "fsopen", Path: "tmpfs", Err: err}
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "size", "0"); err != nil {
		return nil, &os.PathError{Op: "fsconfig", Path: "tmpfs", Err: err}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, &os.PathError{Op: "fsconfig create", Path: "tmpfs", Err: err}
	}
	attrs := unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return nil, &os.PathError{Op: "fsmount", Path: "tmpfs", Err: err}
	}
	return os.NewFile(uintptr(mfd), "tmpfs"), nil
}
