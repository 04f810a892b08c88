package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// mountEntry performs mounts[i].
func (c *Config) mountEntry(i int, m rspec.Mount) error {
	field := fmt.Sprintf("mounts[%d]", i)
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("%s.destination: must be an absolute path", field)
	}
	m.Destination = inRootDest(c.Rootfs, m.Destination)
	o := parseOptions(m.Options)
	var err error
	if m.Type == "bind" {
		o.flags |= unix.MS_BIND
	}
	if (m.Type == "proc" || m.Type == "sysfs") && !o.isBind() && o.flags&unix.MS_REMOUNT == 0 {
		if err := c.checkOrdinaryDir(m.Destination, m.Type); err != nil {
			return fmt.Errorf("%s.destination: %s: %w", field, m.Destination, err)
		}
	}
	switch {
	case o.flags&unix.MS_REMOUNT != 0:
		err = c.mountRemount(m, o)
	case needsIDMap(m, o) || c.hasTree(i, o):
		err = c.mountIDMapped(i, m, o)
	case o.isBind():
		err = c.mountBind(field, m, o)
	case m.Type == "cgroup":
		err = c.mountCgroup(m, o)
	case m.Type == "cgroup2":
		err = c.mountCgroup2(m, o, true)
	case m.Type == "":
		return fmt.Errorf("%s.type: required for a non-bind mount", field)
	default:
		err = c.mountFs(field, m, o)
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return fmt.Errorf("%s (%s): %w", field, m.Destination, err)
	}
	return nil
}

// modeBits is the permission bits (with setuid, setgid, sticky) of f.
func modeBits(f *os.File) (uint32, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, false
	}
	return st.Mode & 0o7777, true
}

// inRootDest turns a destination spelled with the rootfs' host path in
// front (lexically below it) into the container path, as runc does; any
// other destination is a container path already. The result is still
// resolved inside the rootfs.
func inRootDest(rootfs, dest string) string {
	root, d := filepath.Clean(rootfs), filepath.Clean(dest)
	if root == "/" {
		return d
	}
	rel, err := filepath.Rel(root, d)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return d
	}
	return filepath.Join("/", rel)
}

// fieldError already names its config field; mountEntry passes it on
// unchanged.
type fieldError struct{ err error }

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// bindSource makes a relative bind source absolute.
func (c *Config) bindSource(src string) string {
	if filepath.IsAbs(src) || c.Bundle == "" {
		return src
	}
	return filepath.Join(c.Bundle, src)
}

// hasTree reports whether the parent cloned the source of bind mount i
// (unreachableBindTree).
func (c *Config) hasTree(i int, o *mountOpts) bool {
	_, ok := c.IDMapFds[i]
	return ok && o.isBind()
}

func (c *Config) mountBind(field string, m rspec.Mount, o *mountOpts) error {
	src := c.bindSource(m.Source)
	st, err := os.Stat(src)
	if err != nil {
		return &fieldError{fmt.Errorf("%s.source: %w", field, err)}
	}
	target, err := c.bindTarget(field, m, src, st.IsDir())
	if err != nil {
		return err
	}
	defer target.Close()
	if err := mountOn(src, target, "", unix.MS_BIND|o.flags&unix.MS_REC, ""); err != nil {
		return err
	}
	return c.finishBind(m, o, target)
}

// bindTarget checks and creates the destination of a bind mount of src
// ("" when the source is not a host path).
func (c *Config) bindTarget(field string, m rspec.Mount, src string, dir bool) (*os.File, error) {
	if err := c.checkProcDest(field, m.Destination, src); err != nil {
		return nil, &fieldError{err}
	}
	return pathrs.CreateInRoot(c.Rootfs, m.Destination, dir, mkMode(dir))
}

