//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func runningBundle(t *testing.T) *bundle {
	t.Helper()
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	return b
}

func TestExecFlags(t *testing.T) {
	b := runningBundle(t)
	out, errs, code := b.myrun("exec", "-e", "A=1", "-e", "B=two words", "--cwd", "/tmp", "-u", "1000:1000", "--additional-gids", "10",
		b.id, "sh", "-c", `echo "$A|$B"; pwd; id -u; id -g; id -G`)
	if code != 0 || out != "1|two words\n/tmp\n1000\n1000\n1000 10\n" {
		t.Fatalf("exec: %d %q %s", code, out, errs)
	}
	// The exec'd process is in the container's namespaces and cgroup.
	// In the container's cgroup namespace every hierarchy's path is "/".
	out, _, _ = b.myrun("exec", b.id, "sh", "-c", "hostname; grep -vc ':/$' /proc/self/cgroup; echo $$")
	if f := strings.Fields(out); len(f) != 3 || f[0] != "myrun-test" || f[1] != "0" || f[2] == "1" {
		t.Fatalf("exec namespaces/cgroup: %q", out)
	}
	// --cap adds to the bounding/effective/permitted sets.
	capEff := func(args ...string) uint64 {
		out, errs, _ := b.myrun(append(append([]string{"exec"}, args...), b.id, "grep", "CapEff", "/proc/self/status")...)
		f := strings.Fields(out)
		if len(f) != 2 {
			t.Fatalf("exec %v: %q %s", args, out, errs)
		}
		v, _ := strconv.ParseUint(f[1], 16, 64)
		return v
	}
	const sysAdmin = 1 << 21
	if capEff()&sysAdmin != 0 || capEff("--cap", "CAP_SYS_ADMIN")&sysAdmin == 0 {
		t.Fatal("exec --cap CAP_SYS_ADMIN did not add the capability")
	}
	// Only stdio reaches an exec'd process too.
	out, _, _ = b.myrun("exec", b.id, "sh", "-c", "ls /proc/self/fd | wc -l")
	if strings.TrimSpace(out) != "4" {
		t.Fatalf("exec fds: %q", out)
	}
	if _, errs, code := b.myrun("exec", b.id, "/no/such/thing"); code == 0 || !strings.Contains(errs, "/no/such/thing") {
		t.Fatalf("exec of a missing binary: %d %s", code, errs)
	}
}

func TestExecProcessJSONAndDetach(t *testing.T) {
	b := runningBundle(t)
	p := rspec.Process{Args: []string{"sh", "-c", "echo from-json > /tmp/pj; sleep 100"}, Cwd: "/", Env: []string{"PATH=/bin"}}
	pj := b.processFile("process.json", p)
	pidFile := filepath.Join(b.dir, "exec.pid")
	if _, errs, code := b.myrun("exec", "-d", "--pid-file", pidFile, "-p", pj, b.id); code != 0 {
		t.Fatalf("exec -d -p: %s", errs)
	}
	if raw, err := os.ReadFile(pidFile); err != nil || len(raw) == 0 {
		t.Fatalf("pid file: %q %v", raw, err)
	}
	out, _, _ := b.myrun("ps", "--format", "json", b.id)
	var pids []int
	json.Unmarshal([]byte(out), &pids)
	if len(pids) < 2 {
		t.Fatalf("ps after exec -d: %q", out)
	}
	bad := filepath.Join(b.dir, "bad.json")
	os.WriteFile(bad, []byte(`{"args":[],"cwd":"relative"}`), 0o644)
	if _, errs, code := b.myrun("exec", "-p", bad, b.id); code == 0 || !strings.Contains(errs, "process.json") {
		t.Fatalf("bad process.json: %d %s", code, errs)
	}
}

func TestKillAllAndSignalNames(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "trap 'echo got-usr1 > /tmp/sig' USR1; while :; do sleep 0.1; done"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "bind", Source: "tmp", Options: []string{"rbind"}})
	})
	os.MkdirAll(filepath.Join(b.dir, "tmp"), 0o777)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	waitStatus(t, b, "running")
	// 0 is accepted (runc >= 1.2; TestRuncBatsKillSignalZero).
	for _, bad := range []string{"NOPE", "-1", "99"} {
		if _, _, code := b.myrun("kill", b.id, bad); code == 0 {
			t.Errorf("signal %q accepted", bad)
		}
	}
	// A shell installs its trap after start returns: retry until seen.
	for i := 0; i < 50; i++ {
		b.myrun("kill", b.id, "SIGUSR1")
		if raw, _ := os.ReadFile(filepath.Join(b.dir, "tmp/sig")); string(raw) == "got-usr1\n" {
			break
		}
		if i == 49 {
			t.Fatal("USR1 never arrived")
		}
		waitStatus(t, b, "running")
	}
	b.myrun("exec", "-d", b.id, "sleep", "100")
	if _, errs, code := b.myrun("kill", "--all", b.id, "KILL"); code != 0 {
		t.Fatalf("kill --all: %s", errs)
	}
	waitStatus(t, b, "stopped")
}

