//go:build integration

package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/seccomp"
)

// Bugs found by runc's own bats suite (conformance/runcbats): each test
// here failed with myrun before its fix and passes with runc 1.4.4.

// capabilities.bats "runc exec --cap [ambient is set from spec]": when the
// process has an inheritable set, exec --cap also raises the capability
// as ambient (it is added to bounding, permitted and effective too).
func TestRuncBatsExecCapAmbient(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		s.Process.Capabilities = &rspec.LinuxCapabilities{
			Inheritable: []string{"CAP_CHOWN", "CAP_SYSLOG"},
			Permitted:   []string{"CAP_KILL", "CAP_CHOWN"},
			Effective:   []string{"CAP_KILL"},
			Bounding:    []string{"CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG"},
			Ambient:     []string{"CAP_CHOWN"},
		}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	status := func(args ...string) string {
		t.Helper()
		out, errs, code := b.myrun(append(append([]string{"exec"}, args...), b.id, "grep", "^Cap", "/proc/self/status")...)
		if code != 0 {
			t.Fatalf("exec %v: %d %s", args, code, errs)
		}
		return out
	}
	// CAP_CHOWN 0x1, CAP_KILL 0x20, CAP_SYSLOG 0x400000000.
	if out := status(); !strings.Contains(out, "CapAmb:\t0000000000000001") {
		t.Errorf("exec: %s", out)
	}
	out := status("--cap", "CAP_SYSLOG")
	for _, want := range []string{"CapInh:\t0000000400000001", "CapPrm:\t0000000400000021", "CapEff:\t0000000400000021",
		"CapBnd:\t0000000400000021", "CapAmb:\t0000000400000001"} {
		if !strings.Contains(out, want) {
			t.Errorf("exec --cap CAP_SYSLOG: want %q in\n%s", want, out)
		}
	}
	// Without an inheritable set, --cap cannot be ambient and is not.
	b2 := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b2.myrun("run", "-d", "--bundle", b2.dir, b2.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	out, errs, code := b2.myrun("exec", "--cap", "CAP_SYSLOG", b2.id, "grep", "^CapAmb", "/proc/self/status")
	if code != 0 || !strings.Contains(out, "CapAmb:\t0000000000000000") {
		t.Errorf("exec --cap without inheritable: %d %q %s", code, out, errs)
	}
}

// `spec` lists the cgroup namespace only when /sys/fs/cgroup is cgroup v2,
// as runc spec does; on this hybrid host runc's bats suite expects an exec
// to see the container's host cgroup paths (cgroups.bats "runc exec
// (cgroup v1+hybrid joins correct cgroup)") and adds a cgroup namespace
// itself (delete.bats "runc delete --force in cgroupv1 with subcgroups").
func TestRuncBatsSpecNamespacesLikeRunc(t *testing.T) {
	mine, theirs := t.TempDir(), t.TempDir()
	if out, err := exec.Command(myrun, "spec", "--bundle", mine).CombinedOutput(); err != nil {
		t.Fatalf("myrun spec: %v %s", err, out)
	}
	if out, err := exec.Command("runc", "spec", "--bundle", theirs).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	ns := func(dir string) []string {
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s rspec.Spec
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range s.Linux.Namespaces {
			out = append(out, string(n.Type))
		}
		return out
	}
	if m, r := ns(mine), ns(theirs); strings.Join(m, ",") != strings.Join(r, ",") {
		t.Errorf("namespaces: myrun %v, runc %v", m, r)
	}
}

// cgroups.bats "runc run (pids.limit=0 means 1)": runtime-spec 1.3 makes 0
// a real limit; runc 1.4 writes 1 (systemd has no TasksMax=0). We wrote
// "max".
func TestRuncBatsPidsLimitZero(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		zero := int64(0)
		s.Linux.Resources = &rspec.LinuxResources{Pids: &rspec.LinuxPids{Limit: &zero}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	if got := cgFile(b, "pids", "pids.max"); got != "1" {
		t.Errorf("pids.max = %q, want 1", got)
	}
	// The limit holds: a process in the container cannot fork (joining
	// the cgroup is a migration, which the limit does not stop).
	if out, errs, _ := b.myrun("exec", b.id, "sh", "-c", "sleep 0 & echo forked"); strings.Contains(out, "forked") {
		t.Errorf("fork in a container at pids.max 1 succeeded: %q %s", out, errs)
	}
}

// kill.bats "kill detached busybox": signal 0 only checks the container;
// it fails with "container not running" once it stopped, and -a makes it
// succeed. We refused 0 as an invalid signal.
func TestRuncBatsKillSignalZero(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	if _, errs, code := b.myrun("kill", b.id, "0"); code != 0 {
		t.Fatalf("kill 0 of a running container: %d %s", code, errs)
	}
	if st := b.state(); st["status"] != "running" {
		t.Fatalf("after kill 0: %v", st["status"])
	}
	if _, errs, code := b.myrun("kill", b.id, "KILL"); code != 0 {
		t.Fatalf("kill KILL: %s", errs)
	}
	waitStatus(t, b, "stopped")
	if _, errs, code := b.myrun("kill", b.id, "0"); code == 0 || !strings.Contains(errs, "container not running") {
		t.Errorf("kill 0 of a stopped container: %d %s", code, errs)
	}
	if _, errs, code := b.myrun("kill", "-a", b.id, "0"); code != 0 {
		t.Errorf("kill -a 0 of a stopped container: %d %s", code, errs)
	}
}

// kill.bats "kill KILL [host pidns]" and "[host pidns + init gone]": in
// the host PID namespace, killing init leaves the other processes alive,
// so SIGKILL goes to the whole cgroup, also after init is gone.
func TestRuncBatsKillHostPidns(t *testing.T) {
	for _, initGone := range []bool{false, true} {
		b := newBundle(t, []string{"sh", "-c", "sleep 1000 & sleep 1000 & wait"}, func(s *rspec.Spec) {
			var nss []rspec.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != rspec.PIDNamespace {
					nss = append(nss, n)
				}
			}
			s.Linux.Namespaces = nss
		})
		if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
			t.Fatalf("run -d: %s", errs)
		}
		procs := func() []string { return strings.Fields(cgFile(b, "pids", "cgroup.procs")) }
		waitFor(t, "three processes in the cgroup", func() bool { return len(procs()) == 3 })
		if initGone {
			pid := int(b.state()["pid"].(float64))
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, b, "stopped")
			if n := len(procs()); n != 2 {
				t.Fatalf("init gone: %d processes left, want 2", n)
			}
		}
		if _, errs, code := b.myrun("kill", b.id, "KILL"); code != 0 {
			t.Fatalf("kill KILL (init gone %v): %d %s", initGone, code, errs)
		}
		waitFor(t, "an empty cgroup", func() bool { return len(procs()) == 0 })
	}
}

