package libcontainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSubCgroupDirs(t *testing.T) {
	root := t.TempDir()
	v1 := map[string]string{"memory": filepath.Join(root, "memory/c"), "pids": filepath.Join(root, "pids/c")}
	v2 := map[string]string{"": filepath.Join(root, "unified/c")}
	for _, d := range []string{"memory/c/sub", "pids/c/sub", "pids/c/other", "unified/c/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		paths  map[string]string
		values []string
		want   []string // dirs relative to root, or the error's text
		err    bool
	}{
		{v1, []string{"sub"}, []string{"memory/c/sub", "pids/c/sub"}, false},
		{v1, []string{"sub", "pids:other"}, []string{"memory/c/sub", "pids/c/other"}, false},
		{v1, []string{"memory,pids:/sub"}, []string{"memory/c/sub", "pids/c/sub"}, false},
		{v2, []string{"sub"}, []string{"unified/c/sub"}, false},
		{v2, []string{"memory:sub"}, []string{"need cgroup v1"}, true},
		{v1, []string{"cpu:sub"}, []string{`no "cpu" cgroup`}, true},
		{v1, []string{"../../etc"}, []string{"below the container's cgroup"}, true},
		{v1, []string{"/"}, []string{"below the container's cgroup"}, true},
		{v1, []string{"missing"}, []string{"does not exist"}, true},
		{nil, []string{"sub"}, []string{"no cgroup of its own"}, true},
	} {
		got, err := subCgroupDirs(c.paths, c.values)
		if c.err {
			if err == nil || !strings.Contains(err.Error(), c.want[0]) {
				t.Errorf("%v: want error %q, got %v %v", c.values, c.want[0], got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v", c.values, err)
			continue
		}
		var rel []string
		for _, d := range got {
			r, _ := filepath.Rel(root, d)
			rel = append(rel, r)
		}
		if strings.Join(rel, " ") != strings.Join(c.want, " ") {
			t.Errorf("%v: got %v, want %v", c.values, rel, c.want)
		}
	}
}