// exec --cgroup runs the process in an existing sub-cgroup of the
// container's cgroup: every hierarchy (PATH) or named ones (CTRL:PATH).
func TestExecSubCgroup(t *testing.T) {
	b := runningBundle(t)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/" + b.id)
	if pureV2() {
		dirs = []string{v2Dir(b)}
	}
	if len(dirs) == 0 {
		t.Fatal("container cgroup not found")
	}
	for _, d := range dirs {
		for _, sub := range []string{"sub", "other"} {
			if err := os.Mkdir(filepath.Join(d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
			// A new v1 cpuset cgroup takes no tasks until it has cpus and mems.
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if v, err := os.ReadFile(filepath.Join(d, f)); err == nil {
					os.WriteFile(filepath.Join(d, sub, f), v, 0o644)
				}
			}
		}
	}
	// In the container's cgroup namespace its own cgroup is "/".
	count := func(args ...string) (sub, other int) {
		out, errs, code := b.myrun(append(append([]string{"exec"}, args...), b.id, "cat", "/proc/self/cgroup")...)
		if code != 0 {
			t.Fatalf("exec %v: %d %s", args, code, errs)
		}
		sub, other = strings.Count(out, ":/sub\n"), strings.Count(out, ":/other\n")
		return
	}
	if sub, _ := count("--cgroup", "sub"); sub != len(dirs) {
		t.Errorf("--cgroup sub: in %d of %d hierarchies", sub, len(dirs))
	}
	// CTRL:PATH names a v1 hierarchy; v2 has only one.
	if !pureV2() {
		if sub, other := count("--cgroup", "sub", "--cgroup", "pids:other"); other != 1 || sub != len(dirs)-1 {
			t.Errorf("--cgroup sub --cgroup pids:other: sub %d, other %d", sub, other)
		}
	}
	if _, errs, code := b.myrun("exec", "--cgroup", "missing", b.id, "true"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("--cgroup missing: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("exec", "--cgroup", "../..", b.id, "true"); code == 0 || !strings.Contains(errs, "below the container's cgroup") {
		t.Errorf("--cgroup ../..: %d %s", code, errs)
	}
}

// Everything of a process.json reaches an exec'd process: user, umask,
// rlimits, the five capability sets (ambient included), no_new_privs,
// HOME from the container's /etc/passwd when unset. Such an exec, with a
// terminal or without, runs through the constructor (nsexec/execproc.c;
// libcontainer/execfast.go says what still needs Go init), so this checks
// the C path against the behaviour Go init has for `run`.
func TestExecProcessSetup(t *testing.T) {
	b := runningBundle(t)
	um := uint32(0o027)
	netRaw := []string{"CAP_NET_RAW"}
	p := rspec.Process{
		Args: []string{"sh", "-c", `echo "$HOME"; umask; ulimit -n; ulimit -Hn; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status`},
		Cwd:  "/", Env: []string{"PATH=/bin"},
		User:            rspec.User{UID: 1000, GID: 1000, Umask: &um},
		Rlimits:         []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 256, Hard: 512}},
		Capabilities:    &rspec.LinuxCapabilities{Bounding: netRaw, Effective: netRaw, Permitted: netRaw, Inheritable: netRaw, Ambient: netRaw},
		NoNewPrivileges: true,
	}
	pj := b.processFile("process.json", p)
	out, errs, code := b.myrun("exec", "-p", pj, b.id)
	want := "/home/user\n0027\n256\n512\n" +
		"CapInh:\t0000000000002000\nCapPrm:\t0000000000002000\nCapEff:\t0000000000002000\n" +
		"CapBnd:\t0000000000002000\nCapAmb:\t0000000000002000\nNoNewPrivs:\t1\n"
	if code != 0 || out != want {
		t.Fatalf("exec %d: got\n%swant\n%s%s", code, out, want, errs)
	}
	// The errors engines parse (podman maps them to exit codes 126/127).
	for args, msg := range map[string]string{
		"nosuch":            `nosuch\": executable file not found in $PATH`,
		"/etc/passwd":       `/etc/passwd\": permission denied`,
		"--cwd /nonexist x": "process.cwd: chdir: no such file or directory",
	} {
		a := strings.Fields(args)
		if a[0] == "--cwd" {
			a = []string{"--cwd", a[1], b.id, "true"}
		} else {
			a = []string{b.id, a[0]}
		}
		if _, errs, code := b.myrun(append([]string{"exec"}, a...)...); code == 0 || !strings.Contains(errs, msg) {
			t.Errorf("exec %v: %d %s, want %q", a, code, errs, msg)
		}
	}
}

