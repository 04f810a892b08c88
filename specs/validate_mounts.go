package specs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBind reports whether a spec mount is a bind mount: type "bind" or a
// bind/rbind option (runc treats both the same way).
func IsBind(m rspec.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

func checkMounts(p *problems, mounts []rspec.Mount, bundle, rootfs string) {
	for i, m := range mounts {
		f := idx("mounts", i)
		if m.Destination == "" {
			p.add(f+".destination", "required")
		} else if !filepath.IsAbs(m.Destination) {
			p.add(f+".destination", "must be an absolute path, got %q", m.Destination)
		}
		bind := IsBind(m)
		if m.Type == "" && !bind {
			p.add(f+".type", "required unless options contain bind or rbind")
		}
		if !bind {
			if (m.Type == "proc" || m.Type == "sysfs") && rootfs != "" && filepath.IsAbs(m.Destination) {
				checkOrdinaryDir(p, f, m, rootfs)
			}
			continue
		}
		if m.Source == "" {
			p.add(f+".source", "required for a bind mount")
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		// A source inside the rootfs may be made by an earlier mount of
		// the list (runc's mount-order tests bind parts of the tree being
		// built): init resolves it when it gets there.
		if rootfs != "" && underDir(filepath.Clean(src), filepath.Clean(rootfs)) {
			continue
		}
		// Stat follows symlinks as the bind mount will: a dangling link fails too.
		if _, err := os.Stat(src); err != nil {
			if os.IsNotExist(err) {
				p.add(f+".source", "bind source %q does not exist", src)
			} else {
				p.add(f+".source", "%v", err)
			}
		}
	}
}

// underDir says whether path is dir or lies below it (lexically).
func underDir(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// checkOrdinaryDir refuses a proc or sysfs mount whose destination is, in
// the rootfs, anything but a directory: through a symlink the container's
// /proc (and so the masked paths and the runtime's writes through /proc)
// would land where the image chooses. runc refuses it the same way; init
// checks again when it mounts.
func checkOrdinaryDir(p *problems, f string, m rspec.Mount, rootfs string) {
	dir, base := filepath.Split(filepath.Clean(m.Destination))
	if base == "" {
		return
	}
	parent, err := securejoin.SecureJoin(rootfs, dir)
	if err != nil {
		return
	}
	fi, err := os.Lstat(filepath.Join(parent, base))
	if err != nil || fi.IsDir() {
		return
	}
	what := "not a directory"
	if fi.Mode()&os.ModeSymlink != 0 {
		what = "a symlink"
	}
	p.add(f+".destination", "%s is %s in the rootfs: filesystem %q must be mounted on ordinary directory", m.Destination, what, m.Type)
}

// checkIDMappedMounts checks what the runtime spec requires of idmapped
// mounts: mappings come in pairs, and a mount without its own takes the
// container's user namespace mapping, so there must be one.
func checkIDMappedMounts(p *problems, s *rspec.Spec) {
	for i, m := range s.Mounts {
		f := idx("mounts", i)
		option := slices.Contains(m.Options, "idmap") || slices.Contains(m.Options, "ridmap")
		if !option && len(m.UIDMappings) == 0 && len(m.GIDMappings) == 0 {
			continue
		}
		switch {
		case len(m.UIDMappings) > 0 && len(m.GIDMappings) == 0:
			p.add(f+".gidMappings", "required with uidMappings")
		case len(m.GIDMappings) > 0 && len(m.UIDMappings) == 0:
			p.add(f+".uidMappings", "required with gidMappings")
		case len(m.UIDMappings) == 0 && !hasNamespace(s.Linux, rspec.UserNamespace):
			p.add(f+".options", "idmap without uidMappings/gidMappings needs a user namespace to take the mapping from")
		}
		if !IsBind(m) {
			p.add(f+".options", "idmapped mounts are supported for bind mounts only")
		}
	}
}
