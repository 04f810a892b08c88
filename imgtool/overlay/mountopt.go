package overlay

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// OptError is a mount option (storage.conf's mountopt) that the mount
// refused, or that myimg sets itself.
type OptError struct {
	Opt string
	Err error
}

func (e *OptError) Error() string { return fmt.Sprintf("mount option %q: %v", e.Opt, e.Err) }

func (e *OptError) Unwrap() error { return e.Err }

// mountFlags are the generic mount options: attributes of the mount, not
// parameters of the overlay filesystem (new API attribute, mount(2) flag).
var mountFlags = map[string][2]uint64{
	"nodev":       {unix.MOUNT_ATTR_NODEV, unix.MS_NODEV},
	"nosuid":      {unix.MOUNT_ATTR_NOSUID, unix.MS_NOSUID},
	"noexec":      {unix.MOUNT_ATTR_NOEXEC, unix.MS_NOEXEC},
	"noatime":     {unix.MOUNT_ATTR_NOATIME, unix.MS_NOATIME},
	"nodiratime":  {unix.MOUNT_ATTR_NODIRATIME, unix.MS_NODIRATIME},
	"relatime":    {unix.MOUNT_ATTR_RELATIME, unix.MS_RELATIME},
	"strictatime": {unix.MOUNT_ATTR_STRICTATIME, unix.MS_STRICTATIME},
}

// mountOpts is a parsed comma-separated mountopt: the mount's attributes
// and flags, and the overlay parameters in order.
type mountOpts struct {
	attrs, flags uint64
	params       []string
}

// parseMountOpt splits opt; the directories, ro and rw are myimg's to
// set and are refused.
func parseMountOpt(opt string) (mountOpts, error) {
	var m mountOpts
	for _, o := range strings.Split(opt, ",") {
		k, _, _ := strings.Cut(o, "=")
		switch {
		case o == "":
		case mountFlags[o] != [2]uint64{}:
			m.attrs |= mountFlags[o][0]
			m.flags |= mountFlags[o][1]
		case k == "lowerdir" || k == "lowerdir+" || k == "upperdir" || k == "workdir" || k == "datadir+" || o == "ro" || o == "rw":
			return m, &OptError{o, fmt.Errorf("set by myimg for each rootfs")}
		default:
			m.params = append(m.params, o)
		}
	}
	return m, nil
}

// sets reports whether the parameters set key (metacopy also sets
// redirect_dir: metacopy=on needs it on, which the kernel then makes it).
func (m mountOpts) sets(key string) bool {
	for _, p := range m.params {
		if k, _, _ := strings.Cut(p, "="); k == key || (key == "redirect_dir" && k == "metacopy") {
			return true
		}
	}
	return false
}

// defaults are myimg's overlay parameters (index, redirect_dir, metacopy
// off; userxattr in a user namespace) less those the parameters set.
func (m mountOpts) defaults() []string {
	var d []string
	for _, p := range []string{"index=off", "redirect_dir=off", "metacopy=off"} {
		if k, _, _ := strings.Cut(p, "="); !m.sets(k) && (!InUserNS() || k == "index") {
			d = append(d, p)
		}
	}
	if InUserNS() {
		// trusted.* xattrs are root's only; redirect_dir may not be set.
		d = append(d, "userxattr")
	}
	return d
}

// setParams gives the overlay parameters to the filesystem context fd;
// a refused one is an OptError naming it.
func (m mountOpts) setParams(fd int) error {
	for _, p := range m.params {
		k, v, hasValue := strings.Cut(p, "=")
		var err error
		if hasValue {
			err = unix.FsconfigSetString(fd, k, v)
		} else {
			err = unix.FsconfigSetFlag(fd, k)
		}
		if err != nil {
			return &OptError{p, fmt.Errorf("the kernel's overlay refused it: %w", err)}
		}
	}
	return nil
}

// FuseOptsIgnored is the first of opts that fuse-overlayfs' output says
// it ignored ("unknown argument ignored: OPT"), as an OptError.
func fuseOptsIgnored(opt, output string) error {
	for _, o := range strings.Split(opt, ",") {
		if o != "" && strings.Contains(output, "unknown argument ignored: "+o+"\n") {
			return &OptError{o, fmt.Errorf("fuse-overlayfs does not know it (it says: unknown argument ignored)")}
		}
	}
	return nil
}
