//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/console"
)

// Behaviours of runc that callers rely on, checked side by side with the
// installed runc (1.1.5 here) on the same bundle.

// runc runs the installed runc with a --root of the bundle's own; the
// container is force-deleted when the test ends.
func (b *bundle) runc(args ...string) (string, string, int) {
	b.t.Helper()
	root := filepath.Join(b.dir, "runc-state")
	if !b.runcCleanup {
		b.runcCleanup = true
		id := b.id
		// Registered after newBundle's: runs before the myrun cleanup
		// checks that nothing is left.
		b.t.Cleanup(func() { exec.Command("runc", "--root", root, "delete", "--force", id).Run() })
	}
	return runCmd(b.t, 60*time.Second, exec.Command("runc", append([]string{"--root", root}, args...)...))
}

// both runs the same command line under myrun and runc and returns their
// results, runc's second. The container is deleted in between.
func (b *bundle) both(args ...string) (mine, theirs result) {
	b.t.Helper()
	mine.out, mine.err, mine.code = b.myrun(args...)
	b.myrun("delete", "--force", b.id)
	theirs.out, theirs.err, theirs.code = b.runc(args...)
	b.runc("delete", "--force", b.id)
	return mine, theirs
}

type result struct {
	out, err string
	code     int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
}

// precreate makes the container's cgroup in every v1 hierarchy (and the
// hybrid cgroup2 mount) before the runtime does, and removes it at the end.
func precreate(t *testing.T, b *bundle) []string {
	t.Helper()
	var dirs []string
	for _, c := range []string{"freezer", "devices", "memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "unified"} {
		d := filepath.Join("/sys/fs/cgroup", c, cgroupParent, b.id)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	if cs := "/sys/fs/cgroup/cpuset"; exists(cs) {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, _ := os.ReadFile(filepath.Join(cs, f))
			os.WriteFile(filepath.Join(cs, cgroupParent, f), v, 0)
			os.WriteFile(filepath.Join(cs, cgroupParent, b.id, f), v, 0)
		}
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "freezer.state"), []byte("THAWED"), 0)
		os.WriteFile(filepath.Join("/sys/fs/cgroup/unified", cgroupParent, b.id, "cgroup.freeze"), []byte("0"), 0)
		for _, d := range dirs {
			for i := 0; i < 100 && exists(d); i++ {
				if os.Remove(d) != nil {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}
	})
	return dirs
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// A pre-existing frozen cgroup: init would freeze on its way in and
// `run -d` would never return. runc refuses it; so do we, with its words,
// and the cgroup (not ours) stays as it was.
func TestRuncFrozenCgroupRefused(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	fz := filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "freezer.state")
	if err := os.WriteFile(fz, []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	mine, theirs := b.both("run", "-d", "--bundle", b.dir, b.id)
	const want = "container's cgroup unexpectedly frozen"
	if theirs.code == 0 || !strings.Contains(theirs.err, want) {
		t.Fatalf("runc: %v", theirs)
	}
	if mine.code == 0 || !strings.Contains(mine.err, want) {
		t.Fatalf("myrun: %v (runc: %v)", mine, theirs)
	}
	if st, _ := os.ReadFile(fz); strings.TrimSpace(string(st)) != "FROZEN" || !exists(filepath.Dir(fz)) {
		t.Errorf("the pre-existing cgroup was changed: %q", st)
	}
	if ents, _ := os.ReadDir(b.root); len(ents) > 0 {
		t.Errorf("state left behind: %v", ents)
	}
}

// The same with the hybrid host's cgroup2 side frozen (cgroup.freeze).
func TestFrozenUnifiedCgroupRefused(t *testing.T) {
	if !exists("/sys/fs/cgroup/unified/cgroup.controllers") {
		t.Skip("not a hybrid host")
	}
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	if err := os.WriteFile(filepath.Join("/sys/fs/cgroup/unified", cgroupParent, b.id, "cgroup.freeze"), []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	_, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id)
	if code == 0 || !strings.Contains(errs, "container's cgroup unexpectedly frozen") {
		t.Fatalf("run -d: exit %d: %s", code, errs)
	}
}

