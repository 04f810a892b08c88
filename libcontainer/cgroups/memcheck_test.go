package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// checkBeforeUpdate names the field and says what runc says, on v1 and
// v2 alike (the v2 refusal used to name only linux.resources.memory,
// through the systemd driver no field at all).
func TestCheckMemoryUsageWording(t *testing.T) {
	old := lib.TestMode // the library reads files outside /sys/fs/cgroup only so
	lib.TestMode = true
	t.Cleanup(func() { lib.TestMode = old })
	for _, v2 := range []bool{false, true} {
		dir := t.TempDir()
		files := map[string]string{"memory.usage_in_bytes": "26214400", "memory.memsw.usage_in_bytes": "26214400"}
		if v2 {
			files = map[string]string{"memory.current": "26214400"}
		}
		for f, v := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(v+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			res  lib.Resources
			want string // "" = accepted
		}{
			{lib.Resources{Memory: 16 << 20, MemoryCheckBeforeUpdate: true}, "linux.resources.memory.limit (checkBeforeUpdate): rejecting memory limit 16777216 <= usage 26214400"},
			{lib.Resources{Memory: 16 << 20, MemorySwap: 20 << 20, MemoryCheckBeforeUpdate: true}, "linux.resources.memory.swap (checkBeforeUpdate): rejecting memory+swap limit 20971520 <= usage 26214400"},
			{lib.Resources{Memory: 128 << 20, MemoryCheckBeforeUpdate: true}, ""},
			{lib.Resources{Memory: 16 << 20}, ""},                                        // no check asked
			{lib.Resources{PidsLimit: ptr(int64(5)), MemoryCheckBeforeUpdate: true}, ""}, // no limit to check
		} {
			err := checkMemoryUsage(dir, v2, &c.res)
			if (c.want == "") != (err == nil) || (err != nil && err.Error() != c.want) {
				t.Errorf("v2=%v %+v: %v, want %q", v2, c.res, err, c.want)
			}
		}
		// No usage file (no cgroup yet): best effort, no refusal.
		if err := checkMemoryUsage(t.TempDir(), v2, &lib.Resources{Memory: 1, MemoryCheckBeforeUpdate: true}); err != nil {
			t.Errorf("v2=%v without usage: %v", v2, err)
		}
	}
}

// The v2 manager refuses before writing anything: memory.max keeps the
// old limit.
func TestV2CheckBeforeUpdateKeepsLimit(t *testing.T) {
	h := newFakeV2(t, allV2, "/user.slice/session-1.scope")
	m, err := New(Config{Path: "/a/b", Name: "b", Resources: &specs.LinuxResources{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(cgroupRoot, "a/b")
	h.write(filepath.Join(leaf, "memory.max"), "268435456\n")
	h.write(filepath.Join(leaf, "memory.current"), "26214400\n")
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(16 << 20)), CheckBeforeUpdate: ptr(true)}})
	if err == nil || !strings.Contains(err.Error(), "linux.resources.memory.limit") || !strings.Contains(err.Error(), "rejecting memory limit") {
		t.Fatalf("Set below usage: %v", err)
	}
	h.expect(map[string]string{filepath.Join(leaf, "memory.max"): "268435456\n"})
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(int64(128 << 20)), CheckBeforeUpdate: ptr(true)}}); err != nil {
		t.Fatal(err)
	}
	h.expect(map[string]string{filepath.Join(leaf, "memory.max"): "134217728"})
}
