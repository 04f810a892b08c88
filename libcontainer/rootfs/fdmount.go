package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// procFd names fd through the host's /proc. Only used before pivot_root,
// while /proc is still the runtime's own (checked by checkHostProc);
// after pivot_root we use the fd-based mount API instead.
func procFd(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// checkHostProc makes sure /proc/self/fd is the kernel's, since every
// mount before pivot_root targets /proc/self/fd/N.
func checkHostProc() error {
	f, err := os.OpenFile("/proc/self/fd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if !pathrs.IsProcfs(f) {
		return errors.New("/proc/self/fd is not on procfs")
	}
	return nil
}

// mountOn mounts onto the inode target refers to.
func mountOn(source string, target *os.File, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, procFd(target), fstype, flags, data); err != nil {
		op := "mount " + fstype
		if flags&unix.MS_BIND != 0 {
			op = "bind " + source
		}
		if flags&unix.MS_REMOUNT != 0 {
			op = "remount"
		}
		return &os.PathError{Op: op, Path: target.Name(), Err: err}
	}
	return nil
}

// mountID is the id of the mount f lives on.
func mountID(f *os.File) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	return stx.Mnt_id, nil
}

// reopenMounted returns a handle to the mount just made on top of before,
// re-resolving dest inside root: handles opened before a mount still
// point below it.
func reopenMounted(root, dest string, before *os.File) (*os.File, error) {
	f, err := pathrs.OpenInRoot(root, dest, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	id0, err0 := mountID(before)
	id1, err1 := mountID(f)
	if err0 == nil && err1 == nil && id0 == id1 {
		f.Close()
		return nil, fmt.Errorf("%s: mount not found after mounting (path changed underneath us)", dest)
	}
	return f, nil
}

// lockedFlags reads the flags of the mount f is on, restricted to those
// the kernel may lock, as MS_* values.
func lockedFlags(f *os.File, keepAtime bool) (uintptr, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, err
	}
	return statfsToMS(uint64(st.Flags), keepAtime), nil
}

// statfsToMS converts statfs ST_* flags to MS_* (most share values,
// relatime does not).
func statfsToMS(st uint64, atime bool) uintptr {
	var fl uintptr
	for _, m := range []struct {
		st uint64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
	} {
		if st&m.st != 0 {
			fl |= m.ms
		}
	}
	if atime {
		for _, m := range []struct {
			st uint64
			ms uintptr
		}{
			{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
			{unix.ST_RELATIME, unix.MS_RELATIME},
		} {
			if st&m.st != 0 {
				fl |= m.ms
			}
		}
		// No atime flag at all means strictatime; say so, or the
		// kernel would default to relatime and refuse a locked mount.
		if st&(unix.ST_NOATIME|unix.ST_RELATIME) == 0 {
			fl |= unix.MS_STRICTATIME
		}
	}
	return fl
}

// remountBind applies per-mount flags to a bind mount: every flag not
// given is cleared, as with runc (a ro source becomes rw unless "ro" is
// listed). In a user namespace the kernel refuses to drop locked flags, so
// those are kept unless the options clear them explicitly (then the
// kernel's EPERM is the error); the same retry covers an EPERM elsewhere.
func remountBind(mnt *os.File, flags, cleared uintptr, userAtime, inUserNS bool) error {
	fl := unix.MS_BIND | unix.MS_REMOUNT | flags&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT)
	if inUserNS {
		if locked, err := lockedFlags(mnt, !userAtime); err == nil {
			fl |= locked &^ cleared
		}
	}
	err := mountOn("", mnt, "", fl, "")
	if errors.Is(err, unix.EPERM) && !inUserNS {
		if locked, lerr := lockedFlags(mnt, !userAtime); lerr == nil && locked&^cleared&^fl != 0 {
			err = mountOn("", mnt, "", fl|locked&^cleared, "")
		}
	}
	return err
}

// applyAfter applies propagation and recursive attributes to a new mount.
func applyAfter(mnt *os.File, o *mountOpts) error {
	for _, p := range o.prop {
		if err := mountOn("", mnt, "", p, ""); err != nil {
			return err
		}
	}
	if o.recSet != 0 || o.recClr != 0 {
		attr := unix.MountAttr{Attr_set: o.recSet, Attr_clr: o.recClr}
		if err := unix.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return &os.PathError{Op: "mount_setattr", Path: mnt.Name(), Err: err}
		}
	}
	return nil
}
