package rootfs

import (
	"errors"
	"fmt"
	"os"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

// needsIDMap reports whether a mount asks for an idmapping: the idmap or
// ridmap option, or mappings of its own (which a runtime that knows the
// fields must not ignore).
func needsIDMap(m rspec.Mount, o *mountOpts) bool {
	return o.idmap || len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0
}

// IDMappedTrees makes, in the runtime's own namespaces, a detached idmapped
// bind mount for every mount that asks for one, keyed by mount index, and
// a plain detached clone of every bind source the container's user
// namespace cannot reach (unreachableBindTree). It
// runs in the parent because setting an idmapping needs CAP_SYS_ADMIN over
// the source filesystem's user namespace (the host's), which init inside
// a container user namespace lacks; init attaches each tree at its
// destination. bundle is the base of relative sources.
func IDMappedTrees(spec *rspec.Spec, bundle string) (trees map[int]*os.File, err error) {
	c := &Config{Spec: spec, Bundle: bundle}
	if spec == nil || !c.hasNamespace(rspec.MountNamespace) {
		return nil, nil // no mount namespace: mounts are not set up at all
	}
	userns := map[string]*os.File{} // by mapping, one namespace each
	defer func() {
		for _, f := range userns {
			f.Close()
		}
		if err != nil {
			for _, t := range trees {
				t.Close()
			}
			trees = nil
		}
	}()
	for i, m := range spec.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		o := parseOptions(m.Options)
		if !needsIDMap(m, o) {
			tree, err := c.unreachableBindTree(m, o)
			if err != nil {
				return trees, fmt.Errorf("%s (%s): %w", field, m.Destination, err)
			}
			if tree != nil {
				if trees == nil {
					trees = map[int]*os.File{}
				}
				trees[i] = tree
			}
			continue
		}
		if o.flags&unix.MS_REMOUNT != 0 {
			continue
		}
		if m.Type != "bind" && !o.isBind() {
			return trees, fmt.Errorf("%s.options: idmapped mounts are supported for bind mounts only (type %q)", field, m.Type)
		}
		ns, err := c.idmapNamespace(field, m, userns)
		if err != nil {
			return trees, err
		}
		tree, err := idmappedTree(c.bindSource(m.Source), o, ns)
		if err != nil {
			return trees, fmt.Errorf("%s (%s): %w", field, m.Destination, err)
		}
		if trees == nil {
			trees = map[int]*os.File{}
		}
		trees[i] = tree
	}
	return trees, nil
}

// idmapNamespace returns the user namespace whose mapping a mount gets: its
// own uidMappings/gidMappings, otherwise the container's user namespace
// mapping, as the runtime spec allows.
func (c *Config) idmapNamespace(field string, m rspec.Mount, cache map[string]*os.File) (*os.File, error) {
	uids, gids := m.UIDMappings, m.GIDMappings
	switch {
	case len(uids) == 0 && len(gids) > 0:
		return nil, fmt.Errorf("%s.uidMappings: required with gidMappings", field)
	case len(uids) > 0 && len(gids) == 0:
		return nil, fmt.Errorf("%s.gidMappings: required with uidMappings", field)
	case len(uids) == 0:
		for _, ns := range c.linux().Namespaces {
			if ns.Type == rspec.UserNamespace && ns.Path != "" {
				return cached(cache, "path "+ns.Path, func() (*os.File, error) {
					f, err := os.Open(ns.Path)
					if err != nil {
						return nil, fmt.Errorf("%s: idmap with the container's user namespace: %w", field, err)
					}
					return f, nil
				})
			}
		}
		if !c.hasNamespace(rspec.UserNamespace) || len(c.linux().UIDMappings) == 0 {
			return nil, fmt.Errorf("%s: idmap without uidMappings/gidMappings needs a container user namespace to take the mapping from", field)
		}
		uids, gids = c.linux().UIDMappings, c.linux().GIDMappings
	}
	key := fmt.Sprint(uids, gids)
	return cached(cache, key, func() (*os.File, error) {
		f, err := nsexec.NewUserNamespace(uids, gids)
		if err != nil {
			return nil, fmt.Errorf("%s: idmapping %s: %w", field, key, err)
		}
		return f, nil
	})
}

func cached(cache map[string]*os.File, key string, open func() (*os.File, error)) (*os.File, error) {
	if f := cache[key]; f != nil {
		return f, nil
	}
	f, err := open()
	if err != nil {
		return nil, err
	}
	cache[key] = f
	return f, nil
}

// idmappedTree clones src (recursively for rbind) into a detached mount and
// gives it ns's idmapping (recursively for ridmap).
func idmappedTree(src string, o *mountOpts, ns *os.File) (*os.File, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: src, Err: explainEPERM(err)}
	}
	tree := os.NewFile(uintptr(fd), "idmapped:"+src)
	attrFlags := uint(unix.AT_EMPTY_PATH)
	if o.idmapRec {
		attrFlags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(fd, "", attrFlags, &attr); err != nil {
		tree.Close()
		err = explainEPERM(err)
		if errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w (does the filesystem of %s support idmapped mounts?)", err, src)
		}
		return nil, &os.PathError{Op: "mount_setattr idmap", Path: src, Err: err}
	}
	return tree, nil
}

// mountIDMapped attaches the tree the parent made for mounts[i] (see
// IDMappedTrees: idmapped, or a bind source out of the user namespace's
// reach) at its destination and applies the remaining options.
func (c *Config) mountIDMapped(i int, m rspec.Mount, o *mountOpts) error {
	fd, ok := c.IDMapFds[i]
	if !ok {
		return errors.New("idmapped mount was not prepared by the runtime")
	}
	tree := os.NewFile(uintptr(fd), "tree:"+m.Source)
	defer tree.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	target, err := c.bindTarget(fmt.Sprintf("mounts[%d]", i), m, "", isDir)
	if err != nil {
		return err
	}
	defer target.Close()
	if err := moveOnto(tree, target); err != nil {
		return err
	}
	return c.finishBind(m, o, target)
}

// explainEPERM explains EPERM for an unprivileged caller: making an idmapped
// mount of a host directory needs CAP_SYS_ADMIN in the host's namespaces.
func explainEPERM(err error) error {
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		return fmt.Errorf("%w (idmapped mounts need root on the host)", err)
	}
	return err
}