// resources.unified where cgroup v1 holds the controller: runc refuses
// with "invalid configuration", before creating anything.
func TestRuncUnifiedOnV1Refused(t *testing.T) {
	if exists("/sys/fs/cgroup/cgroup.controllers") {
		t.Skip("pure cgroup v2 host")
	}
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Linux.Resources.Unified = map[string]string{"memory.high": "100000000"}
	})
	mine, theirs := b.both("run", "-d", "--bundle", b.dir, b.id)
	if theirs.code == 0 || !strings.Contains(theirs.err, "invalid configuration") {
		t.Fatalf("runc: %v", theirs)
	}
	if mine.code == 0 || !strings.Contains(mine.err, "invalid configuration") || !strings.Contains(mine.err, "linux.resources.unified") {
		t.Fatalf("myrun: %v", mine)
	}
	b.assertNothingLeft()
}

// waitStopped polls `state` under both runtimes until the container has
// stopped (a bounded wait).
func (b *bundle) waitStopped(runc bool) {
	b.t.Helper()
	for i := 0; i < 200; i++ {
		var out string
		if runc {
			out, _, _ = b.runc("state", b.id)
		} else {
			out, _, _ = b.myrun("state", b.id)
		}
		if strings.Contains(out, `"stopped"`) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	b.t.Fatalf("%s never stopped", b.id)
}

// Every row of libcontainer.Messages (the substrings engines match on),
// provoked under myrun and runc alike: same exit code, and the substring
// in both runtimes' stderr. exec's exit code is 255 when exec itself
// fails, as runc's.
func TestRuncMessages(t *testing.T) {
	cases := []struct {
		name   string
		args   []string // container process
		setup  func(b *bundle, runc bool)
		cmd    []string // {id} is replaced
		want   string
		code   int
		mutate func(*rspec.Spec)
	}{
		{name: "unknown id (state)", cmd: []string{"state", "nosuch-{id}"}, want: "does not exist", code: 1},
		{name: "unknown id (exec)", cmd: []string{"exec", "nosuch-{id}", "true"}, want: "does not exist", code: 255},
		// "h" and "help" are container ids under a verb, not its help.
		{name: "id h (state)", cmd: []string{"state", "h"}, want: "does not exist", code: 1},
		{name: "id help (delete)", cmd: []string{"delete", "help"}, want: "does not exist", code: 1},
		{name: "id in use", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"run", "-d", "--bundle", "{dir}", "{id}"}, want: "already exists", code: 1},
		{name: "kill stopped", args: []string{"true"}, setup: stopped, cmd: []string{"kill", "{id}", "KILL"}, want: "container not running", code: 1},
		{name: "pause stopped", args: []string{"true"}, setup: stopped, cmd: []string{"pause", "{id}"}, want: "container not running", code: 1},
		{name: "update stopped", args: []string{"true"}, setup: stopped, cmd: []string{"update", "--pids-limit", "10", "{id}"}, want: "container not running", code: 1},
		{name: "resume running", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"resume", "{id}"}, want: "container not paused", code: 1},
		{name: "start running", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"start", "{id}"}, want: "cannot start an already running container", code: 1},
		{name: "start stopped", args: []string{"true"}, setup: stopped, cmd: []string{"start", "{id}"}, want: "cannot start a container that has stopped", code: 1},
		{name: "start paused", args: []string{"sleep", "100"}, setup: paused, cmd: []string{"start", "{id}"}, want: "cannot start a container in the paused state", code: 1},
		{name: "delete running", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"delete", "{id}"}, want: "is not stopped", code: 1},
		{name: "exec paused", args: []string{"sleep", "100"}, setup: paused, cmd: []string{"exec", "{id}", "true"}, want: "cannot exec in a paused container", code: 255},
		{name: "exec stopped", args: []string{"true"}, setup: stopped, cmd: []string{"exec", "{id}", "true"}, want: "cannot exec in a stopped container", code: 255},
		{name: "exec bad pid-file dir", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"exec", "--pid-file", "/nonexistent/dir/pid", "{id}", "true"}, want: "no such file or directory", code: 255},
		{name: "exec missing binary", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"exec", "{id}", "/nonexistent"}, want: "no such file or directory", code: 255},
		{name: "exec process status", args: []string{"sleep", "100"}, setup: detach, cmd: []string{"exec", "{id}", "sh", "-c", "exit 7"}, code: 7},
		{name: "invalid configuration", args: []string{"true"}, cmd: []string{"run", "--bundle", "{dir}", "{id}"}, want: "invalid configuration", code: 1,
			mutate: func(s *rspec.Spec) { s.Linux.Resources.Unified = map[string]string{"memory.high": "1000000"} }},
		{name: "run process status", args: []string{"sh", "-c", "exit 3"}, cmd: []string{"run", "--bundle", "{dir}", "{id}"}, code: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if args == nil {
				args = []string{"true"}
			}
			b := newBundle(t, args, c.mutate)
			var got [2]result
			for i, runc := range []bool{false, true} {
				if c.setup != nil {
					c.setup(b, runc)
				}
				cmd := make([]string, len(c.cmd))
				for j, a := range c.cmd {
					cmd[j] = strings.NewReplacer("{id}", b.id, "{dir}", b.dir).Replace(a)
				}
				r := &got[i]
				if runc {
					r.out, r.err, r.code = b.runc(cmd...)
					b.runc("resume", b.id)
					b.runc("delete", "--force", b.id)
				} else {
					r.out, r.err, r.code = b.myrun(cmd...)
					b.myrun("resume", b.id)
					b.myrun("delete", "--force", b.id)
				}
			}
			mine, theirs := got[0], got[1]
			if theirs.code != c.code || !strings.Contains(theirs.err, c.want) {
				t.Fatalf("runc is not as the table says: %v", theirs)
			}
			if mine.code != theirs.code || !strings.Contains(mine.err, c.want) {
				t.Errorf("myrun: %v\nrunc:  %v", mine, theirs)
			}
		})
	}
}

