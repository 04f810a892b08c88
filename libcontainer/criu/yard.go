package criu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// yardPrefix is how CRIU names its cgroup yard: a tmpfs it mounts in its
// work dir (our mount namespace: swrk does not unshare one) with the
// cgroup hierarchies mounted below, taken down when it finishes. A CRIU
// killed in between (--criu-timeout) leaves all of it mounted.
const yardPrefix = ".criu.cgyard."

// DetachYards takes down the cgroup yards a CRIU that did not finish left
// in dir: each is detached (with what is mounted below it) and its
// directory removed. Nothing to do is the common case (one mountinfo
// read).
func DetachYards(dir string) error {
	prefix := filepath.Join(dir, yardPrefix)
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !strings.HasPrefix(m.Mountpoint, prefix) || strings.Contains(m.Mountpoint[len(prefix):], "/"), false
	})
	if err != nil {
		return fmt.Errorf("criu: cgroup yard in %s: %w", dir, err)
	}
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("criu: detaching CRIU's cgroup yard %s: %w", m.Mountpoint, err))
			continue
		}
		if err := os.Remove(m.Mountpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("criu: removing CRIU's cgroup yard %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