// finishBind applies the per-mount flags and propagation to the bind mount
// just made on top of target.
func (c *Config) finishBind(m rspec.Mount, o *mountOpts, target *os.File) error {
	mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
	if err != nil {
		return err
	}
	defer mnt.Close()
	// Only flags to clear ("bind,dev") still mean a remount: the flags
	// not listed are dropped then, as runc does.
	if o.flags&^(unix.MS_BIND|unix.MS_REC) != 0 || o.cleared != 0 {
		if err := remountBind(mnt, o.flags, o.cleared, o.atime, c.InUserNS); err != nil {
			return err
		}
	}
	return applyAfter(mnt, o)
}

func mkMode(dir bool) os.FileMode {
	if dir {
		return 0o755
	}
	return 0o644
}

// labelledTypes take linux.mountLabel as a context= option; proc, sysfs,
// mqueue and cgroup do not accept one (as runc decides).
var labelledTypes = map[string]bool{"tmpfs": true, "devpts": true, "shm": true}

// withLabel adds the mount label to the data of a filesystem that takes it.
func (c *Config) withLabel(fstype string, data []string) []string {
	if c.MountLabel == "" || !labelledTypes[fstype] {
		return data
	}
	return append(data, fmt.Sprintf("context=%q", c.MountLabel))
}

// fsTarget opens (proc, sysfs) or makes the mount point of a new
// filesystem instance.
func (c *Config) fsTarget(m rspec.Mount, o *mountOpts) (*os.File, error) {
	if m.Type == "proc" || m.Type == "sysfs" {
		return openOrdinaryDir(c.Rootfs, m.Destination)
	}
	if m.Type == "tmpfs" {
		// One lookup for both: CreateInRoot returns this same handle
		// when the destination exists.
		if f, err := pathrs.OpenInRoot(c.Rootfs, m.Destination, unix.O_PATH); err == nil {
			if mode, ok := modeBits(f); ok {
				// As runc 1.4 (runc issue 4971): a tmpfs over an
				// existing directory keeps its mode unless mode= says
				// otherwise (a later mode= wins).
				o.data = append([]string{fmt.Sprintf("mode=%04o", mode)}, o.data...)
			}
			return f, nil
		}
	}
	return pathrs.CreateInRoot(c.Rootfs, m.Destination, true, 0o755)
}

// mountFs mounts a new filesystem instance (tmpfs, proc, sysfs, ...).
func (c *Config) mountFs(field string, m rspec.Mount, o *mountOpts) error {
	if m.Type != "proc" {
		if err := c.checkProcDest(field, m.Destination, ""); err != nil {
			return &fieldError{err}
		}
	}
	target, err := c.fsTarget(m, o)
	if err != nil {
		return err
	}
	defer target.Close()
	src := m.Source
	if src == "" {
		src = m.Type
	}
	o.data = c.withLabel(m.Type, o.data)
	var under *os.File
	if o.copyup {
		if m.Type != "tmpfs" {
			return fmt.Errorf("tmpcopyup needs type tmpfs, got %q", m.Type)
		}
		if under, err = openUnder(target); err != nil {
			return err
		}
		defer under.Close()
	}
	err = mountOn(src, target, m.Type, o.flags, o.dataString())
	if err == nil && under != nil {
		mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
		if err != nil {
			return err
		}
		defer mnt.Close()
		dir, err := openUnder(mnt)
		if err != nil {
			return err
		}
		defer dir.Close()
		if err := copyUp(under, dir); err != nil {
			return err
		}
	}
	if err != nil {
		// Without owning the network (sysfs) or pid (proc) namespace, or
		// with an IPC namespace we do not own (mqueue), a new instance
		// is refused: bind the host's, as runc does.
		host := map[string]string{"sysfs": "/sys", "proc": "/proc", "mqueue": "/dev/mqueue"}[m.Type]
		if host == "" || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY)) {
			return err
		}
		c.log().Debug("new instance refused, binding the host's", "type", m.Type, "destination", m.Destination, "error", err)
		if ferr := mountOn(host, target, "", unix.MS_BIND|unix.MS_REC, ""); ferr != nil {
			return fmt.Errorf("%w (bind fallback: %v)", err, ferr)
		}
		mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
		if err != nil {
			return err
		}
		defer mnt.Close()
		if err := remountBind(mnt, o.flags, o.cleared, o.atime, true); err != nil {
			return err
		}
		return applyAfter(mnt, o)
	}
	if len(o.prop) == 0 && o.recSet == 0 && o.recClr == 0 {
		return nil
	}
	mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
	if err != nil {
		return err
	}
	defer mnt.Close()
	return applyAfter(mnt, o)
}

