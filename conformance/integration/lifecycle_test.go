//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/capability"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestRunEchoAndExitCode(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "echo hello from myrun; exit 3"}, nil)
	out, _, code := b.run()
	if out != "hello from myrun\n" || code != 3 {
		t.Fatalf("got %q exit %d", out, code)
	}
}

func TestPidNamespaceAndHostname(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "echo $$; hostname; ls /proc | grep -c '^[0-9]'"}, nil)
	lines := strings.Fields(b.mustRun())
	if len(lines) != 3 || lines[0] != "1" || lines[1] != "myrun-test" {
		t.Fatalf("got %q", lines)
	}
	if n, _ := strconv.Atoi(lines[2]); n > 3 {
		t.Fatalf("container sees %d processes; host processes leak into its pid namespace", n)
	}
}

func TestDetachedRoundTrip(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	pidFile := filepath.Join(b.dir, "pid")
	if _, errs, code := b.myrun("run", "-d", "--pid-file", pidFile, "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	st := b.state()
	if st["status"] != "running" || st["id"] != b.id || st["bundle"] != b.dir {
		t.Fatalf("state: %v", st)
	}
	raw, _ := os.ReadFile(pidFile)
	if fmt.Sprint(st["pid"]) != string(raw) {
		t.Fatalf("pid file %q vs state pid %v", raw, st["pid"])
	}
	for _, k := range []string{"ociVersion", "rootfs", "created", "owner"} {
		if _, ok := st[k]; !ok {
			t.Errorf("state lacks %q", k)
		}
	}
	if out, _, _ := b.myrun("list", "-q"); strings.TrimSpace(out) != b.id {
		t.Fatalf("list -q: %q", out)
	}
	if _, errs, code := b.myrun("delete", b.id); code == 0 || !strings.Contains(errs, "not stopped") {
		t.Fatalf("delete of running container: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("kill", b.id, "KILL"); code != 0 {
		t.Fatalf("kill: %s", errs)
	}
	waitStatus(t, b, "stopped")
	if _, errs, code := b.myrun("kill", b.id, "TERM"); code == 0 || !strings.Contains(errs, "not running") {
		t.Fatalf("kill of stopped container: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("delete", b.id); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	if _, errs, code := b.myrun("state", b.id); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("state after delete: %d %s", code, errs)
	}
}

func waitStatus(t *testing.T, b *bundle, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second * timeoutScale)
	for time.Now().Before(deadline) {
		if b.state()["status"] == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("status never became %q: %v", want, b.state())
}

func TestCreateStartSplit(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "echo started > /tmp/marker; sleep 100"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	if st := b.state(); st["status"] != "created" {
		t.Fatalf("after create: %v", st)
	}
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code == 0 || !strings.Contains(errs, "exists") {
		t.Fatalf("duplicate create: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	waitStatus(t, b, "running")
	if _, errs, code := b.myrun("start", b.id); code == 0 || !strings.Contains(errs, "already running") {
		t.Fatalf("second start: %d %s", code, errs)
	}
	out, errs, code := b.myrun("exec", b.id, "cat", "/tmp/marker")
	if code != 0 || out != "started\n" {
		t.Fatalf("exec: %d %q %s", code, out, errs)
	}
	if _, _, code := b.myrun("exec", b.id, "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exec exit code %d, want 7", code)
	}
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force: %s", errs)
	}
}

func TestDeleteCreatedContainer(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	pid := int(b.state()["pid"].(float64))
	// The spec: deleting a container that is not stopped is an error.
	if _, errs, code := b.myrun("delete", b.id); code == 0 || !strings.Contains(errs, "not stopped: created") {
		t.Fatalf("delete created without --force: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force created: %s", errs)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(raw), ") Z") {
			t.Fatalf("init %d still alive after delete", pid)
		}
	}
}

func TestInvalidIDs(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	for _, id := range []string{"../evil", "a/b", ".."} {
		_, errs, code := b.myrun("create", "--bundle", b.dir, id)
		if code == 0 || !strings.Contains(errs, "invalid id format") {
			t.Errorf("id %q: exit %d %s", id, code, errs)
		}
	}
	if _, errs, code := b.myrun("state", "nosuch"); code == 0 || !strings.Contains(errs, "does not exist") {
		t.Errorf("state nosuch: %d %s", code, errs)
	}
}

func TestUserNamespaceMappedUser(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "id -u; id -g; cat /proc/self/uid_map"}, func(s *rspec.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace})
		s.Linux.UIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Process.User = rspec.User{UID: 1000, GID: 1000}
	})
	// The mapped user must be able to traverse the bundle.
	os.Chmod(b.dir, 0o755)
	os.Chmod(filepath.Dir(b.dir), 0o755)
	out := strings.Fields(b.mustRun())
	if len(out) < 5 || out[0] != "1000" || out[1] != "1000" || out[2] != "0" || out[3] != "100000" || out[4] != "65536" {
		t.Fatalf("got %q", out)
	}
}

