package unpack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/imgtool/overlay"
)

// Storage is the storage driver a command lays a rootfs out with, as
// resolved once for every myimg command (global --storage-driver and
// --storage-opt, $STORAGE_DRIVER and $STORAGE_OPTS, storage.conf), with
// where each part came from for the errors.
type Storage struct {
	overlay.Driver
	// NameFrom and ProgFrom name where Driver.Name and
	// Driver.MountProgram were set ("--storage-driver",
	// "$STORAGE_OPTS overlay.mount_program", "FILE: [storage] driver").
	NameFrom, ProgFrom string
	// OptFrom names where Driver.MountOpt was set ("FILE:
	// [storage.options.overlay] mountopt").
	OptFrom string
	// Notes gets a line when the automatic choice falls back (nil:
	// nothing said).
	Notes io.Writer
}

// From names what forced the driver's kind ("" when it is chosen).
func (s Storage) From() string {
	switch s.Kind() {
	case overlay.KindFuse:
		return s.ProgFrom
	case overlay.KindKernel, overlay.KindVFS:
		return s.NameFrom
	}
	return ""
}

// Forced describes the forced kind with its source, as in errors:
// `--storage-driver overlay`, `$STORAGE_OPTS overlay.mount_program=/usr/bin/fuse-overlayfs`.
func (s Storage) Forced() string {
	if s.Kind() == overlay.KindFuse {
		return fmt.Sprintf("%s=%s", s.ProgFrom, s.MountProgram)
	}
	return fmt.Sprintf("%s %s", s.NameFrom, s.Name)
}

// CheckRootless refuses a forced mount for a rootfs made without root
// (a user's, or in a rootless container's user namespace): such a mount
// would live in a mount namespace that ends with the unpacking process,
// not in the one the container's runtime starts from, so the rootfs is a
// copy (vfs), chosen or forced.
//
// A mount that only a storage.conf asks for is not refused: the file is
// shared with build (where it applies) and podman once wrote driver =
// "overlay" into rootless users' files, so the copy is made with a note
// saying the file's driver does not apply here.
func (s Storage) CheckRootless() error {
	switch s.Kind() {
	case overlay.KindKernel, overlay.KindFuse:
		if from := s.From(); !strings.HasPrefix(from, "--") && !strings.HasPrefix(from, "$") {
			s.note("storage: %s applies to build only here: a rootless rootfs is a copy (vfs)\n", s.Forced())
			return nil
		}
		return fmt.Errorf("%s: a rootless container's or bundle's rootfs cannot be a mount here (it would be made in a user namespace that ends with the unpack): it is a copy, --storage-driver vfs (or leave the driver unset)", s.Forced())
	}
	return nil
}

func (s Storage) note(format string, a ...any) {
	if s.Notes != nil {
		fmt.Fprintf(s.Notes, format, a...)
	}
}

// rootless reports whether Bundle runs without root of the initial user
// namespace (a copy is the only rootfs then).
func rootless(o Options) bool {
	return os.Geteuid() != 0 || o.InUserNS || overlay.InUserNS() || len(o.UIDMap) > 0
}

// fusePidFile (in bundle/.overlay) names the fuse-overlayfs process
// serving the rootfs: "PID START".
const fusePidFile = "fuse-overlayfs.pid"

// kernelMount is the kernel's overlay mount (a variable for tests).
var kernelMount = overlay.MountOpt

// OptErr names the file and key of a mount option the mount refused
// (other errors as they are).
func (s Storage) OptErr(err error) error {
	var oe *overlay.OptError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s = %q: %w", s.OptFrom, s.MountOpt, err)
	}
	return err
}

// layout is how Bundle lays the rootfs out: overlay.KindVFS (a copy),
// KindKernel, KindFuse, or "" (the first mount that works, else a
// copy). A forced mount where only a copy can be is refused naming
// where it was set.
func (o Options) layout() (string, error) {
	k := o.Storage.Kind()
	mounts := k == overlay.KindKernel || k == overlay.KindFuse
	switch {
	case len(o.UIDMap) > 0 || len(o.GIDMap) > 0:
		if mounts {
			return "", fmt.Errorf("%s: with --uid-map/--gid-map the rootfs is a copy with the owners shifted, which a mount cannot do", o.Storage.Forced())
		}
		return overlay.KindVFS, nil
	case o.Copy:
		if mounts && strings.HasPrefix(o.Storage.From(), "--") {
			return "", fmt.Errorf("--copy and %s: one is a copy, the other a mount", o.Storage.Forced())
		}
		return overlay.KindVFS, nil
	case rootless(o):
		if err := o.Storage.CheckRootless(); err != nil {
			return "", err
		}
		return overlay.KindVFS, nil
	}
	return k, nil
}

// mount mounts rootfs over dirs with kind, the upper, work (and
// fuse-overlayfs' pid and log) in ov, and says which kind it used:
// KindVFS when none was forced and neither mount can be made here.
func (s Storage) mount(kind string, dirs []string, ov, rootfs string) (string, error) {
	upper, work := filepath.Join(ov, "upper"), filepath.Join(ov, "work")
	fuse := func(p string) error {
		return s.OptErr(overlay.StartFuse(p, dirs, upper, work, rootfs, s.MountOpt, filepath.Join(ov, fusePidFile), filepath.Join(ov, "fuse-overlayfs.log")))
	}
	switch kind {
	case overlay.KindKernel:
		if err := kernelMount(dirs, upper, work, rootfs, s.MountOpt); err != nil {
			if oe := s.OptErr(err); oe != err {
				return kind, oe
			}
			return kind, fmt.Errorf("%s: %w (fuse-overlayfs: --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs; a copy: --storage-driver vfs)", s.Forced(), err)
		}
		return kind, nil
	case overlay.KindFuse:
		p, err := overlay.FuseUsable(s.MountProgram)
		if err == nil {
			err = fuse(p)
		}
		if err != nil {
			var oe *overlay.OptError
			if errors.As(err, &oe) {
				return kind, err
			}
			return kind, fmt.Errorf("%s: %w", s.Forced(), err)
		}
		return kind, nil
	}
	kerr := kernelMount(dirs, upper, work, rootfs, s.MountOpt)
	if kerr == nil {
		return overlay.KindKernel, nil
	}
	if oe := s.OptErr(kerr); oe != kerr {
		return overlay.KindKernel, oe // not a reason to fall back
	}
	p, ferr := overlay.FuseUsable("")
	if ferr != nil {
		s.note("storage: the kernel's overlay failed (%v), fuse-overlayfs cannot be used (%v): copying the rootfs (vfs)\n", kerr, ferr)
		return overlay.KindVFS, nil
	}
	s.note("storage: the kernel's overlay failed (%v): using %s\n", kerr, p)
	return overlay.KindFuse, fuse(p)
}