func detach(b *bundle, runc bool) {
	b.t.Helper()
	args := []string{"run", "-d", "--bundle", b.dir, b.id}
	var code int
	var errs string
	if runc {
		_, errs, code = b.runc(args...)
	} else {
		_, errs, code = b.myrun(args...)
	}
	if code != 0 {
		b.t.Fatalf("run -d (runc=%v): %s", runc, errs)
	}
}

func stopped(b *bundle, runc bool) {
	detach(b, runc)
	b.waitStopped(runc)
}

func paused(b *bundle, runc bool) {
	detach(b, runc)
	var code int
	var errs string
	if runc {
		_, errs, code = b.runc("pause", b.id)
	} else {
		_, errs, code = b.myrun("pause", b.id)
	}
	if code != 0 {
		b.t.Fatalf("pause (runc=%v): %s", runc, errs)
	}
}

// exec --ignore-paused into a paused container: the process runs once the
// container is resumed, and the resume is not blocked by the waiting exec
// (it was: exec held the container's lock while it waited).
func TestExecIgnorePaused(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	paused(b, false)
	done := make(chan result, 1)
	go func() {
		var r result
		r.out, r.err, r.code = b.myrun("exec", "--ignore-paused", b.id, "echo", "ran")
		done <- r
	}()
	// The exec is waiting on the frozen process; resume lets it run.
	// Resume first waits until the exec's process is in the cgroup, so
	// that the test checks the frozen path.
	for i := 0; i < 400; i++ {
		procs, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "cgroup.procs"))
		if len(strings.Fields(string(procs))) > 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, errs, code := b.myrun("resume", b.id); code != 0 {
		t.Fatalf("resume: %s", errs)
	}
	select {
	case r := <-done:
		if r.code != 0 || strings.TrimSpace(r.out) != "ran" {
			t.Fatalf("exec --ignore-paused: %v", r)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("exec --ignore-paused never returned after resume")
	}
}