func TestProcessSettings(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `echo "$FOO"; pwd; id -u; id -G; ulimit -n; grep -E '^(CapEff|CapInh|NoNewPrivs)' /proc/self/status; umask`}, func(s *rspec.Spec) {
		s.Process.Env = append(s.Process.Env, "FOO=bar baz")
		s.Process.Cwd = "/tmp"
		s.Process.User = rspec.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 20}}
		um := uint32(0o027)
		s.Process.User.Umask = &um
		s.Process.Rlimits = []rspec.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 512, Soft: 256}}
		s.Process.NoNewPrivileges = true
	})
	out := b.mustRun()
	for _, want := range []string{"bar baz\n", "/tmp\n", "1000\n", "1000 10 20\n", "256\n", "CapInh:\t0000000000000000", "NoNewPrivs:\t1", "0027"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestMaskedReadonlyAndMounts(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `cat /proc/kcore 2>&1 | head -c 20 | wc -c; touch /proc/sys/kernel/x 2>&1 || echo ro-ok; grep ' / ' /proc/self/mountinfo | head -1; echo hi > /data/f && cat /data/f; ls -l /dev/null`}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "size=1m"}})
	})
	out := b.mustRun()
	if !strings.Contains(out, "ro-ok") || !strings.Contains(out, "hi\n") || !strings.Contains(out, "1,   3") {
		t.Fatalf("got:\n%s", out)
	}
}

// A config without process can be created (runtime.md: process is
// optional), but start must fail and leave the container stopped.
func TestCreateWithoutProcess(t *testing.T) {
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) { s.Process = nil })
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create without process: %s", errs)
	}
	if st := b.state(); st["status"] != "created" {
		t.Fatalf("status %v", st["status"])
	}
	if _, errs, code := b.myrun("start", b.id); code == 0 || !strings.Contains(errs, "without a process") {
		t.Fatalf("start without process: %d %s", code, errs)
	}
	waitStatus(t, b, "stopped")
}

// tmpcopyup (podman --read-only puts it on /tmp, /run, /var/tmp): the new
// tmpfs starts with what the image had there, owners and modes kept.
func TestTmpCopyUp(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "grep -c root /etc/passwd; stat -c '%a %u' /home/user; touch /etc/new && echo writable"}, func(s *rspec.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts,
			rspec.Mount{Destination: "/etc", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "tmpcopyup"}},
			rspec.Mount{Destination: "/home", Type: "tmpfs", Source: "tmpfs", Options: []string{"tmpcopyup"}})
	})
	os.Chown(filepath.Join(b.dir, "rootfs/home/user"), 1000, 1000)
	os.Chmod(filepath.Join(b.dir, "rootfs/home/user"), 0o750)
	out := b.mustRun()
	if out != "1\n750 1000\nwritable\n" {
		t.Fatalf("got %q", out)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "rootfs/etc/new")); err == nil {
		t.Fatal("write went to the image, not the tmpfs")
	}
}

// A new network namespace has lo up, as with runc and crun.
func TestLoopbackUp(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "ip link show lo | grep -c ',UP'; cat /sys/class/net/lo/flags"}, nil)
	if out := b.mustRun(); out != "1\n0x9\n" {
		t.Fatalf("got %q", out)
	}
}

// Every capability requested: those the runtime itself lacks (here root
// has no CAP_SYS_RESOURCE in its bounding set) are dropped with a warning
// naming the field, and the container runs with the rest (runtime-spec:
// SHOULD NOT fail).
func TestCapabilitiesNotHeldAreDroppedWithWarning(t *testing.T) {
	var all []string
	var nums []int
	for _, c := range capability.ListKnown() {
		if int(c) <= lastCap(t) {
			all = append(all, "CAP_"+strings.ToUpper(c.String()))
			nums = append(nums, int(c))
		}
	}
	b := newBundle(t, []string{"grep", "CapBnd", "/proc/self/status"}, func(s *rspec.Spec) {
		c := s.Process.Capabilities
		c.Bounding, c.Permitted, c.Effective = all, all, all
	})
	out, errs, code := b.run()
	if code != 0 {
		t.Fatalf("run with every capability: exit %d: %s", code, errs)
	}
	own := ownBounding(t)
	var missing []string
	for i, name := range all {
		if own&(1<<uint(nums[i])) == 0 {
			missing = append(missing, name)
		}
	}
	for _, m := range missing {
		if !strings.Contains(errs, "process.capabilities.bounding: "+m) {
			t.Errorf("no warning for %s not held; stderr %q", m, errs)
		}
	}
	if want := fmt.Sprintf("%016x", own); !strings.Contains(out, want) {
		t.Errorf("container bounding set %q, want the runtime's own %s", strings.TrimSpace(out), want)
	}
	t.Logf("not held here: %v", missing)
}