// mountRemount changes an existing mount ("remount" in options).
func (c *Config) mountRemount(m rspec.Mount, o *mountOpts) error {
	target, err := pathrs.OpenInRoot(c.Rootfs, m.Destination, unix.O_PATH)
	if err != nil {
		return err
	}
	defer target.Close()
	if o.isBind() {
		if err := remountBind(target, o.flags, o.cleared, o.atime, c.InUserNS); err != nil {
			return err
		}
	} else if err := mountOn(m.Source, target, m.Type, o.flags, o.dataString()); err != nil {
		return err
	}
	return applyAfter(target, o)
}

// procAllowed are the /proc files that may be bind-mounted over (lxcfs).
var procAllowed = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true,
	"/proc/sys/kernel/ns_last_pid": true, "/proc/sys/crypto/fips_enabled": true,
}

// checkProcDest refuses mounts over /proc/... (other than the lxcfs
// files): a volume over /proc/self/attr or /proc/sys would defeat our
// checks (CVE-2019-16884, CVE-2019-19921). At /proc itself only a procfs
// may be bound; a procfs source elsewhere under /proc is refused too, as
// runc does (a bind of the host's /proc/sys would bring back what the
// container's procfs masks).
func (c *Config) checkProcDest(field, dest, src string) error {
	joined, err := pathrs.SecureJoin(c.Rootfs, dest)
	if err != nil {
		return fmt.Errorf("%s.destination: %w", field, err)
	}
	rel := "/" + strings.TrimPrefix(strings.TrimPrefix(joined, filepath.Clean(c.Rootfs)), "/")
	switch {
	case rel == "/proc":
		if src == "" {
			return fmt.Errorf("%s.destination: %s: only procfs may be mounted at /proc", field, dest)
		}
		if !isProcfsPath(src) {
			return fmt.Errorf("%s.source: %q is not a procfs: only procfs may be mounted at /proc (destination %s)", field, src, dest)
		}
		return nil
	case strings.HasPrefix(rel, "/proc/"):
		if procAllowed[rel] {
			return nil
		}
		return fmt.Errorf("%s.destination: %s resolves to %s: mounting over /proc is not allowed", field, dest, rel)
	}
	return nil
}

func isProcfsPath(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// checkOrdinaryDir refuses a proc or sysfs destination that exists in the
// rootfs as anything but a directory (a symlink /proc -> somewhere would
// put the container's procfs, and so the masked paths and our writes
// through /proc, where the image chooses), as runc does.
func (c *Config) checkOrdinaryDir(dest, fstype string) error {
	parent, base, err := pathrs.MkdirParentNoFollow(c.Rootfs, dest)
	if err != nil {
		return err
	}
	defer parent.Close()
	var st unix.Stat_t
	err = unix.Fstatat(int(parent.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		what := "not a directory"
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			what = "a symlink"
		}
		return fmt.Errorf("is %s in the rootfs: filesystem %q must be mounted on ordinary directory", what, fstype)
	}
	return nil
}

// openOrdinaryDir returns an O_PATH handle on the directory dest inside
// root (made when missing), never following a symlink at its last
// component, so a swap after checkOrdinaryDir cannot redirect the mount.
func openOrdinaryDir(root, dest string) (*os.File, error) {
	parent, base, err := pathrs.MkdirParentNoFollow(root, dest)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	if err := unix.Mkdirat(int(parent.Fd()), base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkdir", Path: dest, Err: err}
	}
	fd, err := unix.Openat(int(parent.Fd()), base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dest, Err: fmt.Errorf("%w (must be an ordinary directory)", err)}
	}
	return os.NewFile(uintptr(fd), filepath.Join(parent.Name(), base)), nil
}