// `ps ID -e -x` passes its arguments to ps(1); ps of a stopped container
// prints just the header and exits 0, as runc.
func TestRuncPs(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	for _, runc := range []bool{false, true} {
		detach(b, runc)
		var out, errs string
		var code int
		var lines []string
		// runc's run -d may return before its init has exec'd.
		for i := 0; i < 100; i++ {
			if runc {
				out, errs, code = b.runc("ps", b.id, "-e", "-x")
			} else {
				out, errs, code = b.myrun("ps", b.id, "-e", "-x")
			}
			lines = strings.Split(strings.TrimSpace(out), "\n")
			if !strings.Contains(out, "init") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "STAT") || !strings.Contains(lines[1], "sleep 100") {
			t.Errorf("ps -e -x (runc=%v): exit %d: %q %s", runc, code, out, errs)
		}
		if runc {
			b.runc("kill", b.id, "KILL")
		} else {
			b.myrun("kill", b.id, "KILL")
		}
		b.waitStopped(runc)
		if runc {
			out, errs, code = b.runc("ps", b.id)
			b.runc("delete", b.id)
		} else {
			out, errs, code = b.myrun("ps", b.id)
			b.myrun("delete", b.id)
		}
		if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 1 || !strings.Contains(out, "PID") {
			t.Errorf("ps of a stopped container (runc=%v): exit %d: %q %s", runc, code, out, errs)
		}
	}
}

// underPty runs script with sh on a new pty as its controlling terminal
// and stdio (as a user at a terminal would run the runtime), with RT set
// to the runtime's command line, and returns what the script wrote to
// the file $OUT.
func underPty(t *testing.T, rt, script string) string {
	t.Helper()
	master, slave, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	outFile := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), "RT="+rt, "OUT="+outFile)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	go io.Copy(io.Discard, master) // the terminal's screen
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s under a pty timed out", rt)
	}
	b, _ := os.ReadFile(outFile)
	return string(b)
}

// A terminal container run in the foreground from a terminal: its output
// captured with $(...) has no "\r" (the container's pty has ONLCR off, as
// runc's), and the pty slave belongs to the process's uid (group tty), for
// run and exec -t alike.
func TestRuncTerminal(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "stat -c '%u %g' $(readlink /proc/self/fd/0); echo hello"}, func(s *rspec.Spec) {
		s.Process.Terminal = true
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
	})
	script := `cd "$BUNDLE" && out=$($RT run "$ID"); printf '%s' "$out" > "$OUT"`
	os.Setenv("BUNDLE", b.dir)
	os.Setenv("ID", b.id)
	defer os.Unsetenv("BUNDLE")
	defer os.Unsetenv("ID")
	theirs := underPty(t, "runc --root "+filepath.Join(b.dir, "runc-state"), script)
	mine := underPty(t, myrun+" --root "+b.root, script)
	tty := ""
	if g, err := user.LookupGroup("tty"); err == nil {
		tty = g.Gid
	}
	want := "1000 " + tty + "\nhello"
	if theirs != want {
		t.Fatalf("runc gave %q, want %q", theirs, want)
	}
	if mine != theirs {
		t.Errorf("run: myrun gave %q, runc %q", mine, theirs)
	}

	// exec -t as a non-root user into a running container. runc clears
	// ONLCR only once it has the pty master, racing the process's first
	// write: the process waits a little so runc's side is stable.
	b2 := newBundle(t, []string{"sleep", "100"}, nil)
	os.Setenv("ID", b2.id)
	execScript := `out=$($RT exec -t -u 1000:1000 "$ID" sh -c "sleep 0.3; stat -c '%u %g' \$(readlink /proc/self/fd/0); echo hello"); printf '%s' "$out" > "$OUT"`
	detach(b2, true)
	theirs = underPty(t, "runc --root "+filepath.Join(b2.dir, "runc-state"), execScript)
	b2.runc("delete", "--force", b2.id)
	detach(b2, false)
	mine = underPty(t, myrun+" --root "+b2.root, execScript)
	if theirs != want {
		t.Fatalf("runc exec -t gave %q, want %q", theirs, want)
	}
	if mine != theirs {
		t.Errorf("exec -t: myrun gave %q, runc %q", mine, theirs)
	}
}

