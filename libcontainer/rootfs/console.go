package rootfs

import (
	"os"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// MountConsole bind-mounts the pty slave onto /dev/console (created as an
// empty file when missing). Runs after PivotRoot, so the target is
// resolved inside the new root and the mount is made by fd.
func MountConsole(slave *os.File) error {
	target, err := pathrs.CreateInRoot("/", "/dev/console", false, 0o600)
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
