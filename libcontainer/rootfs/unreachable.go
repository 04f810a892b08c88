package rootfs

import (
	"os"
	"path/filepath"
	"strings"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// unreachableBindTree clones, in the runtime's own namespaces, the source
// of a bind mount that the container's root could not look up from inside
// a new user namespace (a parent directory without search permission for
// its mapped uid/gid, chmod o-x), as runc opens such sources before
// entering the namespace. It returns nil when the mount is not such a bind:
// then init makes it itself, as for every other bind (a source that does
// not exist yet here may be made by an earlier mount).
func (c *Config) unreachableBindTree(m rspec.Mount, o *mountOpts) (*os.File, error) {
	if m.Type != "bind" && !o.isBind() || o.flags&unix.MS_REMOUNT != 0 || os.Geteuid() != 0 {
		return nil, nil
	}
	uid, gid, ok := c.newUsernsRoot()
	if !ok {
		return nil, nil
	}
	src, err := filepath.EvalSymlinks(c.bindSource(m.Source))
	if err != nil || searchable(filepath.Dir(src), uid, gid, c.linux()) {
		return nil, nil
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: src, Err: err}
	}
	return os.NewFile(uintptr(fd), "bind:"+src), nil
}

// newUsernsRoot is the host uid and gid of the container's root when the
// container gets a new user namespace that maps root.
func (c *Config) newUsernsRoot() (uint32, uint32, bool) {
	lx := c.linux()
	for _, ns := range lx.Namespaces {
		if ns.Type == rspec.UserNamespace && ns.Path == "" {
			uid, uok := hostID(lx.UIDMappings, 0)
			gid, gok := hostID(lx.GIDMappings, 0)
			return uid, gid, uok && gok
		}
	}
	return 0, 0, false
}

func hostID(maps []rspec.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range maps {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + id - m.ContainerID, true
		}
	}
	return 0, false
}

func mapped(maps []rspec.LinuxIDMapping, host uint32) bool {
	for _, m := range maps {
		if host >= m.HostID && host-m.HostID < m.Size {
			return true
		}
	}
	return false
}

// searchable reports whether the container's root (host uid, gid) may
// look up names in dir and each directory above it. Its capabilities
// cover an inode whose owner and group are both mapped; otherwise the
// permission bits for owner, group or others apply. An error reads as
// searchable: init then reports it as before.
func searchable(dir string, uid, gid uint32, lx *rspec.Linux) bool {
	for p := dir; ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			return true
		}
		if !(mapped(lx.UIDMappings, st.Uid) && mapped(lx.GIDMappings, st.Gid)) {
			bit := uint32(0o001)
			switch {
			case st.Uid == uid:
				bit = 0o100
			case st.Gid == gid:
				bit = 0o010
			}
			if st.Mode&bit == 0 {
				return false
			}
		}
		if p == "/" || !strings.HasPrefix(p, "/") {
			return true
		}
	}
}