// linux.devices makes /dev/kmsg exist but adds no cgroup rule: under a
// deny-all resources.devices it is EPERM for reading and writing, from
// init and from exec, while runc's default devices (/dev/null) work; an
// update never widens that.
func TestRuncDevicesNoImplicitAllow(t *testing.T) {
	probe := `head -c 10 /dev/kmsg >/dev/null 2>&1; echo r=$?; echo x 2>/dev/null > /dev/kmsg; echo w=$?; echo > /dev/null; echo n=$?`
	b := newBundle(t, []string{"sh", "-c", probe}, func(s *rspec.Spec) {
		s.Linux.Devices = []rspec.LinuxDevice{{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11}}
		s.Linux.Resources.Devices = []rspec.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}
	})
	const want = "r=1\nw=1\nn=0\n"
	mine, theirs := b.both("run", "--bundle", b.dir, b.id)
	if theirs.out != want {
		t.Fatalf("runc: %v", theirs)
	}
	if mine.out != want {
		t.Errorf("run: myrun %v, runc %v", mine, theirs)
	}
	b.spec.Process.Args = []string{"sleep", "100"}
	b.write()
	detach(b, false)
	if out, errs, _ := b.myrun("exec", b.id, "sh", "-c", probe); out != want {
		t.Errorf("exec: %q %s", out, errs)
	}
	if _, errs, code := b.myrun("update", "--pids-limit", "20", b.id); code != 0 {
		t.Fatalf("update: %s", errs)
	}
	cmd := exec.Command(myrun, "--root", b.root, "update", "-r", "-", b.id)
	cmd.Stdin = strings.NewReader(`{"devices":[{"allow":true,"access":"rwm"}]}`)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "linux.resources.devices") {
		t.Errorf("update -r widening the device rules: %v %s", err, out)
	}
	// Resending the container's own rules (engines send the whole
	// resources) is accepted.
	cmd = exec.Command(myrun, "--root", b.root, "update", "-r", "-", b.id)
	cmd.Stdin = strings.NewReader(`{"devices":[{"allow":false,"access":"rwm"}],"pids":{"limit":30}}`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("update -r with the same rules: %v %s", err, out)
	}
	if out, errs, _ := b.myrun("exec", b.id, "sh", "-c", probe); out != want {
		t.Errorf("exec after update: %q %s", out, errs)
	}
}

// update's newer flags and the obsolete ones; exec --cgroup escaping with
// runc's words.
func TestRuncUpdateAndExecFlags(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, func(s *rspec.Spec) {
		s.Linux.Resources.CPU = &rspec.LinuxCPU{Quota: i64p(50000), Period: u64p(100000)}
	})
	detach(b, false)
	if _, errs, code := b.myrun("update", "--cpu-burst", "1000", b.id); code != 0 {
		t.Fatalf("update --cpu-burst: %s", errs)
	}
	if got := cgFile(b, "cpu", "cpu.cfs_burst_us"); got != "1000" {
		t.Errorf("cpu.cfs_burst_us = %s", got)
	}
	if exists(filepath.Join("/sys/fs/cgroup/cpu", cgroupParent, b.id, "cpu.idle")) {
		if _, errs, code := b.myrun("update", "--cpu-idle", "1", b.id); code != 0 || cgFile(b, "cpu", "cpu.idle") != "1" {
			t.Errorf("update --cpu-idle: %d %s", code, errs)
		}
	}
	// Obsolete, as runc: accepted with a warning, nothing set.
	if _, errs, code := b.myrun("update", "--kernel-memory", "10m", b.id); code != 0 || !strings.Contains(errs, "kernel-memory") {
		t.Errorf("update --kernel-memory: %d %s", code, errs)
	}
	for _, c := range []string{"../x", "memory:../x", "/../x"} {
		_, errs, code := b.myrun("exec", "--cgroup", c, b.id, "true")
		if code != 255 || !strings.Contains(errs, "is not a sub cgroup path") {
			t.Errorf("exec --cgroup %s: %d %s", c, code, errs)
		}
	}
}

