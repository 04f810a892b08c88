package rootfs

import (
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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
