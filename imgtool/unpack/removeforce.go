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
	if overlay.IsMounted(rootfs) {
		if err := overlay.Unmount(rootfs); err != nil {
			return err
		}
	}
	if overlay.IsMounted(rootfs) {
		return fmt.Errorf("%s is still mounted", rootfs)
	}
	if err := os.Remove(recordPath(s, bundle)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.RemoveAll(bundle)
}
