//go:build integration

package integration

// Hardening regressions (issue 21 items 3, 5, 6 and the ambient
// capabilities of `runc spec`; issue 20's --no-pivot, symlinked /proc or
// /sys, and duplicate cgroup namespace). Where runc behaves the same it is
// run side by side on the same bundle.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// hardRunc runs runc with a state root of its own inside the bundle.
func hardRunc(t *testing.T, b *bundle, args ...string) (string, string, int) {
	t.Helper()
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("runc (the oracle) is required: %v", err)
	}
	root := filepath.Join(b.dir, "runc-state")
	t.Cleanup(func() {
		ids, _ := os.ReadDir(root)
		for _, id := range ids {
			exec.Command("runc", "--root", root, "delete", "--force", id.Name()).Run()
		}
	})
	return runCmd(t, 60*time.Second, exec.Command("runc", append([]string{"--root", root}, args...)...))
}

// hardRefused checks that myrun refuses the bundle at create, with want in
// the error, and leaves nothing behind.
func hardRefused(t *testing.T, b *bundle, want string) {
	t.Helper()
	out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	errs = strings.ReplaceAll(errs, `\"`, `"`) // logfmt quoting
	if code == 0 {
		t.Fatalf("myrun ran the container (stdout %q), want a refusal with %q", out, want)
	}
	if !strings.Contains(errs, want) {
		t.Fatalf("myrun exit %d: %s\nwant the error to contain %q", code, errs, want)
	}
	b.assertNothingLeft()
}

// Item 3: 4294967295 is (uid_t)-1, which setresuid reads as "unchanged",
// so the process stayed root. Ids are limited to 0..2147483647 as runc
// does, in config.json, `exec -u`, --additional-gids and process.json, on
// both exec paths (the constructor, and Go init for a process with a
// scheduler).
func TestHardenIDsOutOfRange(t *testing.T) {
	for _, c := range []struct {
		name string
		u    rspec.User
		want string
	}{
		{"uid", rspec.User{UID: 4294967295, GID: 1000}, "config.json: process.user.uid: 4294967295 is out of range 0..2147483647"},
		{"gid", rspec.User{UID: 1000, GID: 4294967295}, "config.json: process.user.gid: 4294967295 is out of range 0..2147483647"},
		{"additionalGids", rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{4294967295}}, "config.json: process.user.additionalGids[0]: 4294967295 is out of range"},
	} {
		t.Run("config-"+c.name, func(t *testing.T) {
			b := newBundle(t, []string{"id"}, func(s *rspec.Spec) { s.Process.User = c.u })
			hardRefused(t, b, c.want)
		})
	}
	b := runningBundle(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", "4294967295"}, "--user: uid 4294967295 is out of range 0..2147483647"},
		{[]string{"-u", "2147483648:0"}, "--user: uid 2147483648 is out of range"},
		{[]string{"-u", "1000:4294967295"}, "--user: gid 4294967295 is out of range"},
		{[]string{"-u", "1000", "--additional-gids", "4294967295"}, "--additional-gids: invalid gid 4294967295"},
	} {
		out, errs, code := b.myrun(append(append([]string{"exec"}, c.args...), b.id, "id")...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("exec %v: exit %d, stdout %q, stderr %s; want a refusal with %q", c.args, code, out, errs, c.want)
		}
	}
	sched := &rspec.Scheduler{Policy: rspec.SchedOther}
	for _, path := range []struct {
		name  string
		sched *rspec.Scheduler
	}{{"constructor", nil}, {"go-init", sched}} {
		for _, c := range []struct {
			u    rspec.User
			want string
		}{
			{rspec.User{UID: 4294967295}, "process.json: process.user.uid: 4294967295 is out of range"},
			{rspec.User{UID: 1000, GID: 4294967295}, "process.json: process.user.gid: 4294967295 is out of range"},
			{rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{4294967295}}, "process.json: process.user.additionalGids[0]: 4294967295 is out of range"},
		} {
			pj := b.processFile("ids.json", rspec.Process{Args: []string{"id"}, Cwd: "/", Env: []string{"PATH=/bin"}, User: c.u, Scheduler: path.sched})
			out, errs, code := b.myrun("exec", "-p", pj, b.id)
			if code == 0 || !strings.Contains(errs, c.want) {
				t.Errorf("%s: exec -p %+v: exit %d, stdout %q, stderr %s; want a refusal with %q", path.name, c.u, code, out, errs, c.want)
			}
		}
	}
	// The largest valid id still works on both paths.
	for _, s := range []*rspec.Scheduler{nil, sched} {
		pj := b.processFile("ids.json", rspec.Process{Args: []string{"id", "-u"}, Cwd: "/", Env: []string{"PATH=/bin"},
			User: rspec.User{UID: 2147483647, GID: 2147483647}, Scheduler: s})
		if out, errs, code := b.myrun("exec", "-p", pj, b.id); code != 0 || strings.TrimSpace(out) != "2147483647" {
			t.Errorf("uid 2147483647 (scheduler %v): exit %d %q %s", s != nil, code, out, errs)
		}
	}
}

