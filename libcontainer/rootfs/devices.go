package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

// defaultDevices are the devices config-linux.md requires in every
// container.
func defaultDevices() []rspec.LinuxDevice {
	mode := os.FileMode(0o666)
	zero := uint32(0)
	dev := func(p string, major, minor int64) rspec.LinuxDevice {
		return rspec.LinuxDevice{Path: p, Type: "c", Major: major, Minor: minor, FileMode: &mode, UID: &zero, GID: &zero}
	}
	return []rspec.LinuxDevice{
		dev("/dev/null", 1, 3), dev("/dev/zero", 1, 5), dev("/dev/full", 1, 7),
		dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0),
	}
}

// devicesToCreate merges the defaults with linux.devices (configured
// entries win on the same path). The second value is the field name.
func (c *Config) devicesToCreate() ([]rspec.LinuxDevice, []string) {
	conf := c.linux().Devices
	byPath := map[string]bool{}
	for _, d := range conf {
		byPath[filepath.Clean(d.Path)] = true
	}
	var devs []rspec.LinuxDevice
	var fields []string
	for _, d := range defaultDevices() {
		if !byPath[d.Path] {
			devs = append(devs, d)
			fields = append(fields, "default device "+d.Path)
		}
	}
	for i, d := range conf {
		devs = append(devs, d)
		fields = append(fields, fmt.Sprintf("linux.devices[%d]", i))
	}
	return devs, fields
}

func deviceMode(d rspec.LinuxDevice) (uint32, error) {
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	switch d.Type {
	case "c", "u":
		return unix.S_IFCHR | perm, nil
	case "b":
		return unix.S_IFBLK | perm, nil
	case "p":
		return unix.S_IFIFO | perm, nil
	}
	return 0, fmt.Errorf("type: unknown device type %q", d.Type)
}

// createDevice makes one device node inside the rootfs: mknod when we
// may, else (user namespace) a bind mount of the host's node.
func (c *Config) createDevice(d rspec.LinuxDevice) error {
	if !filepath.IsAbs(d.Path) {
		return fmt.Errorf("path: must be an absolute path")
	}
	mode, err := deviceMode(d)
	if err != nil {
		return err
	}
	parent, base, err := pathrs.MkdirParentNoFollow(c.Rootfs, d.Path)
	if err != nil {
		return err
	}
	defer parent.Close()
	if c.InUserNS {
		return c.bindDevice(parent, base, d)
	}
	dev := int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))
	if mode&unix.S_IFMT == unix.S_IFIFO {
		dev = 0
	}
	pfd := int(parent.Fd())
	err = unix.Mknodat(pfd, base, mode, dev)
	if errors.Is(err, unix.EEXIST) {
		// Keep a node that already is the right device; replace anything
		// else (a regular file posing as /dev/null, a symlink).
		var st unix.Stat_t
		if serr := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); serr == nil &&
			st.Mode&unix.S_IFMT == mode&unix.S_IFMT && (dev == 0 || st.Rdev == uint64(dev)) {
			err = nil
		} else if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("%s exists and is a directory", d.Path)
		} else if uerr := unix.Unlinkat(pfd, base, 0); uerr != nil {
			return &os.PathError{Op: "unlink", Path: d.Path, Err: uerr}
		} else {
			err = unix.Mknodat(pfd, base, mode, dev)
		}
	}
	if errors.Is(err, unix.EPERM) {
		return c.bindDevice(parent, base, d)
	}
	if err != nil {
		return &os.PathError{Op: "mknod", Path: d.Path, Err: err}
	}
	// Our umask is 0 here, but an existing node kept its old mode.
	if err := unix.Fchmodat(pfd, base, mode&0o7777, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: d.Path, Err: err}
	}
	uid, gid := -1, -1
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "chown", Path: d.Path, Err: err}
	}
	return nil
}

// bindDevice bind-mounts the host's d.Path over an empty file.
func (c *Config) bindDevice(parent *os.File, base string, d rspec.LinuxDevice) error {
	pfd := int(parent.Fd())
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENXIO) ||
		errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENODEV) {
		// A symlink or an existing device node: open it as a path only.
		fd, err = unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: d.Path, Err: err}
	}
	unix.Close(fd)
	fd, err = unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: d.Path, Err: err}
	}
	target := os.NewFile(uintptr(fd), d.Path)
	defer target.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK || st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("%s exists and is not a file", d.Path)
	}
	return mountOn(d.Path, target, "", unix.MS_BIND, "")
}

// devSymlinks are the links runc creates in /dev.
func devSymlinks() [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
		{"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	return links
}

// setupDevSymlinks creates /dev/{fd,stdin,stdout,stderr,core} and makes
// /dev/ptmx a link to the devpts instance's ptmx.
func (c *Config) setupDevSymlinks() error {
	dev, err := pathrs.MkdirAllInRoot(c.Rootfs, "/dev", 0o755)
	if err != nil {
		return err
	}
	defer dev.Close()
	dfd := int(dev.Fd())
	for _, l := range devSymlinks() {
		if err := unix.Symlinkat(l[0], dfd, l[1]); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "symlink", Path: path.Join("/dev", l[1]), Err: err}
		}
	}
	if err := unix.Unlinkat(dfd, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: "/dev/ptmx", Err: err}
	}
	if err := unix.Symlinkat("pts/ptmx", dfd, "ptmx"); err != nil {
		return &os.PathError{Op: "symlink", Path: "/dev/ptmx", Err: err}
	}
	return nil
}

// DevicePaths are the paths of the device nodes a container gets (the
// defaults and linux.devices). In a user namespace each is a bind mount
// of the host's node, which CRIU must be told is external.
func DevicePaths(linux *rspec.Linux) []string {
	var devs []rspec.LinuxDevice
	if linux != nil {
		devs = linux.Devices
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range append(defaultDevices(), devs...) {
		p := filepath.Clean(d.Path)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