func ownBounding(t *testing.T) uint64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

func lastCap(t *testing.T) int {
	raw, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return n
}

// Without process.rlimits the container gets the NOFILE soft limit myrun
// was started with, not the one the Go runtime raised to the hard limit.
func TestNofileRestoredWithoutRlimits(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "ulimit -Sn"}, func(s *rspec.Spec) { s.Process.Rlimits = nil })
	cmd := exec.Command("sh", "-c", `ulimit -Sn 777 && exec "$@"`, "sh", myrun, "--root", b.root, "run", "--bundle", b.dir, b.id)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "777" {
		t.Fatalf("soft NOFILE in the container: %v %q", err, out)
	}
}

// linux.timeOffsets in a new time namespace, and domainname in a new UTS
// namespace, reach the container.
func TestTimeNamespaceAndDomainname(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "cat /proc/sys/kernel/domainname; cut -d. -f1 /proc/uptime"}, func(s *rspec.Spec) {
		s.Domainname = "example.test"
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.TimeNamespace})
		s.Linux.TimeOffsets = map[string]rspec.LinuxTimeOffset{"boottime": {Secs: 10 * 86400}}
	})
	f := strings.Fields(b.mustRun())
	if len(f) != 2 || f[0] != "example.test" {
		t.Fatalf("got %q", f)
	}
	var host float64
	raw, _ := os.ReadFile("/proc/uptime")
	fmt.Sscan(string(raw), &host)
	if up, _ := strconv.ParseFloat(f[1], 64); up < host+10*86400-60 {
		t.Fatalf("container uptime %s, host %.0f: boottime offset not applied", f[1], host)
	}
}

// delete --force of a paused container thaws it first, so it can be
// killed and its cgroup removed (the cleanup checks nothing is left).
func TestDeleteForcePaused(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	if _, errs, code := b.myrun("pause", b.id); code != 0 {
		t.Fatalf("pause: %s", errs)
	}
	pid := int(b.state()["pid"].(float64))
	if _, errs, code := b.myrun("delete", "--force", b.id); code != 0 {
		t.Fatalf("delete --force of a paused container: %s", errs)
	}
	// Dead means gone or a zombie (PID 1 here reaps slowly).
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Fatalf("init %d survived delete --force: %s", pid, st)
	}
	if out, _, _ := b.myrun("list", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("still listed: %q", out)
	}
}

// A recycled pid is not the container: when the recorded init pid belongs
// to another process (its start time differs), the container is stopped
// and kill/delete --force leave that process alone.
func TestPidReuseIsDetected(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	other := exec.Command("sleep", "100")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	// Kill the real init (by its pid), then point the state at our sleep,
	// as if the pid had been reused.
	initPid := int(b.state()["pid"].(float64))
	stateFile := filepath.Join(b.root, b.id, "state.json")
	raw, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.Unmarshal(raw, &st)
	st["init_pid"] = other.Process.Pid
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(stateFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(initPid, syscall.SIGKILL)
	if got := b.state()["status"]; got != "stopped" {
		t.Fatalf("status %v with a recycled pid, want stopped", got)
	}
	if _, _, code := b.myrun("kill", b.id, "KILL"); code == 0 {
		t.Error("kill of a stopped container succeeded")
	}
	b.myrun("delete", "--force", b.id)
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process that reused the pid was signalled: %v", err)
	}
}

// run --no-pivot (MS_MOVE + chroot) still gives the container its rootfs
// as /; run --keep leaves the stopped container for the caller to delete.
func TestRunNoPivotAndKeep(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "cat /etc/hostname-marker; ls /proc/1/root/ >/dev/null && echo ok"}, nil)
	os.WriteFile(filepath.Join(b.dir, "rootfs/etc/hostname-marker"), []byte("inside\n"), 0o644)
	out, errs, code := b.myrun("run", "--no-pivot", "--keep", "--bundle", b.dir, b.id)
	if code != 0 || out != "inside\nok\n" {
		t.Fatalf("run --no-pivot: %d %q %s", code, out, errs)
	}
	if st := b.state(); st["status"] != "stopped" {
		t.Fatalf("after run --keep: %v", st)
	}
	if _, errs, code := b.myrun("delete", b.id); code != 0 {
		t.Fatalf("delete after --keep: %s", errs)
	}
}

