package specs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// SupportedMajor is the only runtime-spec major version we accept.
const SupportedMajor = "1"

// semverRe is SemVer 2.0.0 (numeric identifiers without leading zeros).
// Compiled on first use: at package init it cost every process (each verb,
// and the container's Go init) about 1.1 million instructions, a quarter
// of a whole `myrun state` (callgrind; docs/benchmarks.md).
var semverRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
})

// Validate checks a spec before anything is created for it. bundle is used
// to resolve root.path and relative bind-mount sources. It returns all
// problems found, joined, each naming its field.
func Validate(s *rspec.Spec, bundle string) error {
	var p problems
	if s == nil {
		p.add("", "empty configuration")
		return p.err()
	}
	abs, err := filepath.Abs(bundle)
	if err != nil {
		abs = bundle
	}
	checkVersion(&p, s.Version)
	checkRoot(&p, s, abs)
	checkProcess(&p, s)
	checkMounts(&p, s.Mounts, abs, RootfsPath(s, abs))
	checkIDMappedMounts(&p, s)
	checkHooks(&p, s, abs)
	checkLinux(&p, s)
	return p.err()
}

func checkVersion(p *problems, v string) {
	if v == "" {
		p.add("ociVersion", "required")
		return
	}
	m := semverRe().FindStringSubmatch(v)
	if m == nil {
		p.add("ociVersion", "%q is not a valid SemVer version", v)
		return
	}
	if m[1] != SupportedMajor {
		p.add("ociVersion", "unsupported major version %q (supported: %s.x)", v, SupportedMajor)
	}
}

func checkRoot(p *problems, s *rspec.Spec, bundle string) {
	if s.Root == nil {
		p.add("root", "required")
		return
	}
	if s.Root.Path == "" {
		p.add("root.path", "required")
		return
	}
	rootfs := RootfsPath(s, bundle)
	fi, err := os.Stat(rootfs)
	switch {
	case os.IsNotExist(err):
		p.add("root.path", "rootfs %q does not exist", rootfs)
		return
	case err != nil:
		p.add("root.path", "%v", err)
		return
	case !fi.IsDir():
		p.add("root.path", "rootfs %q is not a directory", rootfs)
		return
	}
	// As runc: the rootfs must not be, or go through, a symlink. A
	// relative root.path is taken from the bundle's real directory, so
	// a bundle reached through a symlink is fine.
	if !filepath.IsAbs(s.Root.Path) {
		if real, err := filepath.EvalSymlinks(bundle); err == nil {
			rootfs = filepath.Join(real, s.Root.Path)
		}
	}
	if real, err := filepath.EvalSymlinks(rootfs); err != nil {
		p.add("root.path", "invalid rootfs: %v", err)
	} else if real != rootfs {
		p.add("root.path", "invalid rootfs: %q is a symlink or goes through one (to %q)", s.Root.Path, real)
	}
}

// idx formats an indexed field name such as "mounts[3]".
func idx(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }
