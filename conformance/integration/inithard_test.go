//go:build integration

package integration

// Hardening of the created container (issue 21 items 1, 2, 4 and 7) and no
// command holding its caller's pipes (issue 20, "Hangs"). Listed in the
// header of escape_test.go.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The default spec's capabilities: CAP_AUDIT_WRITE, CAP_KILL and
// CAP_NET_BIND_SERVICE.
const ihDefaultCaps = 1<<29 | 1<<5 | 1<<10

// ihCaps reads the Cap* lines of /proc/<pid>/status (or a copy of them).
func ihCaps(t *testing.T, status string) map[string]uint64 {
	t.Helper()
	caps := map[string]uint64{}
	for _, l := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("status line %q: %v", l, err)
		}
		caps[k] = n
	}
	if len(caps) != 5 {
		t.Fatalf("no capability lines in %q", status)
	}
	return caps
}

// ihFds lists a process's fds: number -> readlink target.
func ihFds(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		fds[n], _ = os.Readlink(filepath.Join(dir, e.Name()))
	}
	return fds
}

// ihCreate creates b with extra files as fds 3.. of myrun and args added
// after "create", and returns init's pid.
func ihCreate(t *testing.T, b *bundle, extra []*os.File, args ...string) int {
	t.Helper()
	a := append([]string{"--root", b.root, "create"}, args...)
	if _, errs, code := escRun(t, myrun, extra, append(a, "--bundle", b.dir, b.id)...); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	return int(b.state()["pid"].(float64))
}

// Item 1: a created container's init waits for `start` holding nothing of
// the host: every fd is stdio, the exec fifo or an anonymous inode of the
// Go runtime (no directory, no procfs or cgroupfs file, which a process
// that may ptrace init could reopen or walk from through /proc/<init>/fd),
// and it has the container's capabilities, not all of them. On a runtime
// that waits as root with full capabilities and an O_PATH handle on the
// host's /proc/<pid>/fd, both fail.
func TestCreatedInitHoldsNoHostHandles(t *testing.T) {
	b := newBundle(t, []string{"sleep", "30"}, nil)
	pid := ihCreate(t, b, nil)
	for n, target := range ihFds(t, pid) {
		p := fmt.Sprintf("/proc/%d/fd/%d", pid, n)
		var st unix.Stat_t
		var fs unix.Statfs_t
		if err := unix.Stat(p, &st); err != nil {
			t.Errorf("fd %d (%s): stat: %v", n, target, err)
			continue
		}
		unix.Statfs(p, &fs)
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			t.Errorf("created init holds directory fd %d (%s)", n, target)
		case fs.Type == unix.PROC_SUPER_MAGIC || fs.Type == unix.CGROUP_SUPER_MAGIC || fs.Type == unix.CGROUP2_SUPER_MAGIC || fs.Type == unix.SYSFS_MAGIC:
			t.Errorf("created init holds fd %d on procfs/cgroupfs/sysfs (%s)", n, target)
		case n <= 2, strings.HasSuffix(target, "/exec.fifo"), strings.HasPrefix(target, "anon_inode:"):
		default:
			t.Errorf("created init holds fd %d (%s), not stdio, the fifo or the Go runtime's", n, target)
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	caps := ihCaps(t, string(raw))
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"} {
		if caps[k]&^uint64(ihDefaultCaps) != 0 {
			t.Errorf("created init's %s is %#x, more than the container's %#x", k, caps[k], ihDefaultCaps)
		}
	}
	if caps["CapEff"] != ihDefaultCaps {
		t.Errorf("created init's CapEff %#x, want the container's effective set %#x", caps["CapEff"], ihDefaultCaps)
	}
	// And it still starts.
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	waitStatus(t, b, "running")
}

// Item 1 with a non-root user: the created init already is that user and
// holds the configured effective set (here CAP_KILL), which it keeps
// through setuid; after start the process runs as usual.
func TestCreatedInitIsTheContainerUser(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "id -u > /tmp/uid; sleep 30"}, func(s *rspec.Spec) {
		s.Root.Readonly = false
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
		c := []string{"CAP_KILL"}
		s.Process.Capabilities = &rspec.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
	})
	pid := ihCreate(t, b, nil)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			if f := strings.Fields(l); len(f) != 5 || f[1] != "1000" || f[2] != "1000" || f[3] != "1000" {
				t.Errorf("created init's %s, want the container's 1000", l)
			}
		}
	}
	caps := ihCaps(t, string(raw))
	if caps["CapEff"] != 1<<5 || caps["CapPrm"] != 1<<5 || caps["CapBnd"] != 1<<5 {
		t.Errorf("created init's caps %#v, want CAP_KILL (0x20) only", caps)
	}
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	uid := filepath.Join(b.dir, "rootfs/tmp/uid")
	escWaitFor(t, 10*time.Second, "the container's process", func() bool {
		raw, _ := os.ReadFile(uid)
		return strings.TrimSpace(string(raw)) == "1000"
	})
}

