//go:build integration

// Package reliability holds root tests that drive the myrun and myimg
// binaries through faults (SIGKILL at every step, broken state, hooks that
// hang, init dying, full disks), concurrency and soak, and check that
// nothing is lost or leaked. Run with:
//
//	MYRUN=$PWD/bin/myrun MYIMG=$PWD/bin/myimg go test -tags integration ./conformance/reliability/
//
// SOAK=1 makes the soak 10,000 lifecycles instead of 1,000.
package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/internal/testrootfs"
)

var (
	myrun, myimg string
	counter      atomic.Int64
	// cgroupParent holds every container of this test process.
	cgroupParent = fmt.Sprintf("/myrun-rel-%d", os.Getpid())
	// sharedRootfs is one busybox rootfs, read-only for every container.
	sharedRootfs string
)

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "reliability tests need root")
		os.Exit(1)
	}
	// Orphans (hooks, inits of killed myrun processes) are reparented to
	// us and reaped by exec.Cmd.Wait or reap(); PID 1 here is slow at it.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	tmp, err := os.MkdirTemp("", "myrun-rel-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	myrun, myimg = os.Getenv("MYRUN"), os.Getenv("MYIMG")
	for _, b := range []struct {
		v        *string
		name, pk string
	}{{&myrun, "myrun", "./runtime"}, {&myimg, "myimg", "./imgtool"}} {
		if *b.v != "" {
			continue
		}
		*b.v = filepath.Join(tmp, b.name)
		cmd := exec.Command("go", "build", "-o", *b.v, b.pk)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", b.pk, err, out)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	}
	sharedRootfs = filepath.Join(tmp, "rootfs")
	if err := busyboxRootfs(sharedRootfs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	startReaper()
	code := m.Run()
	reap()
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent)
	for _, d := range append(dirs, "/sys/fs/cgroup"+cgroupParent) {
		os.Remove(d)
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// busyboxRootfs builds a minimal rootfs from the host's busybox-static.
func busyboxRootfs(dir string) error { return testrootfs.Busybox(dir) }

// tracked are the pids of commands whose exec.Cmd.Wait reaps them;
// startMu keeps the reaper out between Start and marking the pid.
var (
	tracked sync.Map
	startMu sync.Mutex
)

// reap collects exited children that no exec.Cmd waits for: orphans
// (hooks, exec'd processes, inits of killed myrun processes) reparented
// to us. A zombie left in a container's pid namespace would keep its init
// from finishing its exit.
func reap() {
	startMu.Lock()
	defer startMu.Unlock()
	for _, pid := range children(os.Getpid()) {
		if _, ok := tracked.Load(pid); ok {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(s[i+1:], " Z") {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			}
		}
	}
}

// startReaper reaps orphans in the background, as a shim or engine would.
func startReaper() {
	go func() {
		for {
			reap()
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// startTracked starts cmd and marks its pid as reaped by cmd.Wait.
func startTracked(cmd *exec.Cmd) error {
	startMu.Lock()
	defer startMu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	tracked.Store(cmd.Process.Pid, true)
	return nil
}

// combined is cmd.CombinedOutput for a tracked command.
func combined(cmd *exec.Cmd) ([]byte, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := startTracked(cmd); err != nil {
		return nil, err
	}
	err := waitTracked(cmd)
	return buf.Bytes(), err
}

func waitTracked(cmd *exec.Cmd) error {
	err := cmd.Wait()
	tracked.Delete(cmd.Process.Pid)
	return err
}

// env is one test's runtime root and bundle directory.
type env struct {
	t    testing.TB
	dir  string
	root string // --root
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	return &env{t: t, dir: dir, root: filepath.Join(dir, "state")}
}

func newID(tag string) string {
	return fmt.Sprintf("rel-%s-%d-%d", tag, os.Getpid(), counter.Add(1))
}

// bundle writes a bundle using the shared read-only rootfs.
func (e *env) bundle(id string, args []string, mutate func(*rspec.Spec)) string {
	e.t.Helper()
	b := filepath.Join(e.dir, "b-"+id)
	if err := os.MkdirAll(b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if out, err := combined(exec.Command(myrun, "spec", "--bundle", b)); err != nil {
		e.t.Fatalf("myrun spec: %v: %s", err, out)
	}
	raw, _ := os.ReadFile(filepath.Join(b, "config.json"))
	var s rspec.Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		e.t.Fatal(err)
	}
	s.Root = &rspec.Root{Path: sharedRootfs, Readonly: true}
	s.Process.Terminal = false
	s.Process.Args = args
	s.Linux.CgroupsPath = cgroupParent + "/" + id
	if mutate != nil {
		mutate(&s)
	}
	raw, _ = json.MarshalIndent(&s, "", " ")
	if err := os.WriteFile(filepath.Join(b, "config.json"), raw, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return b
}

type result struct {
	out, err string
	code     int
}

// run runs myrun with the env's root, output to files (a detached
// container keeps pipes open).
func (e *env) run(timeout time.Duration, args ...string) result {
	e.t.Helper()
	return runBin(e.t, timeout, myrun, append([]string{"--root", e.root}, args...)...)
}

func runBin(t testing.TB, timeout time.Duration, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	outF, _ := os.CreateTemp("", "rel-out")
	errF, _ := os.CreateTemp("", "rel-err")
	defer os.Remove(outF.Name())
	defer os.Remove(errF.Name())
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	if err := startTracked(cmd); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { waitTracked(cmd); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		o, _ := os.ReadFile(errF.Name())
		t.Errorf("%s %v timed out after %v; stderr: %s", filepath.Base(bin), args, timeout, o)
		return result{code: -1}
	}
	o, _ := os.ReadFile(outF.Name())
	er, _ := os.ReadFile(errF.Name())
	return result{string(o), string(er), cmd.ProcessState.ExitCode()}
}

// startKill starts myrun with args and SIGKILLs it after delay (or when
// ready returns true, polled every ms). It returns the exit code and
// whether the kill landed before myrun finished on its own.
func (e *env) startKill(delay time.Duration, ready func() bool, args ...string) (killed bool) {
	e.t.Helper()
	cmd := exec.Command(myrun, append([]string{"--root", e.root}, args...)...)
	null, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	defer null.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	if err := startTracked(cmd); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { waitTracked(cmd); close(done) }()
	deadline := time.After(delay)
	if ready != nil {
		deadline = time.After(30 * time.Second)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return false
		case <-deadline:
			unix.Kill(cmd.Process.Pid, unix.SIGKILL)
			<-done
			return true
		case <-tick.C:
			if ready != nil && ready() {
				unix.Kill(cmd.Process.Pid, unix.SIGKILL)
				<-done
				return true
			}
		}
	}
}

// cgroupDirs lists the container's cgroup directories on any hierarchy.
func cgroupDirs(id string) []string {
	d, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/" + id)
	d2, _ := filepath.Glob("/sys/fs/cgroup" + cgroupParent + "/" + id)
	return append(d, d2...)
}

// cgroupPids lists processes in any of the container's cgroups.
func cgroupPids(id string) []int {
	var pids []int
	seen := map[int]bool{}
	for _, d := range cgroupDirs(id) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil && !seen[n] {
				seen[n] = true
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// killCgroup is the test's own last resort (after a failed assertion):
// it kills what is left in the container's cgroups and removes them.
func killCgroup(id string) {
	for i := 0; i < 50; i++ {
		pids := cgroupPids(id)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
		reap()
	}
	for _, d := range cgroupDirs(id) {
		os.Remove(d)
	}
}

// assertGone checks every trace of id is gone: state dir, cgroups,
// processes, mounts of the bundle. It cleans up what it finds (so one
// failure does not cascade) after reporting it.
func (e *env) assertGone(id, bundle, when string) {
	e.t.Helper()
	if _, err := os.Lstat(filepath.Join(e.root, id)); err == nil {
		ents, _ := os.ReadDir(filepath.Join(e.root, id))
		e.t.Errorf("%s: state dir of %s left behind (%d entries)", when, id, len(ents))
		os.RemoveAll(filepath.Join(e.root, id))
	}
	if pids := cgroupPids(id); len(pids) > 0 {
		e.t.Errorf("%s: processes left in %s's cgroup: %v", when, id, pids)
	}
	if d := cgroupDirs(id); len(d) > 0 {
		e.t.Errorf("%s: cgroups of %s left behind: %v", when, id, d)
	}
	killCgroup(id)
	if bundle != "" {
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(bundle)) {
			e.t.Errorf("%s: mounts under %s left behind", when, bundle)
		}
	}
}

// listOK runs `myrun list --format json` and fails on a crash or an entry
// that is not a well-formed state.
func (e *env) listOK(when string) []map[string]any {
	e.t.Helper()
	r := e.run(30*time.Second, "list", "--format", "json")
	if r.code != 0 {
		e.t.Errorf("%s: myrun list failed (%d): %s", when, r.code, r.err)
		return nil
	}
	var out []map[string]any
	if strings.TrimSpace(r.out) == "" || strings.TrimSpace(r.out) == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(r.out), &out); err != nil {
		e.t.Errorf("%s: myrun list output is not JSON: %v: %q", when, err, r.out)
	}
	for _, c := range out {
		if c["id"] == "" || c["status"] == "" {
			e.t.Errorf("%s: corrupt list entry %v", when, c)
		}
	}
	return out
}

// lifecycle creates, starts and deletes id once: the id is usable again.
func (e *env) lifecycle(id, bundle string) {
	e.t.Helper()
	if r := e.run(30*time.Second, "create", "--bundle", bundle, id); r.code != 0 {
		e.t.Errorf("re-create of %s failed: %s", id, r.err)
		return
	}
	if r := e.run(30*time.Second, "start", id); r.code != 0 {
		e.t.Errorf("start of re-created %s failed: %s", id, r.err)
	}
	if r := e.run(30*time.Second, "delete", "--force", id); r.code != 0 {
		e.t.Errorf("delete of re-created %s failed: %s", id, r.err)
	}
}

// usage is what a leak would grow: our fds, mounts, our container
// cgroups, our children and the state dir.
type usage struct {
	fds, mounts, cgroups, children, state int
	mountLines                            string
}

// equal compares the counts (mountLines is for the report).
func (u usage) equal(v usage) bool {
	u.mountLines, v.mountLines = "", ""
	return u == v
}

// mountDiff lists mount points present in after only.
func mountDiff(before, after usage) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(before.mountLines, "\n") {
		have[l] = true
	}
	var out []string
	for _, l := range strings.Split(after.mountLines, "\n") {
		if !have[l] {
			out = append(out, l)
		}
	}
	return out
}

func (u usage) String() string {
	return fmt.Sprintf("fds=%d mounts=%d cgroups=%d children=%d state=%d", u.fds, u.mounts, u.cgroups, u.children, u.state)
}

func measure(root string) usage {
	reap()
	var u usage
	fds, _ := os.ReadDir("/proc/self/fd")
	u.fds = len(fds)
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	u.mounts = bytes.Count(mi, []byte("\n"))
	var pts []string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			pts = append(pts, f[4]+" "+f[len(f)-3])
		}
	}
	u.mountLines = strings.Join(pts, "\n")
	for _, h := range append(mustGlob("/sys/fs/cgroup/*"+cgroupParent), mustGlob("/sys/fs/cgroup"+cgroupParent)...) {
		filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() && p != h {
				u.cgroups++
			}
			return nil
		})
	}
	u.children = len(children(os.Getpid()))
	st, _ := os.ReadDir(root)
	u.state = len(st)
	return u
}

