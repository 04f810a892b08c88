//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// What remained of issue 20: time namespaces with a user namespace and
// with namespaces joined by path, seccomp notify without its agent, and
// --debug output in runc's places and shape.

// hostUptime is the host's boot time in whole seconds.
func hostUptime(t *testing.T) float64 {
	t.Helper()
	var up float64
	raw, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(string(raw), &up)
	return up
}

// checkBoottime fails unless out (the first field of a /proc/uptime) is at
// least the host's uptime plus off seconds (less a minute of slack for a
// slow machine: the offset is days).
func checkBoottime(t *testing.T, what, out string, off int64) {
	t.Helper()
	f := strings.Fields(out)
	if len(f) == 0 {
		t.Fatalf("%s: no uptime in %q", what, out)
	}
	up, _ := strconv.ParseFloat(f[0], 64)
	if host := hostUptime(t); up < host+float64(off)-60 {
		t.Errorf("%s: uptime %s, host %.0f: boottime offset %d not applied", what, f[0], host, off)
	}
}

// linux.timeOffsets with a new user namespace: the offsets reach init and
// exec'd processes (root and not) alike. They were written from inside the
// user namespace, where /proc/self/timens_offsets cannot be opened (EACCES).
func TestTimeNamespaceWithUserns(t *testing.T) {
	const off = 7 * 86400
	b := newBundle(t, []string{"sh", "-c", "cat /proc/uptime; sleep 1000"}, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace})
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"boottime": {Secs: off}, "monotonic": {Secs: 3600}}
		escUserns(s, 100000, 65536)
	})
	escChownTree(t, filepath.Join(b.dir, "rootfs"), 100000, 100000)
	os.Chmod(b.dir, 0o755)
	os.Chmod(filepath.Dir(b.dir), 0o755)
	b.spec.Process.Args = []string{"cat", "/proc/uptime"}
	b.write()
	out, errs, code := b.run()
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	checkBoottime(t, "run", out, off)
	b.spec.Process.Args = []string{"sleep", "1000"}
	b.write()
	detach(b, false)
	for _, user := range []string{"0", "1000"} {
		out, errs, code := b.myrun("exec", "--user", user, b.id, "cat", "/proc/uptime")
		if code != 0 {
			t.Fatalf("exec --user %s: exit %d: %s", user, code, errs)
		}
		checkBoottime(t, "exec --user "+user, out, off)
	}
}

// A container that joins another's namespaces by path (pid, net, ipc, uts,
// user, and time, which runc 1.1.5 does not know) with a mount namespace of
// its own runs, in the other's namespaces, as it does with runc.
func TestJoinNamespacesByPath(t *testing.T) {
	const off = 5 * 86400
	userns := func(s *rspec.Spec) { escUserns(s, 100000, 65536) }
	a := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace})
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"boottime": {Secs: off}}
		userns(s)
	})
	escChownTree(t, filepath.Join(a.dir, "rootfs"), 100000, 100000)
	os.Chmod(a.dir, 0o755)
	os.Chmod(filepath.Dir(a.dir), 0o755)
	detach(a, false)
	pid := int(a.state()["pid"].(float64))
	kinds := []string{"pid", "net", "ipc", "uts", "user"}
	script := "cat /proc/uptime; for n in " + strings.Join(kinds, " ") + "; do readlink /proc/self/ns/$n; done"
	b := newBundle(t, []string{"sh", "-c", script}, func(s *rspec.Spec) {
		userns(s)
		var ns []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			p := map[rspec.LinuxNamespaceType]string{rspec.PIDNamespace: "pid", rspec.NetworkNamespace: "net",
				rspec.IPCNamespace: "ipc", rspec.UTSNamespace: "uts", rspec.UserNamespace: "user"}[n.Type]
			if p != "" {
				n.Path = fmt.Sprintf("/proc/%d/ns/%s", pid, p)
			}
			ns = append(ns, n)
		}
		s.Linux.Namespaces = ns
	})
	escChownTree(t, filepath.Join(b.dir, "rootfs"), 100000, 100000)
	os.Chmod(b.dir, 0o755)
	var want []string
	for _, k := range kinds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, k))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, l)
	}
	mine, theirs := b.both("run", "--bundle", b.dir, b.id)
	for _, r := range []struct {
		rt  string
		res result
	}{{"myrun", mine}, {"runc", theirs}} {
		lines := strings.Split(strings.TrimSpace(r.res.out), "\n")
		if r.res.code != 0 || len(lines) != len(kinds)+1 || strings.Join(lines[1:], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %v; want namespaces %v", r.rt, r.res, want)
		}
	}
	// And the time namespace too (myrun only): the offsets are the other
	// container's.
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces,
		rspec.LinuxNamespace{Type: rspec.TimeNamespace, Path: fmt.Sprintf("/proc/%d/ns/time", pid)})
	b.spec.Process.Args = []string{"sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time"}
	b.write()
	out, errs, code := b.run()
	tl, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/time", pid))
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), tl) {
		t.Fatalf("join time ns: exit %d, out %q (want %s), %s", code, out, tl, errs)
	}
	checkBoottime(t, "joined time ns", out, off)
	// Offsets for a time namespace that already exists cannot be applied:
	// refused, naming the field, nothing left.
	b.spec.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"boottime": {Secs: 1}}
	b.write()
	_, errs, code = b.run()
	if code == 0 || !strings.Contains(errs, "linux.timeOffsets: require a new time namespace; the time namespace is joined") {
		t.Fatalf("offsets with a joined time ns: exit %d, %s", code, errs)
	}
	b.assertNothingLeft()
}