// Item 5: the LSM label is written through a verified procfs handle
// (unit-tested in libcontainer/pathrs: TestWriteThreadSelfIgnoresFakeProc),
// and the setups that redirected it are refused: a rootfs whose /proc is a
// symlink (the container's procfs, and /proc/thread-self/attr, would land
// where the image chooses), and a /dev/console symlink in an image used
// without a /dev tmpfs (the pty was bind-mounted over the link's target,
// e.g. /proc/self/attr/exec). runc 1.1.5 still follows that link (its
// CVE-2025-52565 fix came later), so there is no oracle run for it.
func TestHardenLSMSetupsRefused(t *testing.T) {
	t.Run("proc-symlink", func(t *testing.T) {
		b := newBundle(t, []string{"true"}, nil)
		rootfs := filepath.Join(b.dir, "rootfs")
		os.MkdirAll(filepath.Join(rootfs, "tmp/fakeproc"), 0o755)
		os.Remove(filepath.Join(rootfs, "proc"))
		if err := os.Symlink("tmp/fakeproc", filepath.Join(rootfs, "proc")); err != nil {
			t.Fatal(err)
		}
		hardRefused(t, b, `.destination: /proc is a symlink in the rootfs: filesystem "proc" must be mounted on ordinary directory`)
		if _, errs, code := hardRunc(t, b, "run", "--bundle", b.dir, b.id+"-runc"); code == 0 || !strings.Contains(errs, "must be mounted on ordinary directory") {
			t.Errorf("runc (oracle): exit %d %s", code, errs)
		}
	})
	t.Run("console-symlink", func(t *testing.T) {
		b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
			var ms []rspec.Mount
			for _, m := range s.Mounts {
				if m.Destination != "/dev" {
					ms = append(ms, m)
				}
			}
			s.Mounts = ms
			s.Process.Terminal = true
		})
		rootfs := filepath.Join(b.dir, "rootfs")
		target := filepath.Join(rootfs, "tmp/console-target")
		os.WriteFile(target, []byte("image file\n"), 0o644)
		if err := os.Symlink("/tmp/console-target", filepath.Join(rootfs, "dev/console")); err != nil {
			t.Fatal(err)
		}
		sock, _ := consoleSocket(t)
		_, errs, code := b.myrun("create", "--console-socket", sock, "--bundle", b.dir, b.id)
		if code == 0 {
			t.Errorf("create with a /dev/console symlink succeeded (the pty went over its target)")
			return
		}
		if !strings.Contains(errs, "/dev/console is a symlink in the rootfs: refusing to mount the console through it") {
			t.Fatalf("exit %d: %s", code, errs)
		}
		b.assertNothingLeft()
	})
}