func mustGlob(p string) []string { m, _ := filepath.Glob(p); return m }

// children lists pids whose parent is ppid.
func children(ppid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

func intp(i int) *int { return &i }

// procsWithArgs lists processes whose command line is exactly args.
func procsWithArgs(args ...string) []int {
	want := strings.Join(args, "\x00") + "\x00"
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); string(b) == want {
			out = append(out, pid)
		}
	}
	return out
}

// checkUsage fails when a resource did not return. The mount table is the
// whole machine's: only new mounts that name myrun or our files count.
func checkUsage(t *testing.T, e *env, before, after usage) {
	t.Helper()
	var ours []string
	for _, m := range mountDiff(before, after) {
		if strings.Contains(m, "myrun") || strings.Contains(m, e.dir) || strings.Contains(m, filepath.Dir(sharedRootfs)) || strings.Contains(m, "memfd") {
			ours = append(ours, m)
		}
	}
	a, b := after, before
	a.mounts, b.mounts = 0, 0
	// Fewer fds than before is not a leak: the test process's own fds
	// (pipes of an earlier command, the Go poller) may close meanwhile.
	if a.fds < b.fds {
		a.fds = b.fds
	}
	if !a.equal(b) || len(ours) > 0 {
		t.Errorf("resources did not return: before %v after %v; new mounts of ours %q", before, after, ours)
	} else if before.mounts != after.mounts {
		t.Logf("the host's mount count moved by %d (not ours: %q)", after.mounts-before.mounts, mountDiff(before, after))
	}
}