// recvPidfd accepts one connection on a fresh unix socket and returns the
// pid that the fd it receives refers to (from /proc/self/fdinfo).
func recvPidfd(t *testing.T) (path string, got chan string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "pidfd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	got = make(chan string, 1)
	go func() {
		defer l.Close()
		l.SetDeadline(time.Now().Add(60 * time.Second))
		c, err := l.AcceptUnix()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 64), oob)
		if err != nil {
			got <- "read: " + err.Error()
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- "no fd"
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		defer unix.Close(fds[0])
		info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fds[0]))
		for _, l := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(l, "Pid:"); ok {
				got <- strings.TrimSpace(v)
				return
			}
		}
		got <- "not a pidfd: " + string(info)
	}()
	return path, got
}

// --pidfd-socket (runc 1.2+) on create and exec: the socket receives a
// pidfd of the container's init, and of the exec'd process.
func TestPidfdSocket(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	sock, got := recvPidfd(t)
	if _, errs, code := b.myrun("create", "--pidfd-socket", sock, "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	if pid := fmt.Sprint(b.state()["pid"]); <-got != pid {
		t.Errorf("create --pidfd-socket: pidfd is not init's (%s)", pid)
	}
	b.myrun("start", b.id)
	sock, got = recvPidfd(t)
	pidFile := filepath.Join(b.dir, "exec.pid")
	if _, errs, code := b.myrun("exec", "-d", "--pid-file", pidFile, "--pidfd-socket", sock, b.id, "sleep", "50"); code != 0 {
		t.Fatalf("exec: %s", errs)
	}
	want, _ := os.ReadFile(pidFile)
	if g := <-got; g != string(want) {
		t.Errorf("exec --pidfd-socket: got %s, want %s", g, want)
	}
}

// run --no-subreaper: processes orphaned in a container that shares our
// pid namespace are not reparented to the runtime, as with runc's flag;
// without it they are. The foreground run still gets init's status.
func TestRuncNoSubreaper(t *testing.T) {
	script := `c=$(sleep 100 >/dev/null 2>&1 & echo $!); p=$(grep PPid /proc/$c/status | cut -f2); kill $c; [ "$p" = "$PPID" ] && echo runtime || echo elsewhere; exit 4`
	b := newBundle(t, []string{"sh", "-c", script}, func(s *rspec.Spec) {
		var ns []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != rspec.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	})
	for _, c := range []struct {
		flags []string
		want  string
	}{{nil, "runtime\n"}, {[]string{"--no-subreaper"}, "elsewhere\n"}} {
		args := append(append([]string{"run"}, c.flags...), "--bundle", b.dir, b.id)
		mine, theirs := b.both(args...)
		if theirs.out != c.want || theirs.code != 4 {
			t.Fatalf("runc %v: %v", c.flags, theirs)
		}
		if mine.out != theirs.out || mine.code != theirs.code {
			t.Errorf("%v: myrun %v, runc %v", c.flags, mine, theirs)
		}
	}
}

// --help in our own words: it names the program as an OCI runtime and
// repeats none of runc's paragraphs; `myrun COMMAND -h` prints that
// command's usage.
func TestHelpOwnWords(t *testing.T) {
	out, _, code := runWithTimeout(t, 30*time.Second, "--help")
	first := strings.SplitN(strings.TrimSpace(out), "\n", 3)
	if code != 0 || len(first) < 2 || !strings.Contains(first[1], "myrun") || !strings.Contains(first[1], "OCI runtime") {
		t.Errorf("--help starts %q", first)
	}
	runcs := []string{
		"is a command line client for running applications packaged according to",
		"integrates well with existing process supervisors",
		`Where "<container-id>" is your name for the instance`,
		"The specification file includes an args parameter",
		"The spec generated is just a starter file",
		"often used with\ndetached",
	}
	cmds := []string{"create", "start", "run", "exec", "state", "kill", "delete", "list", "ps", "pause", "resume", "update", "events", "spec", "features"}
	for _, c := range append([]string{""}, cmds...) {
		args := []string{"--help"}
		if c != "" {
			args = []string{c, "-h"}
		}
		out, errs, code := runWithTimeout(t, 30*time.Second, args...)
		if code != 0 || (c != "" && !strings.Contains(out, "myrun "+c+" - ")) {
			t.Errorf("%v: exit %d: %q %s", args, code, out, errs)
		}
		for _, p := range runcs {
			if strings.Contains(out, p) {
				t.Errorf("%v repeats runc's words %q", args, p)
			}
		}
	}
}

