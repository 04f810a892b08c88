package cgroups

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/libcontainer/internal/procself"
	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// cleanInner makes a cgroupsPath safe: absolute paths are cleaned,
// relative ones cannot climb above their base with "..".
func cleanInner(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return strings.TrimPrefix(filepath.Clean("/"+p), "/")
}

// innerPath is the configured path, or the container id as runc does.
func innerPath(cfg Config) string {
	if p := cleanInner(cfg.Path); p != "" && p != "/" {
		return p
	}
	if cfg.Path == "/" {
		return "/"
	}
	return cleanInner(cfg.Name)
}

// ownCgroups is the caller's /proc/self/cgroup as controller -> path
// (the v2 entry has key ""; co-mounted controllers each get the path).
func ownCgroups() (map[string]string, error) { return procself.Cgroups(procSelfCgroup) }

// resolve joins the hierarchy mount dir with the container's inner path.
// own is the caller's cgroup in that hierarchy (used for relative paths).
func resolve(mount, own, inner string) string {
	if filepath.IsAbs(inner) {
		return filepath.Join(mount, inner)
	}
	return filepath.Join(mount, own, inner)
}

// hasV2Controller says whether a controller is listed in dir's
// cgroup.controllers.
func hasV2Controller(dir, ctrl string) bool {
	if dir == "" {
		return false
	}
	data, err := smallfile.Read(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return false
	}
	for _, c := range strings.Fields(string(data)) {
		if c == ctrl {
			return true
		}
	}
	return false
}

// within reports whether p is base or below it.
func within(p, base string) bool {
	return p == base || strings.HasPrefix(p, base+"/")
}

func checkWithin(p, base string) error {
	if !within(p, base) {
		return fmt.Errorf("cgroups: path %s escapes %s", p, base)
	}
	return nil
}
