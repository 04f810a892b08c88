package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// v1Subsystems are the v1 hierarchies a container is placed in when the
// host mounts them (name=systemd is systemd's business, not ours).
var v1Subsystems = []string{
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
	"pids", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
}

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

// ownCgroups parses /proc/self/cgroup into controller -> path; the v2
// entry has key "". Comounted controllers each get the same path.
func ownCgroups() (map[string]string, error) {
	f, err := os.Open(procSelfCgroup)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, s.Err()
}

// resolve joins the hierarchy mount dir with the container's inner path.
// own is the caller's cgroup in that hierarchy (used for relative paths).
func resolve(mount, own, inner string) string {
	if filepath.IsAbs(inner) {
		return filepath.Join(mount, inner)
	}
	return filepath.Join(mount, own, inner)
}

// v1MountDir returns the real directory of a mounted v1 hierarchy
// (following "cpu" -> "cpu,cpuacct" symlinks), or "".
func v1MountDir(subsys string) string {
	return v1MountDirIn(realCgroupRoot(), subsys)
}

// realCgroupRoot is cgroupRoot with its symlinks resolved, or "" when it
// does not exist.
func realCgroupRoot() string {
	r, err := filepath.EvalSymlinks(cgroupRoot)
	if err != nil {
		return ""
	}
	return r
}

// v1MountDirIn is v1MountDir below an already resolved root: only the
// subsystem's own name can still be a symlink, so one lstat replaces
// EvalSymlinks' lstat of every component (42 fewer syscalls per manager).
func v1MountDirIn(root, subsys string) string {
	if root == "" {
		return ""
	}
	real := filepath.Join(root, subsys)
	fi, err := os.Lstat(real)
	if err != nil {
		return ""
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if real, err = filepath.EvalSymlinks(real); err != nil {
			return ""
		}
	}
	if !isFS(real, unix.CGROUP_SUPER_MAGIC) {
		return ""
	}
	return real
}

// v1Mounts maps each mounted v1 subsystem we use to its mount dir.
func v1Mounts() map[string]string {
	out := map[string]string{}
	root := realCgroupRoot()
	for _, s := range v1Subsystems {
		if d := v1MountDirIn(root, s); d != "" {
			out[s] = d
		}
	}
	return out
}

// hasV2Controller says whether a controller is listed in dir's
// cgroup.controllers.
func hasV2Controller(dir, ctrl string) bool {
	if dir == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
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
