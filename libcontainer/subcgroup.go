package libcontainer

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// subCgroupDirs resolves `exec --cgroup` values against the container's
// cgroup directories (controller -> dir; "" alone on cgroup v2). A value
// is PATH (every hierarchy) or CTRL[,CTRL...]:PATH (cgroup v1). PATH is
// relative to the container's cgroup, cannot leave it, and must exist:
// as with runc, exec joins sub-cgroups, it does not create them.
func subCgroupDirs(paths map[string]string, values []string) ([]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("--cgroup: the container has no cgroup of its own")
	}
	_, v2 := paths[""]
	want := map[string]string{} // controller -> sub path
	for _, v := range values {
		ctrls, sub, hasCtrls := strings.Cut(v, ":")
		if !hasCtrls {
			sub = v
		}
		clean := filepath.Clean("/" + sub)
		if sub == "" || clean == "/" || strings.Contains(sub, "..") {
			// "is not a sub cgroup path" is runc's wording.
			return nil, fmt.Errorf("--cgroup %q: %s is not a sub cgroup path (want a path below the container's cgroup)", v, sub)
		}
		if !hasCtrls {
			for c := range paths {
				want[c] = clean
			}
			continue
		}
		if v2 {
			return nil, fmt.Errorf("--cgroup %q: per-controller paths need cgroup v1; give the path alone", v)
		}
		for _, c := range strings.Split(ctrls, ",") {
			if _, ok := paths[c]; !ok {
				return nil, fmt.Errorf("--cgroup %q: the container has no %q cgroup", v, c)
			}
			want[c] = clean
		}
	}
	var dirs []string
	for _, c := range slices.Sorted(maps.Keys(want)) {
		d := filepath.Join(paths[c], want[c])
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--cgroup: sub-cgroup %s does not exist", d)
		}
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}
