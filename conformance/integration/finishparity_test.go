//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// What a process sees of itself, printed by its own shell (/proc/$$:
// children would have other capabilities after their execve).
const finishProbe = `s=/proc/$$
echo fds:
ls $s/fd
grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):' $s/status
cat $s/limits
echo "umask $(umask)"
echo "cwd $(pwd)"
echo env:
tr '\0' '\n' < $s/environ
echo end`

// finishPasswd: uid 1001's first entry has an empty home, a later one
// has a home.
const finishPasswd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n" +
	"empty:x:1001:1001:::/bin/sh\nlater:x:1001:1001::/home/later:/bin/sh\n"

func finishBundle(t *testing.T, args []string) *bundle {
	t.Helper()
	b := newBundle(t, args, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{
			DefaultAction: rspec.ActAllow,
			Syscalls:      []rspec.LinuxSyscall{{Names: []string{"mknod", "mknodat"}, Action: rspec.ActErrno}},
		}
	})
	if err := os.WriteFile(filepath.Join(b.dir, "rootfs/etc/passwd"), []byte(finishPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// finishCases are the processes run through both appliers.
func finishCases(b *bundle) map[string]rspec.Process {
	base := *b.spec.Process
	probe := []string{"sh", "-c", finishProbe}
	um := uint32(0o027)
	some := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return map[string]rspec.Process{
		// root with the default capabilities, seccomp loaded before the
		// uid switch (no no_new_privs).
		"root": {Args: probe, Env: []string{"PATH=/usr/bin:/bin", "TERM=xterm"}, Cwd: "/",
			Capabilities: base.Capabilities, NoNewPrivileges: false},
		// A user with groups, umask, rlimits, a capability in every set
		// and seccomp after no_new_privs; a duplicated name and an empty
		// HOME in env.
		"user": {Args: probe, Env: []string{"PATH=/bin", "A=1", "HOME=", "B=2", "A=3"}, Cwd: "/tmp",
			User:            rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}, Umask: &um},
			NoNewPrivileges: true,
			Rlimits: []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
				{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}},
			Capabilities: &rspec.LinuxCapabilities{Bounding: append(some, "CAP_CHOWN"), Effective: some,
				Permitted: some, Inheritable: some, Ambient: some}},
		// The first passwd entry of the uid has an empty home.
		"empty-home": {Args: probe, Env: []string{"PATH=/bin"}, Cwd: "/", User: rspec.User{UID: 1001, GID: 1001}},
	}
}

// execBoth runs one process.json through the constructor's applier and
// through Go init (ExecGoInitEnv), with one preserved fd.
func execBoth(t *testing.T, b *bundle, name string, p rspec.Process) (c, g result) {
	t.Helper()
	pj := b.processFile(name+".json", p)
	extra, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	run := func(goInit bool) result {
		cmd := exec.Command(myrun, "--debug", "--root", b.root, "exec", "--preserve-fds", "1", "-p", pj, b.id)
		cmd.ExtraFiles = []*os.File{extra}
		cmd.Env = os.Environ()
		if goInit {
			cmd.Env = append(cmd.Env, "_MYRUN_EXEC_GO_INIT=1")
		}
		var r result
		r.out, r.err, r.code = runCmd(t, 60*time.Second, cmd)
		return r
	}
	c, g = run(false), run(true)
	// The switch works: only the first went through the constructor.
	if !strings.Contains(c.err, "exec in the constructor") || strings.Contains(g.err, "exec in the constructor") {
		t.Fatalf("%s: the exec paths were not the two appliers:\nconstructor: %s\ngo init: %s", name, c.err, g.err)
	}
	return c, g
}