// exec and run stop parsing flags at the first argument (the rest is the
// process's), and no flag splits its value at commas.
func TestRuncArgParsing(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	detach(b, false)
	out, errs, code := b.myrun("exec", "-e", "A=1,2", b.id, "sh", "-c", `echo "$A $0 $1"`, "-t", "--env")
	if code != 0 || out != "1,2 -t --env\n" {
		t.Errorf("exec: exit %d: %q %s", code, out, errs)
	}
}

const enosysProbeSrc = `//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Prints the errno of raw syscall numbers given as arguments (0: none).
func main() {
	for _, a := range os.Args[1:] {
		nr, _ := strconv.Atoi(a)
		_, _, e := syscall.RawSyscall(uintptr(nr), 0, 0, 0)
		fmt.Printf("%d=%d\n", nr, int(e))
	}
}
`

// A syscall beyond every one the profile names (a newer one, or a number
// no kernel has) fails with ENOSYS, as under runc's stub, so libc falls
// back; syscalls the profile knows keep the default errno.
func TestRuncSeccompENOSYS(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "probe.go"), []byte(enosysProbeSrc), 0o644)
	probe := filepath.Join(dir, "probe")
	build := exec.Command("go", "build", "-o", probe, "probe.go")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v: %s", err, out)
	}
	getcpu, err := libseccomp.GetSyscallFromName("getcpu")
	if err != nil {
		t.Fatal(err)
	}
	// Everything up to close_range (436 on x86_64) but getcpu is allowed;
	// the default is EPERM.
	last, _ := libseccomp.GetSyscallFromName("close_range")
	var names []string
	for nr := 0; nr <= int(last); nr++ {
		if name, err := libseccomp.ScmpSyscall(nr).GetName(); err == nil && nr != int(getcpu) {
			names = append(names, name)
		}
	}
	eperm := uint(1)
	b := newBundle(t, []string{"/probe", fmt.Sprint(getcpu), fmt.Sprint(last + 3), "1000"}, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActErrno, DefaultErrnoRet: &eperm,
			Architectures: []rspec.Arch{rspec.ArchX86_64, rspec.ArchX86, rspec.ArchX32},
			Syscalls:      []rspec.LinuxSyscall{{Names: names, Action: rspec.ActAllow}}}
	})
	raw, _ := os.ReadFile(probe)
	os.WriteFile(filepath.Join(b.dir, "rootfs", "probe"), raw, 0o755)
	want := fmt.Sprintf("%d=1\n%d=38\n1000=38\n", getcpu, last+3)
	mine, theirs := b.both("run", "--bundle", b.dir, b.id)
	if theirs.out != want {
		t.Fatalf("runc: %v, want %q", theirs, want)
	}
	if mine.out != want {
		t.Errorf("run: myrun %v, runc %v", mine, theirs)
	}
	// exec'd processes get the same filter.
	b.spec.Process.Args = []string{"/bin/sleep", "100"}
	b.write()
	detach(b, false)
	if out, errs, _ := b.myrun("exec", b.id, "/probe", fmt.Sprint(getcpu), fmt.Sprint(last+3), "1000"); out != want {
		t.Errorf("exec: %q %s", out, errs)
	}
}

