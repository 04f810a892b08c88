package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The cgroup tests put containers in /cgrouptest (absolute) or
// testdir/cgrouptest/container below the caller's cgroup (relative). A
// runtime should remove them on delete; if it does not, the next test finds a
// stale cgroup. We rmdir only directories that appeared during the test, and
// rmdir fails on a cgroup that still has processes or children.
const (
	absTestCgroup = "cgrouptest"
	relTestCgroup = "testdir"
)

// cgroupRoots lists the dirs below which tests may create cgroups. On a
// pure cgroup v2 host mountRoot is the one hierarchy itself (it has
// cgroup.controllers) and its subdirectories are cgroups, not hierarchies.
func cgroupRoots(mountRoot, selfCgroup string) []string {
	own := parseSelfCgroup(selfCgroup)
	if _, err := os.Stat(filepath.Join(mountRoot, "cgroup.controllers")); err == nil {
		out := []string{filepath.Join(mountRoot, absTestCgroup)}
		if p, ok := own["unified"]; ok {
			out = append(out, filepath.Join(mountRoot, p, relTestCgroup))
		}
		return out
	}
	ents, err := os.ReadDir(mountRoot)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range ents {
		h := filepath.Join(mountRoot, e.Name())
		real, err := filepath.EvalSymlinks(h) // cpu -> cpu,cpuacct
		if err != nil || seen[real] {
			continue
		}
		if st, err := os.Stat(real); err != nil || !st.IsDir() {
			continue
		}
		seen[real] = true
		out = append(out, filepath.Join(real, absTestCgroup))
		if p, ok := own[filepath.Base(real)]; ok {
			out = append(out, filepath.Join(real, p, relTestCgroup))
		}
	}
	return out
}

// parseSelfCgroup maps a hierarchy dir name ("cpu,cpuacct", "unified") to the
// process's path in it, from /proc/self/cgroup.
func parseSelfCgroup(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		name := strings.TrimPrefix(f[1], "name=")
		if f[0] == "0" && f[1] == "" {
			name = "unified"
		}
		out[name] = f[2]
	}
	return out
}

// listCgroupDirs returns every directory at or below the roots.
func listCgroupDirs(roots []string) map[string]bool {
	out := map[string]bool{}
	for _, r := range roots {
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				out[p] = true
			}
			return nil
		})
	}
	return out
}

// removeNewCgroups rmdirs cgroups that appeared since before, deepest first.
func removeNewCgroups(before, after map[string]bool) (removed []string, failed []string) {
	paths := newEntries(before, after)
	sort.Slice(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			failed = append(failed, err.Error())
		} else {
			removed = append(removed, p)
		}
	}
	return removed, failed
}

func selfCgroupRoots() []string {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return cgroupRoots("/sys/fs/cgroup", string(b))
}