// exec joins a user namespace too: the process runs as the mapped user,
// with the container's uid_map, and owns what the container's root owns.
func TestExecUserNamespace(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	os.Chmod(b.dir, 0o755)
	os.Chmod(filepath.Dir(b.dir), 0o755)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	out, errs, code := b.myrun("exec", b.id, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/f && stat -c %u /tmp/f")
	if f := strings.Fields(out); code != 0 || len(f) != 5 || f[0] != "0" || f[1] != "0" || f[2] != "100000" || f[3] != "65536" || f[4] != "0" {
		t.Fatalf("exec %d: %q %s", code, out, errs)
	}
	out, errs, code = b.myrun("exec", "-u", "1000:1000", b.id, "id")
	if code != 0 || !strings.HasPrefix(out, "uid=1000") {
		t.Fatalf("exec -u 1000: %d %q %s", code, out, errs)
	}
}

// exec joins every namespace of the container: each of its /proc/self/ns
// links equals the container init's (pid 1 in the container's pid
// namespace), and differs from the host's.
func TestExecJoinsAllNamespaces(t *testing.T) {
	b := runningBundle(t)
	out, errs, code := b.myrun("exec", b.id, "sh", "-c", `for n in cgroup ipc mnt net pid uts; do echo "$n $(readlink /proc/self/ns/$n) $(readlink /proc/1/ns/$n)"; done`)
	if code != 0 {
		t.Fatalf("exec: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %q", out)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		host, _ := os.Readlink("/proc/self/ns/" + f[0])
		if len(f) != 3 || f[1] != f[2] || f[1] == host {
			t.Errorf("namespace %s: exec %s, init %s, host %s", f[0], f[1], f[2], host)
		}
	}
}

// Seen from the host, an exec'd process is in init's cgroup in every
// hierarchy (on a hybrid host the cgroup2 side too): exec enters the dirs
// the state recorded, without building a cgroup manager.
func TestExecEntersInitsCgroups(t *testing.T) {
	b := runningBundle(t)
	pidFile := filepath.Join(b.dir, "exec.pid")
	if _, errs, code := b.myrun("exec", "-d", "--pid-file", pidFile, b.id, "sleep", "100"); code != 0 {
		t.Fatalf("exec -d: %s", errs)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	cgroupOf := func(pid string) string {
		b, err := os.ReadFile("/proc/" + pid + "/cgroup")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	init := strconv.Itoa(int(b.state()["pid"].(float64)))
	if got, want := cgroupOf(strings.TrimSpace(string(raw))), cgroupOf(init); got != want || !strings.Contains(want, b.id) {
		t.Fatalf("exec'd process's cgroups:\n%s\ninit's:\n%s", got, want)
	}
}

// A config.json or process.json larger than a socket buffer (about 208 KiB
// here; a pod's service-link environment gets there) reaches init and the
// constructor whole: runc takes them, and so do we. Run (init's config),
// exec through the constructor and exec through Go init (ioPriority).
func TestLargeConfigAndExecEnvironment(t *testing.T) {
	var env []string
	for i := 0; i < 3000; i++ {
		env = append(env, "V"+strconv.Itoa(i)+"="+strings.Repeat(strconv.Itoa(i%10), 100))
	}
	count := []string{"sh", "-c", `env | grep -c "^V[0-9]*=" ; echo "$V2999"`}
	want := "3000\n" + strings.Repeat("9", 100) + "\n"
	b := newBundle(t, count, func(s *rspec.Spec) { s.Process.Env = append(s.Process.Env, env...) })
	if out := b.mustRun(); out != want {
		t.Fatalf("run with a %d-variable environment printed %q", len(env), out)
	}
	b.myrun("delete", "--force", b.id)

	r := runningBundle(t)
	for _, p := range []rspec.Process{
		{Args: count, Cwd: "/", Env: append([]string{"PATH=/bin"}, env...)},
		{Args: count, Cwd: "/", Env: append([]string{"PATH=/bin"}, env...),
			IOPriority: &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 4}},
	} {
		pj := r.processFile("big.json", p)
		if out, errs, code := r.myrun("exec", "-p", pj, r.id); code != 0 || out != want {
			t.Errorf("exec (ioPriority %v) with a %d-variable environment: exit %d, stdout %q, stderr %s", p.IOPriority != nil, len(env), code, out, errs)
		}
	}
}