// TestFinishParity runs the same process.json through both appliers of
// nsexec.Finish (the constructor's execproc.c and Go init) and compares
// what the process sees: ids, groups, the five capability sets,
// NoNewPrivs, Seccomp, rlimits, umask, cwd, env and open fds; and the
// same process as a container's init.
func TestFinishParity(t *testing.T) {
	b := finishBundle(t, []string{"sleep", "1000"})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	want := map[string][]string{
		"root":       {"Uid:\t0\t0\t0\t0", "NoNewPrivs:\t0", "Seccomp:\t2", "umask 0022", "cwd /", "HOME=/root", "fds:\n0\n1\n2\n3\nUid"},
		"user":       {"Uid:\t1000\t1000\t1000\t1000", "Groups:\t10 20", "CapAmb:\t0000000000000420", "CapBnd:\t0000000000000421", "NoNewPrivs:\t1", "Seccomp:\t2", "Max open files            100                  200", "umask 0027", "cwd /tmp", "env:\nPATH=/bin\nA=3\nHOME=/home/user\nB=2\nend"},
		"empty-home": {"Uid:\t1001\t1001\t1001\t1001", "env:\nPATH=/bin\nHOME=\nend"},
	}
	for name, p := range finishCases(b) {
		c, g := execBoth(t, b, name, p)
		if c.code != 0 || g.code != 0 {
			t.Errorf("%s: constructor %v\ngo init %v", name, c, g)
			continue
		}
		if c.out != g.out {
			t.Errorf("%s: the appliers differ:\nconstructor:\n%s\ngo init:\n%s", name, c.out, g.out)
		}
		for _, w := range want[name] {
			if !strings.Contains(c.out, w) {
				t.Errorf("%s: %q missing from:\n%s", name, w, c.out)
			}
		}
		// The same process as a container's init (Go init's other
		// mode: console earlier, the wait for start) sees the same.
		if i := runAsInit(t, p); i.code != 0 || i.out != c.out {
			t.Errorf("%s: init differs from exec:\ninit %v\nexec:\n%s", name, i, c.out)
		}
	}
}

// runAsInit runs p as the process of a new container, with one preserved
// fd as execBoth passes.
func runAsInit(t *testing.T, p rspec.Process) result {
	t.Helper()
	b := finishBundle(t, nil)
	b.spec.Process = &p
	b.write()
	extra, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	cmd := exec.Command(myrun, "--root", b.root, "run", "--preserve-fds", "1", "--bundle", b.dir, b.id)
	cmd.ExtraFiles = []*os.File{extra}
	var r result
	r.out, r.err, r.code = runCmd(t, 60*time.Second, cmd)
	return r
}

var logTime = regexp.MustCompile(`(?m)^time=\S+ `)

// Failures read the same on both paths. An empty or unset PATH has no
// directory to look in, not "." (runc 1.1.5 says the same): with the cwd
// /bin, "sh" is not found; ":" is "." twice, found relative to the cwd
// and refused alike.
func TestFinishParityErrors(t *testing.T) {
	b := finishBundle(t, []string{"sleep", "1000"})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	sh := []string{"sh", "-c", "true"}
	for _, c := range []struct {
		name string
		p    rspec.Process
		want string
	}{
		{"empty-path", rspec.Process{Args: sh, Env: []string{"PATH="}, Cwd: "/bin"}, `exec: \"sh\": executable file not found in $PATH`},
		{"no-path", rspec.Process{Args: sh, Cwd: "/bin"}, `exec: \"sh\": executable file not found in $PATH`},
		{"dot-path", rspec.Process{Args: sh, Env: []string{"PATH=:"}, Cwd: "/bin"}, "cannot run executable found relative to current directory"},
		{"missing", rspec.Process{Args: []string{"/no/such"}, Cwd: "/"}, "stat /no/such: no such file or directory"},
		{"directory", rspec.Process{Args: []string{"/etc"}, Cwd: "/"}, `exec: \"/etc\": is a directory: permission denied`},
		{"not-executable", rspec.Process{Args: []string{"/etc/passwd"}, Cwd: "/"}, "permission denied"},
		{"cwd-missing", rspec.Process{Args: sh, Env: []string{"PATH=/bin"}, Cwd: "/nonexistent"}, "process.cwd: chdir: no such file or directory"},
		{"cwd-file", rspec.Process{Args: sh, Env: []string{"PATH=/bin"}, Cwd: "/etc/passwd"}, "process.cwd: chdir: not a directory"},
	} {
		con, gi := execBoth(t, b, c.name, c.p)
		last := func(r result) string {
			lines := strings.Split(strings.TrimSpace(logTime.ReplaceAllString(r.err, "")), "\n")
			return lines[len(lines)-1]
		}
		if con.code == 0 || gi.code == 0 || !strings.Contains(con.err, c.want) || last(con) != last(gi) {
			t.Errorf("%s: want %s from both alike:\nconstructor %v\ngo init %v", c.name, c.want, con, gi)
		}
	}
	// The container's own process too: podman 4.3's `run IMAGE /etc`
	// expects "permission denied" (execve's EACCES), as runc 1.1.5 says.
	if r := runAsInit(t, rspec.Process{Args: []string{"/etc"}, Cwd: "/"}); r.code == 0 ||
		!strings.Contains(r.err, "is a directory: permission denied") {
		t.Errorf("run /etc: want is a directory: permission denied, got %v", r)
	}
}

