package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/internal/procself"
)

// PivotRoot makes the rootfs our "/" and detaches the old root. With
// NoPivot the rootfs is moved over "/" and chrooted into instead (for a
// rootfs on a ramdisk, where pivot_root is refused).
func PivotRoot(cfg *Config) error {
	switch {
	case !cfg.hasNamespace(rspec.MountNamespace):
		return cfg.step("chroot", func() error { return chrootInto(cfg.Rootfs) }, "rootfs", cfg.Rootfs)
	case cfg.NoPivot:
		return cfg.step("move root", func() error { return moveRoot(cfg.Rootfs) }, "rootfs", cfg.Rootfs)
	}
	return cfg.step("pivot_root", func() error { return pivotRoot(cfg.Rootfs) }, "rootfs", cfg.Rootfs)
}

// pivotRoot stacks the old root under the new one with pivot_root(".",
// "."), then unmounts it from where it landed, so no directory for it is
// needed inside the rootfs.
func pivotRoot(rootfs string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: "/", Err: err}
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	// The old root may still be shared with the host: unmounting it
	// must not propagate there.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return chdirRoot()
}

func moveRoot(rootfs string) error {
	if err := hideHostProcSys(rootfs); err != nil {
		return err
	}
	if err := unix.Chdir(rootfs); err != nil {
		return &os.PathError{Op: "chdir", Path: rootfs, Err: err}
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move %s to /: %w", rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return chdirRoot()
}

// hideHostProcSys removes (or covers) every full procfs and sysfs mount
// outside the rootfs before the move. Without pivot_root the old root stays
// in our mount namespace under the chroot, and the kernel lets a process
// that is root in a new user namespace mount a fresh procfs whenever some
// procfs in its mount namespace is fully visible: the host's /proc would
// be, so the container could mount one with nothing masked. runc's
// --no-pivot does the same.
func hideHostProcSys(rootfs string) error {
	root := filepath.Clean(rootfs)
	mounts, err := procself.Mounts(func(m *mountinfo.Info) (skip, stop bool) {
		inside := m.Mountpoint == root || strings.HasPrefix(m.Mountpoint, root+"/")
		return m.Root != "/" || (m.FSType != "proc" && m.FSType != "sysfs") || inside, false
	})
	if err != nil {
		return fmt.Errorf("no-pivot: read mountinfo: %w", err)
	}
	for _, m := range mounts {
		p := m.Mountpoint
		// Never propagate the unmount to the host.
		if err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // under a mount already detached
			}
			return fmt.Errorf("no-pivot: make %s rslave: %w", p, err)
		}
		err := unix.Unmount(p, unix.MNT_DETACH)
		if err == nil || errors.Is(err, unix.ENOENT) {
			continue
		}
		if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("no-pivot: unmount %s: %w", p, err)
		}
		// Locked by a user namespace: cover it instead.
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("no-pivot: cover %s: %w", p, err)
		}
	}
	return nil
}

func chrootInto(rootfs string) error {
	if err := unix.Chroot(rootfs); err != nil {
		return fmt.Errorf("chroot %s: %w", rootfs, err)
	}
	return chdirRoot()
}

// chdirRoot leaves us at "/" and checks the cwd really is inside the new
// root (CVE-2024-21626: a cwd outside it leaks the host).
func chdirRoot() error {
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	wd, err := unix.Getwd()
	if err != nil || wd != "/" {
		return fmt.Errorf("cwd is %q after changing root (%v)", wd, err)
	}
	return nil
}
