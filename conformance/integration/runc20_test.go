//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

// runcTime is the time logrus (so runc) writes: RFC 3339 to the second.
var runcTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$`)
var textLine = regexp.MustCompile(`^time="?([^" ]+)"? level=([a-z]+) msg=`)

// debugShape checks that every line of log is a debug-capable log line of
// runc's shape (text or JSON) and returns the messages of the level=debug
// ones.
func debugShape(t *testing.T, what, log string, jsonFormat bool) []string {
	t.Helper()
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var tm, level, msg string
		if jsonFormat {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Errorf("%s: not JSON: %q", what, line)
				continue
			}
			tm, _ = e["time"].(string)
			level, _ = e["level"].(string)
			msg, _ = e["msg"].(string)
		} else {
			m := textLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("%s: not a log line of runc's shape: %q", what, line)
				continue
			}
			tm, level = m[1], m[2]
			msg = strings.Trim(strings.SplitN(line[len(m[0]):], " ", 2)[0], `"`)
			if strings.HasPrefix(line[len(m[0]):], `"`) {
				msg = strings.SplitN(line[len(m[0])+1:], `"`, 2)[0]
			}
		}
		if !runcTime.MatchString(tm) {
			t.Errorf("%s: time %q is not RFC 3339 to the second as runc writes: %q", what, tm, line)
		}
		if level == "debug" {
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		t.Errorf("%s: no level=debug line in %q", what, log)
	}
	return msgs
}

// --debug for run and exec, alone (stderr), with --log FILE (the file,
// nothing on stderr) and with --log-format json: runc's places and shape,
// side by side. Ours include init's lines after `start` (its execve),
// which were lost when init closed the log before waiting for `start`.
func TestRuncDebugShape(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	for _, rt := range []string{"myrun", "runc"} {
		call := func(args ...string) result {
			var r result
			if rt == "runc" {
				r.out, r.err, r.code = b.runc(args...)
			} else {
				r.out, r.err, r.code = b.myrun(args...)
			}
			return r
		}
		initLine := func(what string, msgs []string) {
			if rt == "myrun" && !slices.Contains(msgs, "execve") {
				t.Errorf("%s: init's execve line (after start) missing: %q", what, msgs)
			}
		}
		b.spec.Process.Args = []string{"true"}
		b.write()
		r := call("--debug", "run", "--bundle", b.dir, b.id)
		if r.code != 0 {
			t.Fatalf("%s --debug run: %v", rt, r)
		}
		initLine(rt+" --debug run", debugShape(t, rt+" --debug run", r.err, false))
		for _, format := range []string{"text", "json"} {
			log := filepath.Join(t.TempDir(), "log")
			r = call("--debug", "--log", log, "--log-format", format, "run", "--bundle", b.dir, b.id)
			raw, _ := os.ReadFile(log)
			what := rt + " --debug --log-format " + format + " run"
			if r.code != 0 || r.err != "" {
				t.Errorf("%s: %v (nothing on stderr)", what, r)
			}
			initLine(what, debugShape(t, what, string(raw), format == "json"))
		}
		b.spec.Process.Args = []string{"sleep", "100"}
		b.write()
		detach(b, rt == "runc")
		r = call("--debug", "exec", b.id, "true")
		if r.code != 0 {
			t.Errorf("%s --debug exec: %v", rt, r)
		}
		debugShape(t, rt+" --debug exec", r.err, false)
		for _, format := range []string{"text", "json"} {
			log := filepath.Join(t.TempDir(), "log")
			r = call("--debug", "--log", log, "--log-format", format, "exec", b.id, "true")
			raw, _ := os.ReadFile(log)
			what := rt + " --debug --log-format " + format + " exec"
			if r.code != 0 || r.err != "" {
				t.Errorf("%s: %v (nothing on stderr)", what, r)
			}
			debugShape(t, what, string(raw), format == "json")
		}
		call("delete", "--force", b.id)
	}
}