// Item 6 and issue 20 (masked/readonly paths with a symlinked /proc or
// /sys): what runc refuses, refused with the field named; what runc
// accepts (procfs bound at /proc itself or outside /proc) still runs.
func TestHardenProcAndRootfsTrust(t *testing.T) {
	withMount := func(m rspec.Mount, drop string) func(*rspec.Spec) {
		return func(s *rspec.Spec) {
			var ms []rspec.Mount
			for _, x := range s.Mounts {
				if x.Destination != drop {
					ms = append(ms, x)
				}
			}
			s.Mounts = append(ms, m)
		}
	}
	for _, c := range []struct {
		name    string
		mutate  func(*rspec.Spec)
		setup   func(t *testing.T, rootfs string)
		want    string // "" means it must run
		runcErr string // runc's refusal ("" when runc runs it too)
	}{
		{name: "procfs-bind-under-proc", mutate: withMount(rspec.Mount{Destination: "/proc/sys", Type: "bind", Source: "/proc/sys", Options: []string{"rbind"}}, ""),
			want: "/proc/sys resolves to /proc/sys: mounting over /proc is not allowed", runcErr: "cannot be mounted because it is inside /proc"},
		{name: "procfs-bind-self-attr", mutate: withMount(rspec.Mount{Destination: "/proc/self/attr", Type: "bind", Source: "/proc/self/attr", Options: []string{"rbind"}}, ""),
			want: ".destination: /proc/self/attr resolves to", runcErr: "inside /proc"},
		{name: "dir-bind-at-proc", mutate: withMount(rspec.Mount{Destination: "/proc", Type: "bind", Source: "/tmp", Options: []string{"rbind"}}, "/proc"),
			want: `.source: "/tmp" is not a procfs: only procfs may be mounted at /proc`, runcErr: "is not of type proc"},
		{name: "sys-symlink", setup: func(t *testing.T, rootfs string) {
			os.Remove(filepath.Join(rootfs, "sys"))
			os.MkdirAll(filepath.Join(rootfs, "tmp/fakesys"), 0o755)
			if err := os.Symlink("tmp/fakesys", filepath.Join(rootfs, "sys")); err != nil {
				t.Fatal(err)
			}
		}, want: `.destination: /sys is a symlink in the rootfs: filesystem "sysfs" must be mounted on ordinary directory`, runcErr: "must be mounted on ordinary directory"},
		{name: "rootfs-symlink", mutate: func(s *rspec.Spec) { s.Root.Path = "rootlink" }, setup: func(t *testing.T, rootfs string) {
			if err := os.Symlink("rootfs", filepath.Join(filepath.Dir(rootfs), "rootlink")); err != nil {
				t.Fatal(err)
			}
		}, want: `config.json: root.path: invalid rootfs: "rootlink" is a symlink`, runcErr: "invalid rootfs"},
		{name: "procfs-bind-at-proc", mutate: withMount(rspec.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind"}}, "/proc")},
		{name: "procfs-bind-outside-proc", mutate: withMount(rspec.Mount{Destination: "/mnt", Type: "bind", Source: "/proc", Options: []string{"rbind"}}, "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
				if s.Process.Capabilities != nil { // runc 1.1.5 needs inheritable for ambient
					s.Process.Capabilities.Inheritable = s.Process.Capabilities.Ambient
				}
				if c.mutate != nil {
					c.mutate(s)
				}
			})
			if c.setup != nil {
				c.setup(t, filepath.Join(b.dir, "rootfs"))
			}
			_, rerrs, rcode := hardRunc(t, b, "run", "--bundle", b.dir, b.id+"-runc")
			if c.want == "" {
				if rcode != 0 {
					t.Errorf("runc (oracle) refused: %s", rerrs)
				}
				b.mustRun()
				return
			}
			if rcode == 0 || !strings.Contains(rerrs, c.runcErr) {
				t.Errorf("runc (oracle): exit %d %s, want %q", rcode, rerrs, c.runcErr)
			}
			hardRefused(t, b, c.want)
		})
	}
}