// Item 1, as an attacker does it: a process exec'd into the created
// container with CAP_SYS_PTRACE walks ".." from every fd of init
// (/proc/1/fd/N) to the host's procfs root and reads a host file through
// /proc/<host pid>/root. On a runtime whose created init keeps a handle on
// the host's /proc/<pid>/fd, the marker's content comes back.
func TestCreatedInitPtraceWalkFindsNoHost(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "host-marker")
	secret := fmt.Sprintf("host-secret-%d", time.Now().UnixNano())
	if err := os.WriteFile(marker, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, []string{"sleep", "30"}, nil)
	ihCreate(t, b, nil)
	host := strconv.Itoa(os.Getpid())
	script := `for f in /proc/1/fd/*; do
	for up in "" /.. /../.. /../../..; do
		cat "$f$up/` + host + `/root` + marker + `" 2>/dev/null && echo " via $f$up"
	done
done; echo walked`
	out, errs, code := b.myrun("exec", "--cap", "CAP_SYS_PTRACE", b.id, "sh", "-c", script)
	if code != 0 || !strings.Contains(out, "walked") {
		t.Fatalf("attacker exec: %d %q %s", code, out, errs)
	}
	if strings.Contains(out, secret) {
		t.Fatalf("a process in the created container read a host file through init's fds: %q", out)
	}
}

// Item 2: fds the caller of create left open (not close-on-exec) are not
// held by the created init; the preserved ones are. fd 3 is preserved,
// fd 20 only inherited (above the fds myrun passes on, which would
// otherwise take its number in init).
func TestCreatedInitHoldsNoCallerFds(t *testing.T) {
	b := newBundle(t, []string{"sleep", "30"}, nil)
	var extra []*os.File
	var links []string
	for i := 0; i < 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		extra = append(extra, w)
		l, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", w.Fd()))
		links = append(links, l)
	}
	extra = append(extra[:1], append(make([]*os.File, 16), extra[1])...)
	pid := ihCreate(t, b, extra, "--preserve-fds", "1")
	fds := ihFds(t, pid)
	if fds[3] != links[0] {
		t.Errorf("preserved fd 3 is %q, want %q", fds[3], links[0])
	}
	var nums []int
	for n, l := range fds {
		nums = append(nums, n)
		if l == links[1] {
			t.Errorf("created init holds the caller's fd as %d (%s)", n, l)
		}
	}
	sort.Ints(nums)
	t.Logf("created init's fds: %v", nums)
}

