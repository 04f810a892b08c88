//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// runUsernsOwner runs a container in its own user namespace (ids 0-65535
// mapped to themselves) for others to join, and returns its init's pid.
func runUsernsOwner(t *testing.T) int {
	t.Helper()
	owner := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) { escUserns(s, 0, 65536) })
	if _, errs, code := owner.myrun("run", "-d", "--bundle", owner.dir, owner.id); code != 0 {
		t.Fatalf("run -d (userns owner): %s", errs)
	}
	st, _, _ := owner.myrun("state", owner.id)
	var state rspec.State
	if err := json.Unmarshal([]byte(st), &state); err != nil || state.Pid <= 0 {
		t.Fatalf("state: %v %q", err, st)
	}
	return state.Pid
}

// A config that joins a user namespace by path may carry id mappings (runc
// 1.1 requires them, so myimg and podman send them); nothing writes them,
// so they must be the namespace's own: equal ones are accepted, others
// refused naming the field, with nothing left behind (they were ignored).
func TestJoinedUsernsMappings(t *testing.T) {
	ownerPid := runUsernsOwner(t)
	join := func(host uint32) *bundle {
		return newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
			escUserns(s, host, 65536)
			s.Linux.Namespaces[len(s.Linux.Namespaces)-1].Path = fmt.Sprintf("/proc/%d/ns/user", ownerPid)
		})
	}
	same := join(0)
	if _, errs, code := same.myrun("run", "-d", "--bundle", same.dir, same.id); code != 0 {
		t.Fatalf("run -d with the joined namespace's own mappings: %s", errs)
	}
	out, errs, code := same.myrun("exec", same.id, "cat", "/proc/self/uid_map")
	if f := strings.Fields(out); code != 0 || len(f) != 3 || f[1] != "0" || f[2] != "65536" {
		t.Fatalf("exec cat uid_map: %d %q %s", code, out, errs)
	}
	other := join(100000)
	_, errs, code = other.myrun("run", "-d", "--bundle", other.dir, other.id)
	if code == 0 || !strings.Contains(errs, "linux.uidMappings: [0:100000:65536] do not match the user namespace joined by path, whose map is [0:0:65536]") {
		t.Fatalf("run -d with other mappings: exit %d, %s", code, errs)
	}
	if _, _, code := other.myrun("state", other.id); code == 0 {
		t.Fatal("the refused container was left behind")
	}
}