// `runc spec` (1.1.5) lists ambient capabilities without inheritable ones;
// the kernel cannot raise those. runc runs such a bundle; the runtime spec
// says a capability that cannot be granted is a warning. Checked with the
// output of `runc spec` itself on run, create/start, and exec on both
// paths (the constructor, and Go init for a process.json with a scheduler).
func TestHardenAmbientFromRuncSpec(t *testing.T) {
	if _, err := exec.LookPath("runc"); err != nil {
		t.Fatalf("runc is required: %v", err)
	}
	b := newBundle(t, []string{"true"}, nil)
	os.Remove(filepath.Join(b.dir, "config.json"))
	if out, err := exec.Command("runc", "spec", "--bundle", b.dir).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(b.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if c := s.Process.Capabilities; c == nil || len(c.Ambient) == 0 || len(c.Inheritable) != 0 {
		t.Fatalf("runc spec no longer lists ambient without inheritable: %+v", c)
	}
	// Only what a test needs changed: the busybox rootfs, no terminal,
	// our cgroup; the capabilities stay as runc wrote them.
	s.Root.Path = "rootfs"
	s.Process.Terminal = false
	s.Process.Args = []string{"grep", "CapAmb", "/proc/self/status"}
	s.Linux.CgroupsPath = cgroupParent + "/" + b.id
	b.spec = &s
	b.write()
	const warn = "process.capabilities.ambient: CAP_KILL cannot be raised"
	out, errs, code := b.run()
	if code != 0 || !strings.Contains(out, "CapAmb:\t0000000000000000") || !strings.Contains(errs, warn) {
		t.Fatalf("run: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	if _, rerrs, rcode := hardRunc(t, b, "run", "--bundle", b.dir, b.id+"-runc"); rcode != 0 {
		t.Errorf("runc (oracle) refused its own spec: %s", rerrs)
	}
	b.myrun("delete", b.id)
	s.Process.Args = []string{"sleep", "1000"}
	b.write()
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 || !strings.Contains(errs, warn) {
		t.Fatalf("create: exit %d %s", code, errs)
	}
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	if out, errs, code := b.myrun("exec", b.id, "grep", "CapAmb", "/proc/self/status"); code != 0 || !strings.Contains(errs, warn) || !strings.Contains(out, "CapAmb:\t0") {
		t.Errorf("exec (constructor): exit %d, stdout %q, stderr %s", code, out, errs)
	}
	p := *s.Process
	p.Args = []string{"grep", "CapAmb", "/proc/self/status"}
	p.Scheduler = &rspec.Scheduler{Policy: rspec.SchedOther}
	pj := b.processFile("process.json", p)
	if out, errs, code := b.myrun("exec", "-p", pj, b.id); code != 0 || !strings.Contains(errs, warn) || !strings.Contains(out, "CapAmb:\t0") {
		t.Errorf("exec (Go init): exit %d, stdout %q, stderr %s", code, out, errs)
	}
	// With inheritable set as well the ambient set is raised, as asked.
	p.Capabilities.Inheritable = p.Capabilities.Ambient
	for _, sched := range []*rspec.Scheduler{nil, p.Scheduler} {
		q := p
		q.Scheduler = sched
		pj = b.processFile("process.json", q)
		if out, errs, code := b.myrun("exec", "-p", pj, b.id); code != 0 || !strings.Contains(out, "CapAmb:\t0000000020000420") {
			t.Errorf("exec with inheritable (scheduler %v): exit %d, stdout %q, stderr %s", sched != nil, code, out, errs)
		}
	}
}

// hardProbeSrc: `fsmount` re-execs itself as root of new user, mount and
// pid namespaces (mapping the caller's non-root uid) and tries to mount a
// fresh procfs and sysfs, printing "proc: mounted" or "proc: refused: ...".
const hardProbeSrc = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		for _, fs := range []string{"proc", "sysfs"} {
			dir := "/tmp/probe-" + fs
			os.MkdirAll(dir, 0o755)
			if err := syscall.Mount(fs, dir, fs, 0, ""); err != nil {
				fmt.Printf("%s: refused: %v\n", fs, err)
				continue
			}
			fmt.Printf("%s: mounted\n", fs)
		}
		return
	}
	cmd := exec.Command("/proc/self/exe", "child")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := cmd.Run(); err != nil {
		fmt.Println("userns:", err)
	}
}
`

func hardProbe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe.go"), []byte(hardProbeSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", out, "probe.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	if raw, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v: %s", err, raw)
	}
	return out
}

// --no-pivot keeps the old root in the container's mount namespace under
// the chroot. With the host's /proc there, fully visible, the kernel let
// a process that is root in a new user namespace mount a fresh procfs with
// nothing masked. runc's --no-pivot removes the host's procfs and sysfs
// mounts first; so do we. The same probe runs under runc side by side, and
// without --no-pivot.
func TestHardenNoPivotProcfs(t *testing.T) {
	probe := hardProbe(t)
	for _, noPivot := range []bool{true, false} {
		b := newBundle(t, []string{"/probe"}, func(s *rspec.Spec) {
			s.Root.Readonly = false
			s.Process.User = rspec.User{UID: 1000, GID: 1000}
			if s.Process.Capabilities != nil {
				s.Process.Capabilities.Inheritable = s.Process.Capabilities.Ambient
			}
		})
		raw, _ := os.ReadFile(probe)
		if err := os.WriteFile(filepath.Join(b.dir, "rootfs/probe"), raw, 0o755); err != nil {
			t.Fatal(err)
		}
		args := []string{"run", "--bundle", b.dir}
		if noPivot {
			args = append(args, "--no-pivot")
		}
		rout, rerrs, rcode := hardRunc(t, b, append(args, b.id+"-runc")...)
		out, errs, code := b.myrun(append(args, b.id)...)
		t.Logf("no-pivot %v: runc %q, myrun %q", noPivot, rout, out)
		if rcode != 0 || !strings.Contains(rout, "proc: refused") {
			t.Errorf("runc (oracle), no-pivot %v: exit %d %q %s", noPivot, rcode, rout, rerrs)
		}
		if code != 0 || !strings.Contains(out, "proc: refused: operation not permitted") || strings.Contains(out, "mounted") {
			t.Errorf("no-pivot %v: a fresh procfs could be mounted in the container (or the probe failed): exit %d %q %s", noPivot, code, out, errs)
		}
		b.myrun("delete", b.id)
	}
	// The container's own /proc stays masked under --no-pivot.
	b := newBundle(t, []string{"sh", "-c", "stat -c '%t:%T' /proc/keys; cat /proc/1/status | head -1"}, nil)
	out, errs, code := b.myrun("run", "--no-pivot", "--bundle", b.dir, b.id)
	if code != 0 || !strings.HasPrefix(out, "1:3\n") {
		t.Errorf("--no-pivot masked paths: exit %d %q %s", code, out, errs)
	}
}

// Issue 20: a config listing the cgroup namespace twice (our `spec` adds
// one, older tooling another). runc 1.1.5 refuses it ("malformed spec
// file: duplicated ns"); so does myrun, naming the entry, before anything
// is created. (myrun already refused it; this pins the runc match.)
func TestHardenCgroupNamespaceTwice(t *testing.T) {
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		n := 0
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == rspec.CgroupNamespace {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("myrun spec lists the cgroup namespace %d times", n)
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
	})
	if _, rerrs, rcode := hardRunc(t, b, "run", "--bundle", b.dir, b.id+"-runc"); rcode == 0 || !strings.Contains(rerrs, "duplicated ns") {
		t.Errorf("runc (oracle): exit %d %s", rcode, rerrs)
	}
	hardRefused(t, b, `.type: duplicate namespace "cgroup"`)
}
