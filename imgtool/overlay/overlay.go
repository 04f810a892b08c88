// Package overlay mounts overlayfs over cached layer directories.
package overlay

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Mount mounts an overlay at target. lowers are bottom-first (image
// order). With upper == "" the mount is read-only. It uses the new mount
// API with one "lowerdir+" per layer (no page-size limit on the number of
// layers, kernel >= 6.8) and falls back to a classic mount(2).
func Mount(lowers []string, upper, work, target string) error {
	return MountOpt(lowers, upper, work, target, "")
}

// MountOpt is Mount with opt, storage.conf's comma-separated mountopt:
// generic options (nodev, nosuid, noexec, the atime ones) as the mount's
// attributes, the others as overlay parameters after myimg's own. An
// option refused is an *OptError naming it.
func MountOpt(lowers []string, upper, work, target, opt string) error {
	if len(lowers) == 0 {
		return errors.New("overlay: no lower directories")
	}
	for _, l := range lowers {
		if strings.ContainsAny(l, ":,") {
			return fmt.Errorf("overlay: lower dir %q contains ':' or ','", l)
		}
	}
	m, err := parseMountOpt(opt)
	if err != nil {
		return err
	}
	err = mountNew(lowers, upper, work, target, m)
	var oe *OptError
	if err == nil || errors.As(err, &oe) {
		return err
	}
	if len(m.params) > 0 {
		// Whether the parameters are at fault: the same mount without.
		if mountNew(lowers, upper, work, target, mountOpts{attrs: m.attrs}) == nil {
			Unmount(target)
			return &OptError{strings.Join(m.params, ","), fmt.Errorf("the kernel's overlay refused the mount with it: %w", err)}
		}
	}
	errNew := err
	if err := mountOld(lowers, upper, work, target, m); err != nil {
		return fmt.Errorf("overlay mount on %s: %w (new mount API: %v)", target, err, errNew)
	}
	return nil
}

func mountNew(lowers []string, upper, work, target string, m mountOpts) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// lowerdir+ is given top-most first.
	for i := len(lowers) - 1; i >= 0; i-- {
		if err := unix.FsconfigSetString(fd, "lowerdir+", lowers[i]); err != nil {
			return fmt.Errorf("lowerdir+ %s: %w", lowers[i], err)
		}
	}
	if upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
			return err
		}
		if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
			return err
		}
	}
	for _, p := range m.defaults() {
		k, v, hasValue := strings.Cut(p, "=")
		if !hasValue {
			if err := unix.FsconfigSetFlag(fd, k); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		} else {
			unix.FsconfigSetString(fd, k, v) // off where the kernel knows it
		}
	}
	if err := m.setParams(fd); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return err
	}
	attrs := int(m.attrs)
	if upper == "" {
		attrs |= unix.MOUNT_ATTR_RDONLY
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

func mountOld(lowers []string, upper, work, target string, m mountOpts) error {
	rev := make([]string, len(lowers))
	for i, l := range lowers {
		rev[len(lowers)-1-i] = l
	}
	opts := strings.Join(append(m.defaults(), "lowerdir="+strings.Join(rev, ":")), ",")
	flags := uintptr(m.flags)
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	} else {
		flags |= unix.MS_RDONLY
	}
	for _, p := range m.params {
		opts += "," + p
	}
	if len(opts) >= unix.Getpagesize() {
		return fmt.Errorf("too many layers (%d) for mount options", len(lowers))
	}
	return unix.Mount("overlay", target, "overlay", flags, opts)
}

// InUserNS reports whether we run in a user namespace other than the
// initial one (rootless myimg runs its builds as root of one).
var InUserNS = sync.OnceValue(func() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
})

// OpaqueXattr marks an opaque directory in an upper or lower dir:
// trusted.overlay.opaque, or user.overlay.opaque in a user namespace
// (where mounts use userxattr).
func OpaqueXattr() string {
	if InUserNS() {
		return "user.overlay.opaque"
	}
	return "trusted.overlay.opaque"
}

// Unmount detaches target; "not mounted" is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", target, err)
}

// IsMounted reports whether target is a mount point (different device
// or mount id than its parent).
func IsMounted(target string) bool {
	var a, b unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, target, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &a) != nil {
		return false
	}
	if unix.Statx(unix.AT_FDCWD, target+"/..", 0, unix.STATX_MNT_ID, &b) != nil {
		return false
	}
	return a.Mnt_id != b.Mnt_id
}
