package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// Finalize runs after PivotRoot: read-only root and /dev, readonlyPaths,
// maskedPaths, and the final root propagation. From here on /proc belongs
// to the container, so every mount goes through the fd-based mount API
// (open_tree/move_mount/mount_setattr), never /proc/self/fd.
func Finalize(cfg *Config) error {
	lx := cfg.linux()
	if !cfg.hasNamespace(rspec.MountNamespace) {
		// Masking would change the host's own /proc and /sys: the
		// container shares them by its own configuration.
		if len(lx.MaskedPaths) > 0 || len(lx.ReadonlyPaths) > 0 {
			cfg.log().Warn("no mount namespace: linux.maskedPaths and linux.readonlyPaths are not applied")
		}
		return nil
	}
	if !cfg.devBindMounted() {
		if err := cfg.step("reopen /dev/null stdio", reopenDevNull); err != nil {
			return fmt.Errorf("stdio on /dev/null: %w", err)
		}
	}
	if cfg.devReadonly {
		if err := cfg.step("dev readonly", func() error { return setReadonly("/dev", false) }); err != nil {
			return fmt.Errorf("/dev read-only: %w", err)
		}
	}
	if cfg.Spec.Root != nil && cfg.Spec.Root.Readonly {
		if err := cfg.step("root readonly", func() error { return setReadonly("/", false) }); err != nil {
			return fmt.Errorf("root.readonly: %w", err)
		}
	}
	for i, p := range lx.ReadonlyPaths {
		if err := cfg.step("readonly path", func() error { return readonlyPath(p) }, "path", p); err != nil {
			return fmt.Errorf("linux.readonlyPaths[%d] (%s): %w", i, p, err)
		}
	}
	var mk masker
	defer mk.close()
	seen := map[string]bool{}
	for i, p := range lx.MaskedPaths {
		// A path listed twice is masked once (runc: one mount each).
		if seen[filepath.Clean(p)] {
			continue
		}
		seen[filepath.Clean(p)] = true
		if err := cfg.step("masked path", func() error { return mk.mask(p) }, "path", p); err != nil {
			return fmt.Errorf("linux.maskedPaths[%d] (%s): %w", i, p, err)
		}
	}
	if p := lx.RootfsPropagation; p != "" {
		flag, err := propagationFlag(p)
		if err != nil {
			return err
		}
		if err := cfg.step("rootfs propagation", func() error { return unix.Mount("", "/", "", flag, "") }, "propagation", p); err != nil {
			return fmt.Errorf("linux.rootfsPropagation: %w", err)
		}
	}
	return nil
}

// reopenDevNull points stdio that is the host's /dev/null (engines give
// it: conmon's stdin) at the container's own, as runc does: a descriptor
// on a mount outside the container's namespace is one CRIU cannot dump
// ("Can't lookup mount"), and the container need not see the host's /dev.
func reopenDevNull() error {
	var f *os.File
	var null unix.Stat_t
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			continue
		}
		if f == nil {
			var err error
			if f, err = pathrs.OpenInRoot("/", "/dev/null", unix.O_RDWR); err != nil {
				return err
			}
			if err := unix.Fstat(int(f.Fd()), &null); err != nil {
				return err
			}
		}
		if st.Dev == null.Dev && st.Ino == null.Ino {
			continue // the container's already
		}
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup3 onto fd %d: %w", fd, err)
		}
	}
	return nil
}

// openInNewRoot opens p inside "/" (symlinks stay inside); a missing path
// returns (nil, nil) since masked and read-only paths may not exist.
func openInNewRoot(p string) (*os.File, error) {
	f, err := pathrs.OpenInRoot("/", p, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// setReadonly makes the mount at p read-only. Only the read-only bit is
// set, so flags the kernel locked stay as they are.
func setReadonly(p string, recursive bool) error {
	f, err := openInNewRoot(p)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(int(f.Fd()), "", flags, &attr); err != nil {
		return &os.PathError{Op: "mount_setattr", Path: p, Err: err}
	}
	return nil
}

// readonlyPath bind-mounts p onto itself read-only (submounts included).
func readonlyPath(p string) error {
	target, err := openInNewRoot(p)
	if err != nil || target == nil {
		return err
	}
	defer target.Close()
	tree, err := cloneTree(target, true)
	if err != nil {
		return err
	}
	defer tree.Close()
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(int(tree.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return &os.PathError{Op: "mount_setattr", Path: p, Err: err}
	}
	return moveOnto(tree, target)
}

// masker keeps what masking reuses: the container's /dev/null and the
// read-only tmpfs of the first masked directory.
type masker struct{ null, tmpfs *os.File }

func (m *masker) close() {
	for _, f := range []*os.File{m.null, m.tmpfs} {
		if f != nil {
			f.Close()
		}
	}
}

// mask hides p: files get the container's /dev/null (verified to be the
// real 1:3 device, CVE-2025-31133), directories a read-only tmpfs, one
// for all of them as runc 1.4 (the others are bind mounts of the first).
func (m *masker) mask(p string) error {
	null := &m.null
	target, err := openInNewRoot(p)
	if err != nil || target == nil {
		return err
	}
	defer target.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(target.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if m.tmpfs != nil {
			tree, err := cloneTree(m.tmpfs, false)
			if err != nil {
				return err
			}
			defer tree.Close()
			return moveOnto(tree, target)
		}
		tmpfs, err := newReadonlyTmpfs()
		if err != nil {
			return err
		}
		if err := moveOnto(tmpfs, target); err != nil {
			tmpfs.Close()
			return err
		}
		m.tmpfs = tmpfs
		return nil
	}
	if *null == nil {
		n, err := pathrs.OpenInRoot("/", "/dev/null", unix.O_PATH)
		if err != nil {
			return fmt.Errorf("open /dev/null: %w", err)
		}
		if !pathrs.IsDevNull(n) {
			n.Close()
			return errors.New("/dev/null is not the null device (char 1:3): refusing to mask with it")
		}
		*null = n
	}
	tree, err := cloneTree(*null, false)
	if err != nil {
		return err
	}
	defer tree.Close()
	return moveOnto(tree, target)
}