// waitFor polls cond for up to 10 s (scaled like waitStatus).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second * timeoutScale)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// mounts.bats "runc run [mount order, container bind-mount source]": a
// bind source inside the rootfs that an earlier mount of the list makes,
// and a destination spelled with the rootfs' host path in front. We
// refused the source as missing before any mount was made.
func TestRuncBatsMountOrder(t *testing.T) {
	b := newBundle(t, []string{"cat", "/final/file"}, nil)
	rootfs := filepath.Join(b.dir, "rootfs")
	src := filepath.Join(b.dir, "bind-src", "a", "x")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "file"), []byte("a/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"mnt", "final"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.spec.Mounts = append(b.spec.Mounts,
		rspec.Mount{Type: "bind", Source: filepath.Join(b.dir, "bind-src", "a"), Destination: "/mnt", Options: []string{"bind"}},
		rspec.Mount{Type: "bind", Source: filepath.Join(rootfs, "mnt", "x"), Destination: filepath.Join(rootfs, "final"), Options: []string{"bind"}})
	b.write()
	out, errs, code := b.run()
	if code != 0 || out != "a/x\n" {
		t.Fatalf("run: %d %q %s", code, out, errs)
	}
	// The destination went to /final in the container, not to a
	// directory named like the host path.
	if _, err := os.Stat(filepath.Join(b.dir, "rootfs", b.dir)); err == nil {
		t.Errorf("a host-path-named directory was made in the rootfs")
	}
}

