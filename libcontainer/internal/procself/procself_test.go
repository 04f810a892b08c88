package procself

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/moby/sys/mountinfo"
	lib "github.com/opencontainers/cgroups"
)

// Cgroups gives the library's ParseCgroupFile map or error for the same
// inputs.
func TestCgroupsMatchesLibrary(t *testing.T) {
	cases := []string{
		"",
		"0::/\n",
		"0::/user.slice/x.scope\n",
		"12:cpu,cpuacct:/a\n11:name=systemd:/b\n0::/c\n",
		"5:pids:/with:colons:in/path\n",
		"1:memory:/a", // no final newline
		"1:memory:/a\n\n2:pids:/b\n",
		"bad line\n",
		"1:memory\n",
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "cgroup")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		got, gotErr := Cgroups(p)
		want, wantErr := lib.ParseCgroupFile(p)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, %v; library %v, %v", c, got, gotErr, want, wantErr)
		}
	}
	got, err := Cgroups("/proc/self/cgroup")
	want, wantErr := lib.ParseCgroupFile("/proc/self/cgroup")
	if err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("/proc/self/cgroup: got %v, %v; library %v, %v", got, err, want, wantErr)
	}
	if _, err := Cgroups(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

// Mounts gives the library's GetMounts for the same filter.
func TestMountsMatchesLibrary(t *testing.T) {
	for name, filter := range map[string]mountinfo.FilterFunc{
		"all":     nil,
		"cgroups": mountinfo.FSTypeFilter("cgroup", "cgroup2"),
		"parents": mountinfo.ParentsFilter("/proc/self"),
	} {
		got, err := Mounts(filter)
		want, wantErr := mountinfo.GetMounts(filter)
		if err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %d mounts, %v; library %d, %v", name, len(got), err, len(want), wantErr)
		}
		if name == "all" && len(got) == 0 {
			t.Error("no mounts read")
		}
	}
}
