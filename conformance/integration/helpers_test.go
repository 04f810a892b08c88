//go:build integration

// Package integration holds root integration tests that drive the myrun
// binary as engines do. Run with: go test -tags integration ./conformance/...
package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/testrootfs"
)

var (
	myrun   string
	counter atomic.Int64
	// cgroupParent is one absolute cgroup per test process, removed at the
	// end; the session's own cgroup is not ours to use.
	cgroupParent = fmt.Sprintf("/myrun-itest-%d", os.Getpid())
	// systemdCgroup runs every container through the systemd driver
	// (--systemd-cgroup, cgroupsPath system.slice:myrun-itest-<pid>:<id>);
	// the VM lane sets MYRUN_TEST_CGROUP_MANAGER=systemd.
	systemdCgroup = os.Getenv("MYRUN_TEST_CGROUP_MANAGER") == "systemd"
	// timeoutScale stretches the hang guards (not assertions) of command
	// runs and status waits: the VM lane runs under emulation (TCG) at a
	// fraction of native speed and sets MYRUN_TEST_TIMEOUT_SCALE.
	timeoutScale = func() time.Duration {
		if n, err := strconv.Atoi(os.Getenv("MYRUN_TEST_TIMEOUT_SCALE")); err == nil && n > 1 {
			return time.Duration(n)
		}
		return 1
	}()
)

func TestMain(m *testing.M) {
	myrun = os.Getenv("MYRUN")
	if myrun == "" {
		abs, _ := filepath.Abs("../../bin/myrun")
		myrun = abs
	}
	if _, err := os.Stat(myrun); err != nil {
		fmt.Fprintln(os.Stderr, "myrun binary not found (set MYRUN or run make build):", err)
		os.Exit(1)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration tests need root")
		os.Exit(1)
	}
	code := m.Run()
	removeCgroupParent()
	os.Exit(code)
}

func removeCgroupParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent)
	for _, d := range append(dirs, "/sys/fs/cgroup"+cgroupParent) {
		os.Remove(d)
	}
}

// busyboxRootfs builds a minimal rootfs from the host's busybox-static.
func busyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	if err := testrootfs.Busybox(dir); err != nil {
		t.Fatal(err)
	}
}

type bundle struct {
	t    testing.TB
	dir  string
	root string // --root for myrun
	id   string
	spec *rspec.Spec
	// runcCleanup: the runc side-by-side helper registered its cleanup.
	runcCleanup bool
}

// newBundle writes a busybox bundle whose config comes from `myrun spec`,
// with the process changed to args and mutate applied.
func newBundle(t testing.TB, args []string, mutate func(*rspec.Spec)) *bundle {
	t.Helper()
	dir := t.TempDir()
	busyboxRootfs(t, filepath.Join(dir, "rootfs"))
	b := &bundle{t: t, dir: dir, root: filepath.Join(dir, "state"),
		id: fmt.Sprintf("it-%d-%d", os.Getpid(), counter.Add(1))}
	if out, err := exec.Command(myrun, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("myrun spec: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s rspec.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = args
	// The tests expect a container in its own cgroup namespace, which
	// `spec` lists only on a cgroup v2 host (as runc spec).
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n rspec.LinuxNamespace) bool { return n.Type == rspec.CgroupNamespace }) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.CgroupNamespace})
	}
	s.Linux.CgroupsPath = cgroupParent + "/" + b.id
	if systemdCgroup {
		s.Linux.CgroupsPath = "system.slice:" + cgroupParent[1:] + ":" + b.id
	}
	s.Hostname = "myrun-test"
	if mutate != nil {
		mutate(&s)
	}
	b.spec = &s
	b.write()
	t.Cleanup(b.cleanup)
	return b
}

func (b *bundle) write() {
	raw, err := json.MarshalIndent(b.spec, "", "  ")
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), raw, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cleanup force-deletes the container and checks nothing was left behind.
func (b *bundle) cleanup() {
	exec.Command(myrun, "--root", b.root, "delete", "--force", b.id).Run()
	b.checkGone("after delete --force")
}

// assertNothingLeft checks, without deleting anything first, that a failed
// create left no trace.
func (b *bundle) assertNothingLeft() {
	b.t.Helper()
	b.checkGone("after a failed create")
}

// checkGone reports any state entry, cgroup or mount under the bundle that
// is still there.
func (b *bundle) checkGone(when string) {
	b.t.Helper()
	if ents, _ := os.ReadDir(b.root); len(ents) > 0 {
		b.t.Errorf("state dir left behind %s: %v", when, ents)
	}
	if dirs := cgroupDirs(b); len(dirs) > 0 {
		b.t.Errorf("cgroups left behind %s: %v", when, dirs)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(b.dir)) {
		b.t.Errorf("mounts left behind under %s %s", b.dir, when)
	}
}

// cgroupDirs lists the container's cgroup directories that exist: one per
// v1 hierarchy, the cgroup2 one (pure v2 or the unified mount), or the
// systemd scope's.
func cgroupDirs(b *bundle) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/" + b.id)
	for _, d := range []string{"/sys/fs/cgroup" + cgroupParent + "/" + b.id,
		"/sys/fs/cgroup/system.slice/" + cgroupParent[1:] + "-" + b.id + ".scope"} {
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// processFile writes p as a process.json in the bundle dir for `exec -p`.
func (b *bundle) processFile(name string, p rspec.Process) string {
	b.t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// myrunCmd runs myrun with the bundle's root and returns stdout, stderr and
// the exit code.
func (b *bundle) myrun(args ...string) (string, string, int) {
	b.t.Helper()
	return runWithTimeout(b.t, 60*time.Second, append([]string{"--root", b.root}, args...)...)
}

func runWithTimeout(t testing.TB, d time.Duration, args ...string) (string, string, int) {
	t.Helper()
	if systemdCgroup {
		args = append([]string{"--systemd-cgroup"}, args...)
	}
	d *= timeoutScale
	return runCmd(t, d, exec.Command(myrun, args...))
}

// runCmd runs cmd with a timeout and returns stdout, stderr and the exit
// code. Files, not pipes: a detached container keeps its stdio open, and a
// pipe would make Wait block until the container exits.
func runCmd(t testing.TB, d time.Duration, cmd *exec.Cmd) (string, string, int) {
	t.Helper()
	outF, err := os.CreateTemp("", "myrun-out")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.CreateTemp("", "myrun-err")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(outF.Name())
	defer os.Remove(errF.Name())
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	read := func(f *os.File) string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		// SIGQUIT first: a Go runtime (myrun, runc) prints where it hangs.
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Fatalf("%v timed out; stderr: %s", cmd.Args, read(errF))
	}
	return read(outF), read(errF), cmd.ProcessState.ExitCode()
}

// run runs the bundle in the foreground and returns its output.
func (b *bundle) run() (string, string, int) {
	return b.myrun("run", "--bundle", b.dir, b.id)
}

func (b *bundle) mustRun() string {
	b.t.Helper()
	out, errs, code := b.run()
	if code != 0 {
		b.t.Fatalf("myrun run exited %d: stdout %q stderr %q", code, out, errs)
	}
	return out
}

func (b *bundle) state() map[string]any {
	b.t.Helper()
	out, errs, code := b.myrun("state", b.id)
	if code != 0 {
		b.t.Fatalf("state: %d %s", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		b.t.Fatalf("state output %q: %v", out, err)
	}
	return m
}