// mounts.bats "runc run [tmpfs mount mode= inherit]" and "[... explicit
// mode=]": a tmpfs over an existing directory takes the directory's mode
// unless mode= is given; the directory itself is left alone. We mounted
// it 1777 (the kernel's default).
func TestRuncBatsTmpfsInheritsMode(t *testing.T) {
	for _, c := range []struct {
		opts []string
		want string
	}{
		{[]string{"rw", "nodev", "nosuid"}, "710"},
		{[]string{"rw", "nodev", "nosuid", "mode=1500"}, "1500"},
	} {
		b := newBundle(t, []string{"sh", "-c", "stat -c %a /tmpfs; grep -c ' /tmpfs tmpfs .*mode=" + c.want + "' /proc/self/mounts"}, func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: "/tmpfs", Options: c.opts})
		})
		dir := filepath.Join(b.dir, "rootfs", "tmpfs")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o710); err != nil {
			t.Fatal(err)
		}
		out, errs, code := b.run()
		if code != 0 || out != c.want+"\n1\n" {
			t.Errorf("options %v: %d %q %s", c.opts, code, out, errs)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o710 {
			t.Errorf("the directory under the tmpfs changed: %v %v", fi.Mode(), err)
		}
	}
}

// mask.bats "mask paths [duplicate paths]" and "[directories share
// tmpfs]": a masked path listed twice is mounted over once, and every
// masked directory shows the same read-only tmpfs (one superblock).
func TestRuncBatsMaskedPaths(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `grep -c ' /testdir ' /proc/self/mounts; grep -c ' /testfile ' /proc/self/mounts
set -- $(stat -c %d /testdir /testdir2 /testdir3); [ "$1" = "$2" ] && [ "$2" = "$3" ] && echo same
touch /testdir2/foo 2>/dev/null || echo ro`}, func(s *rspec.Spec) {
		s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/testdir", "/testfile", "/testdir/", "/testfile", "/testdir2", "/testdir3")
	})
	for _, d := range []string{"testdir", "testdir2", "testdir3"} {
		if err := os.Mkdir(filepath.Join(b.dir, "rootfs", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(b.dir, "rootfs", "testfile"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := b.run()
	if code != 0 || out != "1\n1\nsame\nro\n" {
		t.Fatalf("run: %d %q %s", code, out, errs)
	}
}

// update.bats "update cgroup v1/v2 common limits": `update --memory -1`
// after a swap limit was set lifts both (runc sets swap to -1 when only
// memory is given as -1); we wrote -1 to memory.limit_in_bytes alone,
// which cgroup v1 refuses while memsw is lower (EINVAL).
func TestRuncBatsUpdateMemoryUnlimited(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		lim, swap := int64(32<<20), int64(64<<20)
		s.Linux.Resources = &rspec.LinuxResources{Memory: &rspec.LinuxMemory{Limit: &lim, Swap: &swap}}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	if _, errs, code := b.myrun("update", "--memory-swap", "96468992", b.id); code != 0 {
		t.Fatalf("update --memory-swap: %s", errs)
	}
	if _, errs, code := b.myrun("update", "--memory", "-1", b.id); code != 0 {
		t.Fatalf("update --memory -1: %d %s", code, errs)
	}
	const unlimited = "9223372036854771712"
	if got := cgFile(b, "memory", "memory.limit_in_bytes"); got != unlimited {
		t.Errorf("memory.limit_in_bytes = %s", got)
	}
	if got := cgFile(b, "memory", "memory.memsw.limit_in_bytes"); got != unlimited {
		t.Errorf("memory.memsw.limit_in_bytes = %s", got)
	}
}

// seccompListener is an agent inside the test: it accepts one connection
// on sock, takes the state and the listener fd (sent with it, see
// runtime-spec "listenerPath"), answers mkdir/mkdirat with ENOMEDIUM and
// lets every other notified syscall continue, until the filter has no
// task left. The state goes to the returned channel, then the error.
func seccompListener(t *testing.T, sock string) (<-chan rspec.ContainerProcessState, <-chan error) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	states, errc := make(chan rspec.ContainerProcessState, 1), make(chan error, 1)
	go func() {
		errc <- func() error {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return err
			}
			st, fd, err := seccomp.RecvListener(conn)
			conn.Close()
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			states <- st
			return answerUntilHup(fd)
		}()
	}()
	return states, errc
}

func answerUntilHup(fd int) error {
	sfd := libseccomp.ScmpFd(fd)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return nil // POLLHUP: no task uses the filter any more
		}
		req, err := libseccomp.NotifReceive(sfd)
		if errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil {
			return err
		}
		resp := &libseccomp.ScmpNotifResp{ID: req.ID, Flags: libseccomp.NotifRespFlagContinue}
		if name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch); name == "mkdir" || name == "mkdirat" {
			resp.Flags, resp.Error = 0, int32(unix.ENOMEDIUM) // libseccomp negates it
		}
		if err := libseccomp.NotifRespond(sfd, resp); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
}

