package rootfs

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	cglib "github.com/opencontainers/cgroups"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/internal/procself"
	"github.com/myrun-org/myrun/libcontainer/pathrs"
)

const hostCgroupRoot = "/sys/fs/cgroup"

func isCgroup2Host() bool { return cglib.IsCgroup2UnifiedMode() }

// mountCgroup handles a "cgroup" mount. On a v1 or hybrid host it is a
// tmpfs holding one bind mount of the container's cgroup per hierarchy
// (plus "unified" for cgroup2); on a pure v2 host it is cgroup2.
func (c *Config) mountCgroup(m rspec.Mount, o *mountOpts) error {
	if isCgroup2Host() {
		return c.mountCgroup2(m, o, false)
	}
	hier, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	// Inside a cgroup namespace /proc/self/cgroup is relative to the
	// namespace root and cannot name a host dir: only configured paths.
	var own map[string]string
	if !c.hasNamespace(rspec.CgroupNamespace) {
		own, _ = ownCgroups()
	}
	target, err := pathrs.CreateInRoot(c.Rootfs, m.Destination, true, 0o755)
	if err != nil {
		return err
	}
	defer target.Close()
	base := o.flags &^ (unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if err := mountOn("tmpfs", target, "tmpfs", base, "mode=755"); err != nil {
		return err
	}
	dir, err := reopenMounted(c.Rootfs, m.Destination, target)
	if err != nil {
		return err
	}
	defer dir.Close()
	// A handle we can create entries in (O_PATH handles cannot).
	dfd, err := unix.Openat(int(dir.Fd()), ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	for _, h := range hier {
		src := c.cgroupSource(h, own)
		if src == "" {
			c.log().Debug("cgroup hierarchy skipped: no path for it", "hierarchy", h.name)
			continue
		}
		if err := c.bindCgroupDir(dfd, m.Destination, h.name, src, o); err != nil {
			return err
		}
		for _, ctrl := range h.ctrls {
			if ctrl != h.name && !strings.HasPrefix(ctrl, "name=") {
				if err := unix.Symlinkat(h.name, dfd, ctrl); err != nil && !errors.Is(err, unix.EEXIST) {
					return &os.PathError{Op: "symlink", Path: path.Join(m.Destination, ctrl), Err: err}
				}
			}
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		if err := mountOn("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|base|unix.MS_RDONLY, ""); err != nil {
			return err
		}
	}
	return applyAfter(dir, o)
}

// bindCgroupDir binds the host cgroup dir src at dest/name.
func (c *Config) bindCgroupDir(dfd int, dest, name, src string, o *mountOpts) error {
	if err := unix.Mkdirat(dfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "mkdir", Path: path.Join(dest, name), Err: err}
	}
	fd, err := unix.Openat(dfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path.Join(dest, name), Err: err}
	}
	sub := os.NewFile(uintptr(fd), path.Join(dest, name))
	defer sub.Close()
	t0 := time.Now()
	if err := mountOn(src, sub, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	mnt, err := reopenMounted(c.Rootfs, path.Join(dest, name), sub)
	if err != nil {
		return err
	}
	defer mnt.Close()
	err = remountBind(mnt, unix.MS_BIND|o.flags&(unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RELATIME|unix.MS_NOATIME|unix.MS_STRICTATIME), 0, o.atime, c.InUserNS)
	c.log().Debug("mount", "source", src, "destination", path.Join(dest, name), "type", "bind", "took", time.Since(t0).String())
	return err
}

// cgroupSource picks the host dir to expose for hierarchy h: the
// container's cgroup, or the one init currently sits in.
func (c *Config) cgroupSource(h hierarchy, own map[string]string) string {
	keys := append([]string{h.name}, h.ctrls...)
	if h.v2 {
		keys = []string{"unified", ""}
	}
	for _, k := range keys {
		if p := c.CgroupPaths[k]; p != "" {
			return p
		}
		if strings.HasPrefix(k, "name=") {
			if p := c.CgroupPaths[strings.TrimPrefix(k, "name=")]; p != "" {
				return p
			}
		}
	}
	keys = h.ctrls
	if h.v2 {
		keys = []string{""}
	}
	p, ok := "", false
	for _, k := range keys {
		if p, ok = own[k]; ok {
			break
		}
	}
	if !ok {
		return ""
	}
	rel, err := filepath.Rel(h.root, p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.Join(h.mountpoint, rel)
}

// mountCgroup2 mounts cgroup2 when we have a cgroup namespace (or the type
// asks for it), else binds the container's cgroup2 dir.
func (c *Config) mountCgroup2(m rspec.Mount, o *mountOpts, explicit bool) error {
	target, err := pathrs.CreateInRoot(c.Rootfs, m.Destination, true, 0o755)
	if err != nil {
		return err
	}
	defer target.Close()
	flags := o.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if explicit || c.hasNamespace(rspec.CgroupNamespace) {
		err := mountOn("cgroup2", target, "cgroup2", flags, o.dataString())
		if err == nil {
			mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
			if err != nil {
				return err
			}
			defer mnt.Close()
			return applyAfter(mnt, o)
		}
		if !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EBUSY) {
			return err
		}
		c.log().Debug("cgroup2 mount refused, binding the container's cgroup", "error", err)
	}
	own, _ := ownCgroups()
	src := ""
	for _, k := range []string{"", "unified"} {
		if p := c.CgroupPaths[k]; p != "" {
			src = p
			break
		}
	}
	if src == "" {
		mp := hostCgroupRoot
		if !isCgroup2Host() {
			mp = filepath.Join(hostCgroupRoot, "unified")
		}
		if p, ok := own[""]; ok {
			src = filepath.Join(mp, p)
		} else {
			return errors.New("no cgroup2 hierarchy to bind")
		}
	}
	if err := mountOn(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	mnt, err := reopenMounted(c.Rootfs, m.Destination, target)
	if err != nil {
		return err
	}
	defer mnt.Close()
	if err := remountBind(mnt, unix.MS_BIND|flags, 0, o.atime, c.InUserNS); err != nil {
		return err
	}
	return applyAfter(mnt, o)
}

// hierarchy is one cgroup mount of the host below /sys/fs/cgroup.
type hierarchy struct {
	name       string   // dir name below /sys/fs/cgroup ("cpu,cpuacct", "systemd", "unified")
	ctrls      []string // controllers ("name=systemd" for named ones)
	mountpoint string
	root       string // the mount's root inside the hierarchy
	v2         bool
}

// cgroupHierarchies lists the host's cgroup mounts below /sys/fs/cgroup.
func cgroupHierarchies() ([]hierarchy, error) {
	mounts, err := procself.Mounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, err
	}
	var out []hierarchy
	seen := map[string]bool{}
	for _, mi := range mounts {
		if filepath.Dir(mi.Mountpoint) != hostCgroupRoot || seen[mi.Mountpoint] {
			continue
		}
		seen[mi.Mountpoint] = true
		h := hierarchy{name: filepath.Base(mi.Mountpoint), mountpoint: mi.Mountpoint, root: mi.Root, v2: mi.FSType == "cgroup2"}
		if !h.v2 {
			for _, opt := range strings.Split(mi.VFSOptions, ",") {
				if opt == "rw" || opt == "ro" || strings.HasPrefix(opt, "release_agent=") || opt == "xattr" || opt == "clone_children" || opt == "noprefix" || opt == "cpuset_v2_mode" || opt == "favordynmods" {
					continue
				}
				h.ctrls = append(h.ctrls, opt)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// ownCgroups is /proc/self/cgroup as controller -> path ("" for v2;
// co-mounted controllers each have an entry).
func ownCgroups() (map[string]string, error) { return procself.Cgroups("/proc/self/cgroup") }