// startAgent builds and starts contrib/seccomp-agent on a socket of its
// own (mkdir and mkdirat answered "ok" without running) and returns the
// socket's path; the agent is killed by PID at the end.
func startAgent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "seccomp-agent")
	build := exec.Command("go", "build", "-o", bin, "./contrib/seccomp-agent")
	build.Dir = "../.."
	if raw, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build agent: %v: %s", err, raw)
	}
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command(bin, "-socket", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Process.Kill()
		agent.Wait()
	})
	escWaitFor(t, 10*time.Second, "agent socket", func() bool { return escExists(sock) })
	return sock
}

func notifyBundle(t *testing.T, listener string, nnp bool) *bundle {
	return newBundle(t, []string{"sh", "-c", "mkdir /tmp/proc && echo made; ls /tmp"}, func(s *rspec.Spec) {
		s.Root.Readonly = false
		s.Process.NoNewPrivileges = nnp
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, ListenerPath: listener,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: rspec.ActNotify}}}
		s.Hooks = &rspec.Hooks{StartContainer: []rspec.Hook{{Path: "/bin/mkdir", Args: []string{"mkdir", "/tmp/hook"}}}}
	})
}

// Seccomp notify with a startContainer hook, as runc: the hook runs under
// the container's filter (its mkdir goes to the agent, which answers
// without making the directory), with or without no_new_privs; with it,
// the filter used to be loaded only after the hooks.
func TestRuncSeccompNotifyStartHooks(t *testing.T) {
	sock := startAgent(t)
	for _, nnp := range []bool{true, false} {
		b := notifyBundle(t, sock, nnp)
		tmp := filepath.Join(b.dir, "rootfs", "tmp")
		for _, rt := range []string{"myrun", "runc"} {
			var r result
			if rt == "runc" {
				r.out, r.err, r.code = b.runc("run", "--bundle", b.dir, b.id)
				b.runc("delete", "--force", b.id)
			} else {
				r.out, r.err, r.code = b.myrun("run", "--bundle", b.dir, b.id)
				b.myrun("delete", "--force", b.id)
			}
			ents, _ := os.ReadDir(tmp)
			if r.code != 0 || strings.TrimSpace(r.out) != "made" || len(ents) != 0 {
				t.Errorf("%s, noNewPrivileges %v: %v; rootfs /tmp holds %v (the agent makes nothing)", rt, nnp, r, ents)
			}
			for _, e := range ents {
				os.Remove(filepath.Join(tmp, e.Name()))
			}
		}
	}
}

// Nothing listening on listenerPath (no socket, or a socket file nobody
// listens on): create fails at once with an error naming the field, as
// runc's does, and leaves nothing behind.
func TestRuncSeccompNotifyNoAgent(t *testing.T) {
	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	for _, sock := range []string{filepath.Join(t.TempDir(), "none.sock"), stale} {
		b := notifyBundle(t, sock, true)
		mine, theirs := b.both("create", "--bundle", b.dir, b.id)
		if theirs.code == 0 {
			t.Errorf("runc create with no agent at %s: %v", sock, theirs)
		}
		if mine.code == 0 || !strings.Contains(mine.err, "linux.seccomp.listenerPath") || !strings.Contains(mine.err, sock) {
			t.Errorf("myrun create with no agent at %s: %v", sock, mine)
		}
		b.assertNothingLeft()
	}
}

// A profile that denies sendmsg (and sendto), with no_new_privs: init
// reports ready under the filter now, with write(2) as runc's sync does,
// so the container runs as with runc.
func TestRuncSeccompNNPDeniesSendmsg(t *testing.T) {
	b := newBundle(t, []string{"echo", "ran"}, func(s *rspec.Spec) {
		s.Process.NoNewPrivileges = true
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"sendmsg", "sendto"}, Action: rspec.ActErrno}}}
	})
	for _, rt := range []string{"myrun", "runc"} {
		var r result
		if rt == "runc" {
			r.out, r.err, r.code = b.runc("run", "--bundle", b.dir, b.id)
			b.runc("delete", "--force", b.id)
		} else {
			r.out, r.err, r.code = b.myrun("run", "--bundle", b.dir, b.id)
			b.myrun("delete", "--force", b.id)
		}
		if r.code != 0 || strings.TrimSpace(r.out) != "ran" {
			t.Errorf("%s run with sendmsg denied: %v", rt, r)
		}
	}
	b.assertNothingLeft()
}