// seccomp-notify.bats "important syscalls" and "error chmod": the listener
// fd reaches the agent before init makes any other syscall, so execve,
// openat, read, close and fcntl (which init itself makes after loading
// the filter) may be SCMP_ACT_NOTIFY, with and without no_new_privs; the
// agent's error reaches the process; the state carries the metadata and
// the container's pid. myrun used to refuse execve and close.
func TestRuncBatsSeccompNotifyHandoff(t *testing.T) {
	for _, nnp := range []bool{false, true} {
		sock := filepath.Join(t.TempDir(), "agent.sock")
		states, errc := seccompListener(t, sock)
		b := newBundle(t, []string{"sh", "-c", "mkdir /tmp/x; echo rc=$?"}, func(s *rspec.Spec) {
			s.Process.NoNewPrivileges = nnp
			s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, ListenerPath: sock, ListenerMetadata: "bar",
				Syscalls: []rspec.LinuxSyscall{{Names: []string{"execve", "openat", "open", "read", "close", "fcntl", "mkdir", "mkdirat"}, Action: rspec.ActNotify}}}
		})
		out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
		b.myrun("delete", "--force", b.id)
		if code != 0 || !strings.Contains(out, "rc=1") || !strings.Contains(out+errs, "No medium found") {
			t.Fatalf("noNewPrivileges %v: run: %d %q %s", nnp, code, out, errs)
		}
		st := <-states
		if st.Metadata != "bar" || st.State.ID != b.id || st.Pid <= 0 || len(st.Fds) != 1 || st.Fds[0] != rspec.SeccompFdName {
			t.Errorf("noNewPrivileges %v: state sent to the agent: %+v", nnp, st)
		}
		if err := <-errc; err != nil {
			t.Errorf("noNewPrivileges %v: agent: %v", nnp, err)
		}
		b.assertNothingLeft()
	}
}

// seccomp-notify.bats "ignore listener path if no notify act" and "write":
// listenerPath is not used without a SCMP_ACT_NOTIFY rule (nothing listens
// there), and notify on write is refused in runc's words.
func TestRuncBatsSeccompListenerUnused(t *testing.T) {
	b := newBundle(t, []string{"echo", "ran"}, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow,
			ListenerPath: filepath.Join(t.TempDir(), "none.sock"), ListenerMetadata: "bar"}
	})
	out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	b.myrun("delete", "--force", b.id)
	if code != 0 || strings.TrimSpace(out) != "ran" {
		t.Fatalf("listenerPath without notify rules: %d %q %s", code, out, errs)
	}
	w := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow, ListenerPath: "/x.sock",
			Syscalls: []rspec.LinuxSyscall{{Names: []string{"write"}, Action: rspec.ActNotify}}}
	})
	_, errs, code = w.myrun("run", "--bundle", w.dir, w.id)
	if code == 0 || !strings.Contains(errs, "SCMP_ACT_NOTIFY cannot be used for the write syscall") {
		t.Fatalf("notify on write: %d %s", code, errs)
	}
	w.assertNothingLeft()
}

// cgroups.bats "runc run/create should error for a non-empty cgroup": a
// cgroup that already has processes is refused by run and create, in
// runc 1.4's words plus the cgroup's directory, and left as it was (runc
// 1.1.5, installed here, only warns; myrun used to warn too).
func TestRuncBatsNonEmptyCgroupRefused(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	precreate(t, b)
	sleeper := exec.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	pid := []byte(strconv.Itoa(sleeper.Process.Pid))
	for _, c := range []string{"devices", "freezer", "memory", "pids"} {
		os.WriteFile(filepath.Join("/sys/fs/cgroup", c, cgroupParent, b.id, "cgroup.procs"), pid, 0)
	}
	want := "container's cgroup is not empty: 1 process(es) found in " + filepath.Join("/sys/fs/cgroup/pids", cgroupParent, b.id)
	for _, cmd := range []string{"run", "create"} {
		_, errs, code := b.myrun(cmd, "--bundle", b.dir, b.id)
		if code == 0 || !strings.Contains(errs, want) {
			t.Fatalf("myrun %s: exit %d: %s", cmd, code, errs)
		}
		if _, _, code := b.myrun("state", b.id); code == 0 {
			t.Fatalf("myrun %s: a refused container has a state", cmd)
		}
	}
	got, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", cgroupParent, b.id, "cgroup.procs"))
	if strings.TrimSpace(string(got)) != string(pid) {
		t.Fatalf("cgroup.procs after the refusals: %q (want only %s)", got, pid)
	}
}