// Item 2 and issue 20: a caller capturing output with $(...) gets control
// back: nothing that outlives the command (the created init, a detached
// container or exec'd process) keeps the substitution's pipe, neither as
// an extra fd the caller left open (fd 9 here) nor, with a terminal, as a
// copy of the caller's stderr. The shell is killed after 20 s, so a hang
// fails the test instead of hanging it.
func TestCapturedOutputReturns(t *testing.T) {
	console := func(s *rspec.Spec) { s.Process.Terminal = true }
	cases := []struct {
		name   string
		mutate func(*rspec.Spec)
		setup  []string // myrun args run first, outside the substitution
		cmd    string   // the captured command; {ID}, {B} and {S} are replaced
		tty    bool
	}{
		{name: "create with extra fd", cmd: `create --bundle {B} {ID} 9>&1 >/dev/null 2>&1 </dev/null`},
		{name: "create terminal", mutate: console, tty: true, cmd: `create --bundle {B} --console-socket {S} {ID} 2>&1 </dev/null`},
		{name: "run -d with extra fd", cmd: `run -d --bundle {B} {ID} 9>&1 >/dev/null 2>&1 </dev/null`},
		{name: "run -d terminal", mutate: console, tty: true, cmd: `run -d --bundle {B} --console-socket {S} {ID} 2>&1 </dev/null`},
		// ioPriority takes the Go init path of exec, the other the
		// constructor's.
		{name: "exec -d Go init with extra fd", setup: []string{"run", "-d", "--bundle", "{B}", "{ID}"}, cmd: `exec -d -p {P} {ID} 9>&1 >/dev/null 2>&1 </dev/null`},
		{name: "exec -d with extra fd", setup: []string{"run", "-d", "--bundle", "{B}", "{ID}"}, cmd: `exec -d {ID} sleep 30 9>&1 >/dev/null 2>&1 </dev/null`},
		{name: "update", setup: []string{"run", "-d", "--bundle", "{B}", "{ID}"}, cmd: `update --pids-limit 100 {ID} 9>&1 2>&1 </dev/null`},
		{name: "kill", setup: []string{"run", "-d", "--bundle", "{B}", "{ID}"}, cmd: `kill {ID} KILL 9>&1 2>&1 </dev/null`},
		{name: "delete", setup: []string{"create", "--bundle", "{B}", "{ID}"}, cmd: `delete --force {ID} 9>&1 2>&1 </dev/null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"sleep", "30"}, c.mutate)
			sock := "/nonexistent"
			if c.tty {
				var got <-chan *os.File
				sock, got = consoleSocket(t)
				t.Cleanup(func() {
					select {
					case m := <-got:
						if m != nil {
							m.Close()
						}
					default:
					}
				})
			}
			proc := b.processFile("process.json", rspec.Process{Args: []string{"sleep", "30"}, Cwd: "/", Env: []string{"PATH=/bin"},
				IOPriority: &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 4}})
			q := func(s string) string { return "'" + s + "'" }
			repl := strings.NewReplacer("{ID}", b.id, "{B}", b.dir, "{S}", sock)
			shRepl := strings.NewReplacer("{ID}", q(b.id), "{B}", q(b.dir), "{S}", q(sock), "{P}", q(proc))
			if c.setup != nil {
				args := append([]string{"--root", b.root}, c.setup...)
				for i := range args {
					args[i] = repl.Replace(args[i])
				}
				cmd := exec.Command(myrun, args...)
				if _, errs, code := runCmd(t, 60*time.Second, cmd); code != 0 {
					t.Fatalf("setup %v: %s", args, errs)
				}
			}
			// The substitution waits for EOF on its pipe, not for
			// myrun: runCmd's timeout kills the shell if anything
			// left behind holds the pipe.
			script := `out=$("$0" --root "$1" ` + shRepl.Replace(c.cmd) + `); rc=$?; echo "rc=$rc out=$out"`
			out, errs, code := runCmd(t, 20*time.Second, exec.Command("sh", "-c", script, myrun, b.root))
			if code != 0 || !strings.HasPrefix(out, "rc=0 ") {
				t.Fatalf("captured %q: %q %s", c.cmd, out, errs)
			}
		})
	}
}

// Item 4: startContainer hooks run as the container's process: its
// capabilities and only fds 0-2 (ls's own fd for the directory is 3),
// although the caller passed a preserved fd and left another open.
func TestStartContainerHookRunsAsContainerProcess(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `grep ^Cap /proc/self/status > /proc-caps.tmp; mv /proc-caps.tmp /proc-caps; sleep 30`}, func(s *rspec.Spec) {
		s.Root.Readonly = false
		s.Hooks = &rspec.Hooks{StartContainer: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
			`grep ^Cap /proc/self/status > /hook-caps; ls /proc/self/fd > /hook-fds`}}}}
	})
	var extra []*os.File
	for i := 0; i < 2; i++ {
		f, err := os.CreateTemp(t.TempDir(), "fd")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		extra = append(extra, f)
	}
	ihCreate(t, b, extra, "--preserve-fds", "1")
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	rootfs := filepath.Join(b.dir, "rootfs")
	escWaitFor(t, 10*time.Second, "the container's process", func() bool { return escExists(filepath.Join(rootfs, "proc-caps")) })
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(rootfs, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(raw)
	}
	hook, proc := ihCaps(t, read("hook-caps")), ihCaps(t, read("proc-caps"))
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if hook[k] != proc[k] {
			t.Errorf("startContainer hook's %s is %#x, the container process's %#x", k, hook[k], proc[k])
		}
	}
	if fds := strings.Fields(read("hook-fds")); strings.Join(fds, " ") != "0 1 2 3" {
		t.Errorf("startContainer hook's fds (ls has 3): %v, want 0 1 2 3", fds)
	}
}

// Item 7: the session keyring is created with runc's permissions,
// 0x3f1b0000: everything for the possessor, view/read/search/link for the
// owning user (0x3f3f0000 also lets the user write and setattr).
func TestSessionKeyringPermissions(t *testing.T) {
	b := newBundle(t, []string{"sleep", "30"}, nil)
	ihCreate(t, b, nil)
	raw, err := os.ReadFile("/proc/keys")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		// ID flags usage timeout perm uid gid type description
		if len(f) >= 9 && f[7] == "keyring" && strings.TrimSuffix(f[8], ":") == "_ses."+b.id {
			if f[4] != "3f1b0000" {
				t.Fatalf("session keyring perm %s, want 3f1b0000: %s", f[4], l)
			}
			return
		}
	}
	t.Fatalf("no session keyring _ses.%s in /proc/keys", b.id)
}
