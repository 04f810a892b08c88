package cgroups

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	lib "github.com/opencontainers/cgroups"
)

// ownCgroups parses /proc/self/cgroup as the library's ParseCgroupFile
// does: the same map or an error for the same inputs.
func TestOwnCgroupsMatchesLibrary(t *testing.T) {
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
	old := procSelfCgroup
	defer func() { procSelfCgroup = old }()
	for _, c := range cases {
		procSelfCgroup = filepath.Join(t.TempDir(), "cgroup")
		if err := os.WriteFile(procSelfCgroup, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		got, gotErr := ownCgroups()
		want, wantErr := lib.ParseCgroupFile(procSelfCgroup)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %v, %v; library %v, %v", c, got, gotErr, want, wantErr)
		}
	}
	procSelfCgroup = old
	got, err := ownCgroups()
	want, wantErr := lib.ParseCgroupFile(procSelfCgroup)
	if err != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("/proc/self/cgroup: got %v, %v; library %v, %v", got, err, want, wantErr)
	}
	procSelfCgroup = filepath.Join(t.TempDir(), "missing")
	if _, err := ownCgroups(); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}