// The env rules of both paths are runc's: run under runc 1.1.5 side by
// side, the same processes see the same environment.
func TestFinishEnvLikeRunc(t *testing.T) {
	b := finishBundle(t, []string{"true"})
	mine := finishBundle(t, []string{"sleep", "1000"})
	if _, errs, code := mine.myrun("run", "-d", "--bundle", mine.dir, mine.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	envOf := func(out string) string {
		_, after, _ := strings.Cut(out, "env:\n")
		env, _, _ := strings.Cut(after, "end\n")
		return env
	}
	for _, name := range []string{"user", "empty-home"} {
		p := finishCases(b)[name]
		b.spec.Process = &p
		b.spec.Process.Capabilities = nil // runc 1.1.5 cannot raise ambient caps here
		b.write()
		out, errs, code := b.runc("run", "--bundle", b.dir, b.id)
		b.runc("delete", "--force", b.id)
		if code != 0 {
			t.Fatalf("runc %s: %d %s", name, code, errs)
		}
		c, g := execBoth(t, mine, name, finishCases(mine)[name])
		if envOf(c.out) != envOf(out) || envOf(g.out) != envOf(out) {
			t.Errorf("%s: env differs from runc's:\nrunc:\n%s\nconstructor:\n%s\ngo init:\n%s",
				name, envOf(out), envOf(c.out), envOf(g.out))
		}
	}
}

var ptsNumber = regexp.MustCompile(`/dev/pts/\d+`)

// The console step alike on both paths: a pty as stdio and controlling
// terminal, its size, ONLCR off, owned by the process's uid, no other fd.
func TestFinishParityTerminal(t *testing.T) {
	b := finishBundle(t, []string{"sleep", "1000"})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	p := rspec.Process{Terminal: true, ConsoleSize: &rspec.Box{Height: 25, Width: 81}, Cwd: "/", Env: []string{"PATH=/bin"},
		User: rspec.User{UID: 1000, GID: 1000},
		Args: []string{"sh", "-c", `s=/proc/$$; ls $s/fd; tty; stty size; stty -a | grep -o -- '-\?onlcr'; ` +
			`stat -L -c '%u' $s/fd/0; [ "$(cut -d' ' -f7 $s/stat)" != 0 ] && echo ctty; echo end`}}
	pj := b.processFile("tty.json", p)
	var outs [2]string
	for i, goInit := range []bool{false, true} {
		sockPath, got := consoleSocket(t)
		cmd := exec.Command(myrun, "--debug", "--root", b.root, "exec", "-d", "--console-socket", sockPath, "-p", pj, b.id)
		cmd.Env = os.Environ()
		if goInit {
			cmd.Env = append(cmd.Env, "_MYRUN_EXEC_GO_INIT=1")
		}
		_, errs, code := runCmd(t, 60*time.Second, cmd)
		if code != 0 || strings.Contains(errs, "exec in the constructor") == goInit {
			t.Fatalf("exec -t (go init %v): %d %s", goInit, code, errs)
		}
		master := <-got
		if master == nil {
			t.Fatal("no pty master received")
		}
		outs[i] = ptsNumber.ReplaceAllString(readUntil(master, "end\n"), "/dev/pts/N")
		master.Close()
	}
	if want := "0  1  2\n/dev/pts/N\n25 81\n-onlcr\n1000\nctty\nend\n"; outs[0] != want || outs[1] != want {
		t.Fatalf("terminal:\nconstructor %q\ngo init     %q\nwant        %q", outs[0], outs[1], want)
	}
}
