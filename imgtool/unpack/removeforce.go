package unpack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/store"
)

// RemoveForce is Remove for a bundle that may be half made (no
// config.json, rootfs not mounted, or already gone): it unmounts the
// rootfs if mounted, drops the bundle record and deletes the directory.
// It is idempotent; `myimg rm -f` relies on that after a crash.
func RemoveForce(s *store.Store, bundle string) error {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(bundle, "rootfs")
	if err := unmountRootfs(bundle); err != nil {
		return err
	}
	if overlay.IsMounted(rootfs) {
		return fmt.Errorf("%s is still mounted", rootfs)
	}
	if err := os.Remove(recordPath(s, bundle)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(bundle)
}

// unmountRootfs unmounts bundle/rootfs if it is mounted (umount(2) of a
// copied one is EPERM for a user and in a user namespace) and ends the
// fuse-overlayfs process that served it, by the pid and start time
// recorded in bundle/.overlay when it was started.
func unmountRootfs(bundle string) error {
	rootfs := filepath.Join(bundle, "rootfs")
	pidFile := filepath.Join(bundle, ".overlay", fusePidFile)
	if _, err := os.Lstat(pidFile); err == nil {
		return overlay.StopFuse(rootfs, pidFile)
	}
	if overlay.IsMounted(rootfs) {
		return overlay.Unmount(rootfs)
	}
	return nil
}