// delete --force of a container whose processes were moved into nested
// sub-cgroups (cgroup v1 and the hybrid cgroup2 side), one of them frozen:
// everything goes, processes and directories. A process frozen in a
// sub-cgroup took no SIGKILL and delete --force waited for it forever.
func TestDeleteForceSubCgroups(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	detach(b, false)
	pidFile := filepath.Join(b.dir, "exec.pid")
	if _, errs, code := b.myrun("exec", "-d", "--pid-file", pidFile, b.id, "sleep", "200"); code != 0 {
		t.Fatalf("exec: %s", errs)
	}
	execPid, _ := os.ReadFile(pidFile)
	initPid := fmt.Sprint(b.state()["pid"])
	for _, c := range []string{"freezer", "devices", "memory", "pids", "cpu", "cpuset", "unified"} {
		top := filepath.Join("/sys/fs/cgroup", c, cgroupParent, b.id)
		if !exists(top) {
			continue
		}
		deeper := filepath.Join(top, "sub", "deeper")
		if err := os.MkdirAll(deeper, 0o755); err != nil {
			t.Fatal(err)
		}
		if c == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, _ := os.ReadFile(filepath.Join(top, f))
				os.WriteFile(filepath.Join(top, "sub", f), v, 0)
				os.WriteFile(filepath.Join(deeper, f), v, 0)
			}
		}
		for _, p := range []string{initPid, string(execPid)} {
			if err := os.WriteFile(filepath.Join(deeper, "cgroup.procs"), []byte(p), 0); err != nil {
				t.Fatalf("%s: moving %s: %v", deeper, p, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "sub/deeper/freezer.state"), []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force: %s", errs)
	}
	b.checkGone("after delete --force")
	for _, p := range []string{initPid, string(execPid)} {
		if st, err := os.ReadFile("/proc/" + p + "/stat"); err == nil && !strings.Contains(string(st), ") Z") {
			t.Errorf("process %s survived: %s", p, st)
		}
	}
}

// start of a created container whose cgroup was frozen by hand returns an
// error instead of waiting for the frozen init forever; after a thaw the
// container starts.
func TestStartFrozenCreated(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	fz := filepath.Join("/sys/fs/cgroup/freezer", cgroupParent, b.id, "freezer.state")
	if err := os.WriteFile(fz, []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(fz, []byte("THAWED"), 0)
	if _, errs, code := b.myrun("start", b.id); code == 0 || !strings.Contains(errs, "container's cgroup unexpectedly frozen") {
		t.Fatalf("start of a frozen container: exit %d: %s", code, errs)
	}
	os.WriteFile(fz, []byte("THAWED"), 0)
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start after thaw: %s", errs)
	}
}

// --debug puts its lines where runc does: on stderr alone, only in the
// --log file with it, as JSON objects (level, msg, time) with
// --log-format json; for run and exec alike.
func TestRuncDebugPlacement(t *testing.T) {
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
		r := call("--debug", "run", "--bundle", b.dir, b.id)
		if r.code != 0 || !strings.Contains(r.err, "level=debug") {
			t.Errorf("%s --debug run: %v", rt, r)
		}
		log := filepath.Join(t.TempDir(), "log")
		r = call("--debug", "--log", log, "run", "--bundle", b.dir, b.id)
		raw, _ := os.ReadFile(log)
		if r.code != 0 || r.err != "" || !strings.Contains(string(raw), "level=debug") {
			t.Errorf("%s --debug --log run: %v; log %q", rt, r, raw)
		}
		b.spec.Process.Args = []string{"sleep", "100"}
		b.write()
		detach(b, rt == "runc")
		jlog := filepath.Join(t.TempDir(), "jlog")
		r = call("--debug", "--log", jlog, "--log-format", "json", "exec", b.id, "true")
		raw, _ = os.ReadFile(jlog)
		debug := 0
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Errorf("%s: not JSON: %q", rt, line)
				continue
			}
			if _, ok := e["time"].(string); !ok || e["msg"] == nil {
				t.Errorf("%s: line lacks msg/time: %q", rt, line)
			}
			if e["level"] == "debug" {
				debug++
			}
		}
		if r.code != 0 || r.err != "" || debug == 0 {
			t.Errorf("%s --debug --log --log-format json exec: %v; log %q", rt, r, raw)
		}
		call("delete", "--force", b.id)
		b.spec.Process.Args = []string{"true"}
		b.write()
	}
}