// host-mntns.bats: a container without a mount namespace gets none of
// config.json's mounts (they would land in the host's namespace); that is
// said on stderr naming the field, as for maskedPaths/readonlyPaths, and
// the container still runs. It used to be a debug line only.
func TestRuncBatsNoMountNSWarnsMounts(t *testing.T) {
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		var ns []rspec.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != rspec.MountNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	})
	n := len(b.spec.Mounts)
	if n == 0 {
		t.Fatal("the default spec has no mounts")
	}
	_, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	b.myrun("delete", "--force", b.id)
	want := fmt.Sprintf("no mount namespace: the %d entries of mounts are not applied", n)
	if code != 0 || !strings.Contains(errs, want) || !strings.Contains(errs, "level=warning") {
		t.Fatalf("run without a mount namespace: exit %d: %s (want a warning %q)", code, errs, want)
	}
	b.assertNothingLeft()
}

// run.bats "runc run [execve error]": an execve that fails after the
// parent closed the sync socket (the script's interpreter is missing) is
// said once, as runc's one line, not by the init's log and its stderr
// both; `run` fails.
func TestRuncBatsExecErrorOnce(t *testing.T) {
	b := newBundle(t, []string{"/run.sh"}, nil)
	if err := os.WriteFile(filepath.Join(b.dir, "rootfs", "run.sh"), []byte("#!/mmnnttbb foo bar\nsh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	b.myrun("delete", "--force", b.id)
	lines := strings.Split(strings.TrimSpace(out+errs), "\n")
	if code == 0 || len(lines) != 1 || lines[0] != "exec /run.sh: no such file or directory" {
		t.Fatalf("run with a failing execve: exit %d, output %q", code, out+errs)
	}
}

// userns.bats "userns join external namespaces [wrong userns owner]": a
// container joins another's user namespace and a network namespace that
// user namespace does not own (the host's root made it). From inside the
// user namespace setns(net) is EPERM: it must be joined first, while we
// have the host's capabilities. myrun joined the user namespace first and
// failed with "setns namespace type 0x40000000: Operation not permitted".
func TestRuncBatsJoinNamespaceNotOwnedByUserns(t *testing.T) {
	ownerPid := runUsernsOwner(t)
	// The holder says its netns once it is in it, then sleeps there.
	holder := exec.Command("unshare", "-n", "sh", "-c", "readlink /proc/self/ns/net; exec sleep 1000")
	pipe, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	line, err := bufio.NewReader(pipe).ReadString('\n')
	want := strings.TrimSpace(line)
	if host, _ := os.Readlink("/proc/self/ns/net"); err != nil || want == "" || want == host {
		t.Fatalf("unshare -n: %v %q (host %s)", err, line, host)
	}
	netns := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	b := newBundle(t, []string{"sleep", "1000"}, func(s *rspec.Spec) {
		for i, n := range s.Linux.Namespaces {
			if n.Type == rspec.NetworkNamespace {
				s.Linux.Namespaces[i].Path = netns
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, rspec.LinuxNamespace{Type: rspec.UserNamespace, Path: fmt.Sprintf("/proc/%d/ns/user", ownerPid)})
		for i, m := range s.Mounts {
			if m.Type == "sysfs" { // no sysfs without owning the netns
				s.Mounts[i] = rspec.Mount{Destination: m.Destination, Type: "bind", Source: "/sys", Options: []string{"rbind"}}
			}
		}
	})
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d joining a netns its userns does not own: %s", errs)
	}
	out, errs, code := b.myrun("exec", b.id, "readlink", "/proc/self/ns/net")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("exec readlink: %d %q %s (want %s)", code, out, errs, want)
	}
}

// userns.bats "userns with 2 inaccessible mounts" (and "+ exec"): bind
// sources below a directory the container's user namespace may not search
// (chmod 700, owned by the host's root, unmapped) are opened by the
// runtime before the namespace exists, as runc does; myrun stat'ed them in
// init and failed with EACCES.
func TestRuncBatsUsernsUnreachableBindSources(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "cat /tmp/m1/foo.txt /tmp/m2/foo.txt"}, func(s *rspec.Spec) {
		escUserns(s, 100000, 65536)
	})
	os.Chmod(b.dir, 0o755)
	os.Chmod(filepath.Dir(b.dir), 0o755)
	escChownTree(t, filepath.Join(b.dir, "rootfs"), 100000, 100000)
	for i, name := range []string{"in1", "in2"} {
		dir := filepath.Join(b.dir, name, "dir")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "foo.txt"), []byte(name+"\n"), 0o644)
		os.Chmod(filepath.Join(b.dir, name), 0o700)
		b.spec.Mounts = append(b.spec.Mounts, rspec.Mount{Source: name + "/dir", Destination: fmt.Sprintf("/tmp/m%d", i+1), Type: "bind", Options: []string{"bind"}})
	}
	b.write()
	out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
	b.myrun("delete", "--force", b.id)
	if code != 0 || out != "in1\nin2\n" {
		t.Fatalf("run with unreachable bind sources: %d %q %s", code, out, errs)
	}
}

