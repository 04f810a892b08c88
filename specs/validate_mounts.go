package specs

import (
	"os"
	"path/filepath"
	"slices"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// IsBind reports whether a spec mount is a bind mount: type "bind" or a
// bind/rbind option (runc treats both the same way).
func IsBind(m rspec.Mount) bool {
	return m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

func checkMounts(p *problems, mounts []rspec.Mount, bundle string) {
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
