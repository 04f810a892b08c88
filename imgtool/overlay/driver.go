package overlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Driver names how a build gets a writable rootfs over its layers, with
// buildah's names: "overlay" is the kernel's overlayfs, or with a
// MountProgram (overlay.mount_program, e.g. fuse-overlayfs) that program;
// "vfs" is a full copy of the lower rootfs, the layer made by comparing
// against it. "" chooses: the kernel's overlay, else fuse-overlayfs where
// it is installed and /dev/fuse is usable, else vfs.
type Driver struct {
	Name         string // "", "overlay" or "vfs"
	MountProgram string
	// MountOpt is storage.conf's mountopt (comma-separated), given to
	// every mount, the kernel's or MountProgram's.
	MountOpt string
}

// Kinds of mount a Driver resolves to.
const (
	KindKernel = "overlay"
	KindFuse   = "fuse-overlayfs"
	KindVFS    = "vfs"
)

// FuseDevice is the device fuse-overlayfs needs (a variable for tests).
var FuseDevice = "/dev/fuse"

// Check refuses names and options that mean nothing here.
func (d Driver) Check() error {
	switch d.Name {
	case "", "overlay":
	case "vfs":
		if d.MountProgram != "" {
			return fmt.Errorf("--storage-opt overlay.mount_program=%s: the vfs storage driver mounts nothing", d.MountProgram)
		}
	default:
		return fmt.Errorf("--storage-driver %q: want overlay or vfs (fuse-overlayfs: --storage-driver overlay --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs)", d.Name)
	}
	return nil
}

// Kind is what a forced driver is, or "" for the automatic choice.
func (d Driver) Kind() string {
	switch {
	case d.Name == "vfs":
		return KindVFS
	case d.MountProgram != "":
		return KindFuse
	case d.Name == "overlay":
		return KindKernel
	}
	return ""
}

// FuseUsable says why fuse-overlayfs (program, or found in $PATH when
// "") cannot be used here, or returns its path.
func FuseUsable(program string) (string, error) {
	if program == "" {
		program = "fuse-overlayfs"
	}
	p, err := exec.LookPath(program)
	if err != nil {
		return "", fmt.Errorf("overlay.mount_program %s: %w (Debian's fuse-overlayfs package)", program, err)
	}
	if err := unix.Access(FuseDevice, unix.R_OK|unix.W_OK); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", fmt.Errorf("fuse-overlayfs needs %s, which does not exist (modprobe fuse; in a container, pass the device)", FuseDevice)
		}
		return "", fmt.Errorf("fuse-overlayfs needs %s, which this user cannot open: %w (its mode; or --storage-driver vfs)", FuseDevice, err)
	}
	return p, nil
}

// MountFuse mounts lowers (bottom-first) with upper and work at target
// with the fuse-overlayfs program; it returns once the mount is there
// (the program goes to the background when it has mounted).
func MountFuse(program string, lowers []string, upper, work, target, opt string) error {
	opts, err := fuseOpts(lowers, upper, work, target, opt)
	if err != nil {
		return err
	}
	cmd := exec.Command(program, "-o", opts, target)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s on %s: %v: %s", filepath.Base(program), target, err, strings.TrimSpace(string(out)))
	}
	if !IsMounted(target) {
		return fmt.Errorf("%s on %s: exited without mounting: %s", filepath.Base(program), target, strings.TrimSpace(string(out)))
	}
	if err := fuseOptsIgnored(opt, string(out)); err != nil {
		Unmount(target)
		return err
	}
	return nil
}

// fuseOpts is fuse-overlayfs' -o for lowers (bottom-first), upper and
// work mounted at target, then opt (storage.conf's mountopt).
func fuseOpts(lowers []string, upper, work, target, opt string) (string, error) {
	if len(lowers) == 0 {
		return "", errors.New("fuse-overlayfs: no lower directories")
	}
	if _, err := parseMountOpt(opt); err != nil {
		return "", err
	}
	rev := make([]string, len(lowers))
	for i, l := range lowers {
		if strings.ContainsAny(l, ":,") {
			return "", fmt.Errorf("overlay: lower dir %q contains ':' or ','", l)
		}
		rev[len(lowers)-1-i] = l
	}
	for _, d := range []string{upper, work, target} {
		if strings.ContainsAny(d, ":,") {
			return "", fmt.Errorf("overlay: dir %q contains ':' or ','", d)
		}
	}
	opts := "lowerdir=" + strings.Join(rev, ":") + ",upperdir=" + upper + ",workdir=" + work
	if opt = strings.Trim(opt, ","); opt != "" {
		opts += "," + opt
	}
	return opts, nil
}

// IsOpaqueDir reports whether dir (in an overlay layer dir) is marked
// opaque by the kernel's or fuse-overlayfs' xattrs.
func IsOpaqueDir(dir string) bool {
	for _, x := range []string{"trusted.overlay.opaque", "user.overlay.opaque", FuseOpaqueXattr} {
		v := make([]byte, 4)
		if n, err := unix.Lgetxattr(dir, x, v); err == nil && string(v[:n]) == "y" {
			return true
		}
	}
	_, err := os.Lstat(filepath.Join(dir, ".wh..wh..opq"))
	return err == nil
}

// FuseOpaqueXattr is how fuse-overlayfs marks an opaque dir where it may
// not set trusted.overlay.opaque (in a user namespace); it also leaves a
// .wh..wh..opq file and a .wh..opq whiteout device in the dir.
const FuseOpaqueXattr = "user.fuseoverlayfs.opaque"

// LowerHas reports whether the rootfs of layer dirs (bottom-first, in
// overlay form) has an entry at rel: the topmost layer that has it or
// hides it (a whiteout, an opaque or non-directory parent) decides.
func LowerHas(dirs []string, rel string) bool {
	rel = filepath.Clean("/" + rel)[1:]
	for i := len(dirs) - 1; i >= 0; i-- {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(dirs[i], rel), &st) == nil {
			return !(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0)
		}
		if _, err := os.Lstat(filepath.Join(dirs[i], filepath.Dir(rel), ".wh."+filepath.Base(rel))); err == nil {
			return false
		}
		for a := filepath.Dir(rel); a != "." && a != "/"; a = filepath.Dir(a) {
			var ast unix.Stat_t
			if unix.Lstat(filepath.Join(dirs[i], a), &ast) != nil {
				continue
			}
			if ast.Mode&unix.S_IFMT != unix.S_IFDIR || IsOpaqueDir(filepath.Join(dirs[i], a)) {
				return false
			}
		}
	}
	return false
}