// roBindSource makes a directory bind-mounted onto itself with the given
// remount flags (a source with flags of its own, as mounts_sshfs.bats
// sets up), unmounted at the end.
func roBindSource(t *testing.T, flags uintptr) string {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mounts_sshfs.bats "[mount(8)-unlike behaviour: --bind with clearing
// flag]", "[dev,exec,suid,atime bind mount of ...]", "[ro,symfollow bind
// mount of ...]": options that only clear flags ("bind,dev") still remount,
// so every flag not listed is dropped (a ro,noexec source becomes rw,exec);
// in a user namespace the locked flags are kept unless cleared explicitly,
// and an explicit "rw" over a locked ro source fails instead of being
// dropped.
func TestRuncBatsBindClearingFlags(t *testing.T) {
	src := roBindSource(t, unix.MS_RDONLY|unix.MS_NOEXEC|unix.MS_NOSYMFOLLOW)
	show := []string{"awk", `$2 == "/mnt" { print $4 }`, "/proc/self/mounts"}
	cases := []struct {
		opts   []string
		userns bool
		want   string // mount options in the container; "" = run fails
	}{
		{[]string{"bind", "dev"}, false, "rw"},
		{[]string{"bind", "dev"}, true, "ro,noexec"},
		{[]string{"bind", "rw"}, true, ""},
	}
	for _, c := range cases {
		b := newBundle(t, show, func(s *rspec.Spec) {
			s.Mounts = append(s.Mounts, rspec.Mount{Type: "bind", Source: src, Destination: "/mnt", Options: c.opts})
			if c.userns {
				escUserns(s, 100000, 65536)
			}
		})
		if c.userns {
			os.Chmod(b.dir, 0o755)
			os.Chmod(filepath.Dir(b.dir), 0o755)
			escChownTree(t, filepath.Join(b.dir, "rootfs"), 100000, 100000)
		}
		out, errs, code := b.myrun("run", "--bundle", b.dir, b.id)
		b.myrun("delete", "--force", b.id)
		got := strings.Fields(strings.ReplaceAll(strings.TrimSpace(out), ",", " "))
		switch {
		case c.want == "" && (code == 0 || !strings.Contains(errs, "operation not permitted")):
			t.Errorf("options %v (userns) over a locked ro source: %d %q %s, want EPERM", c.opts, code, out, errs)
		case c.want != "" && (code != 0 || !sameFlags(got, c.want)):
			t.Errorf("options %v (userns %v): %d %q %s, want %s", c.opts, c.userns, code, out, errs, c.want)
		}
	}
}

// sameFlags: the ro/rw, noexec and nosymfollow words of got are want's.
func sameFlags(got []string, want string) bool {
	has := map[string]bool{}
	for _, f := range got {
		has[f] = true
	}
	for _, f := range []string{"ro", "rw", "noexec", "nosymfollow"} {
		if has[f] != strings.Contains(","+want+",", ","+f+",") {
			return false
		}
	}
	return true
}