// process.ioPriority, process.scheduler, process.execCPUAffinity and
// linux.personality reach the container's process and an exec'd one
// (read from the host: ioprio_get, sched_getattr, /proc).
func TestSchedulingAttributes(t *testing.T) {
	io := &rspec.LinuxIOPriority{Class: rspec.IOPRIO_CLASS_BE, Priority: 5}
	sched := &rspec.Scheduler{Policy: rspec.SchedBatch, Nice: 7}
	aff := &rspec.CPUAffinity{Final: "0"}
	b := newBundle(t, []string{"sh", "-c", "uname -m > /tmp/m; exec sleep 1000"}, func(s *rspec.Spec) {
		s.Process.IOPriority, s.Process.Scheduler, s.Process.ExecCPUAffinity = io, sched, aff
		s.Linux.Personality = &rspec.LinuxPersonality{Domain: rspec.PerLinux32}
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	check := func(what string, pid int) {
		t.Helper()
		r, _, errno := syscall.Syscall(syscall.SYS_IOPRIO_GET, 1, uintptr(pid), 0)
		if errno != 0 || r != 2<<13|5 {
			t.Errorf("%s: ioprio %#x (%v), want best-effort 5", what, r, errno)
		}
		attr, err := unix.SchedGetAttr(pid, 0)
		if err != nil || attr.Policy != 3 || attr.Nice != 7 {
			t.Errorf("%s: sched_getattr %+v %v, want SCHED_BATCH nice 7", what, attr, err)
		}
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if !strings.Contains(string(st), "Cpus_allowed_list:\t0\n") {
			t.Errorf("%s: affinity not 0:\n%s", what, st)
		}
		if pers, _ := os.ReadFile(fmt.Sprintf("/proc/%d/personality", pid)); strings.TrimSpace(string(pers)) != "00000008" {
			t.Errorf("%s: personality %q, want LINUX32 (00000008)", what, pers)
		}
	}
	check("init", int(b.state()["pid"].(float64)))
	if out, _, _ := b.myrun("exec", b.id, "cat", "/tmp/m"); strings.TrimSpace(out) != "i686" {
		t.Errorf("uname -m under LINUX32: %q", out)
	}
	// exec: the same attributes from a process.json (Go init handles them).
	p := rspec.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"},
		IOPriority: io, Scheduler: sched, ExecCPUAffinity: aff}
	pj := b.processFile("sched.json", p)
	pidFile := filepath.Join(b.dir, "exec.pid")
	if _, errs, code := b.myrun("exec", "-d", "--pid-file", pidFile, "-p", pj, b.id); code != 0 {
		t.Fatalf("exec -d: %s", errs)
	}
	raw, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	check("exec", pid)
	// A bad CPU list fails exec, naming the field.
	p.ExecCPUAffinity = &rspec.CPUAffinity{Final: "9-2"}
	pj = b.processFile("sched.json", p)
	if _, errs, code := b.myrun("exec", "-p", pj, b.id); code == 0 || !strings.Contains(errs, "process.execCPUAffinity.final") {
		t.Errorf("bad CPU list: %d %s", code, errs)
	}
}

// Stdio that is the host's /dev/null (the test's stdin here, conmon's in
// podman) is the container's own /dev/null inside, as with runc: CRIU
// cannot dump a descriptor on a mount outside the container. Detached, so
// that the runtime passes its stdio on (runc's foreground run makes pipes).
func TestStdioDevNullReopened(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "echo $(stat -L -c %d:%i /proc/self/fd/0) $(stat -c %d:%i /dev/null) >/result"},
		func(s *rspec.Spec) { s.Root.Readonly = false })
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	escWaitFor(t, 30*time.Second*timeoutScale, "the container to stop", func() bool {
		out, _, _ := b.myrun("state", b.id)
		return strings.Contains(out, `"stopped"`)
	})
	raw, err := os.ReadFile(filepath.Join(b.dir, "rootfs", "result"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 || f[0] != f[1] {
		t.Fatalf("stdin is %v, the container's /dev/null is %v: want the same file", f[0:1], f[1:])
	}
}
