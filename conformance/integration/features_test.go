//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestHooksOrderAndState(t *testing.T) {
	log := filepath.Join(t.TempDir(), "hooks.log")
	hook := func(name string) rspec.Hook {
		return rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `read -r s; echo "` + name + ` $s" >> ` + log}}
	}
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{
			Prestart:      []rspec.Hook{hook("prestart")},
			CreateRuntime: []rspec.Hook{hook("createRuntime")},
			Poststart:     []rspec.Hook{hook("poststart")},
			Poststop:      []rspec.Hook{hook("poststop")},
		}
	})
	b.mustRun()
	raw, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	order := []string{"prestart", "createRuntime", "poststart", "poststop"}
	if len(lines) != len(order) {
		t.Fatalf("hooks ran: %q", lines)
	}
	for i, l := range lines {
		name, js, _ := strings.Cut(l, " ")
		if name != order[i] {
			t.Fatalf("hook %d is %s, want %s", i, name, order[i])
		}
		var st rspec.State
		if err := json.Unmarshal([]byte(js), &st); err != nil || st.ID != b.id || st.Bundle != b.dir {
			t.Fatalf("%s got state %q: %v", name, js, err)
		}
	}
}

// createContainer and startContainer hooks run in the container's
// namespaces with the state on stdin; createContainer's path resolves in
// the runtime's filesystem (before pivot_root), startContainer's in the
// container's (it writes to /hooklog, a container path).
func TestContainerHooks(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Mounts = append(s.Mounts, rspec.Mount{Destination: "/hooklog", Type: "bind", Source: dir, Options: []string{"rbind"}})
		s.Hooks = &rspec.Hooks{
			CreateContainer: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				`read -r s; echo "$s" > ` + dir + `/create; readlink /proc/self/ns/mnt >> ` + dir + `/create`}}},
			StartContainer: []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				`read -r s; echo "$s" > /hooklog/start; readlink /proc/self/ns/mnt >> /hooklog/start`}}},
		}
	})
	b.mustRun()
	hostNS, _ := os.Readlink("/proc/self/ns/mnt")
	for name, status := range map[string]rspec.ContainerState{"create": rspec.StateCreated, "start": rspec.StateRunning} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if err != nil || len(lines) != 2 {
			t.Fatalf("%sContainer hook output %q: %v", name, raw, err)
		}
		var st rspec.State
		if err := json.Unmarshal([]byte(lines[0]), &st); err != nil || st.ID != b.id || st.Status != status || st.Pid <= 0 {
			t.Errorf("%sContainer hook state %q (%v), want status %s", name, lines[0], err, status)
		}
		if lines[1] == hostNS || !strings.HasPrefix(lines[1], "mnt:") {
			t.Errorf("%sContainer hook ran in mount namespace %s (host %s)", name, lines[1], hostNS)
		}
	}
}

func TestFailingPrestartHookLeavesNothing(t *testing.T) {
	b := newBundle(t, []string{"true"}, func(s *rspec.Spec) {
		s.Hooks = &rspec.Hooks{Prestart: []rspec.Hook{{Path: "/bin/false"}}}
	})
	if _, errs, code := b.myrun("create", "--bundle", b.dir, b.id); code == 0 || !strings.Contains(errs, "prestart") {
		t.Fatalf("create with failing hook: %d %s", code, errs)
	}
	b.assertNothingLeft()
}

func TestConsoleSocket(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "tty; stty size"}, func(s *rspec.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &rspec.Box{Height: 30, Width: 100}
	})
	sockPath, got := consoleSocket(t)
	if _, errs, code := b.myrun("create", "--console-socket", sockPath, "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("create: %s", errs)
	}
	master := <-got
	if master == nil {
		t.Fatal("no pty master received")
	}
	defer master.Close()
	if _, errs, code := b.myrun("start", b.id); code != 0 {
		t.Fatalf("start: %s", errs)
	}
	if out := readUntil(master, "30 100"); !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "30 100") {
		t.Fatalf("console output %q", out)
	}
}

// exec -t with a console socket: the pty master reaches the socket, the
// process has the pty as its controlling terminal, with the process's size.
func TestExecConsoleSocket(t *testing.T) {
	b := newBundle(t, []string{"sleep", "1000"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	p := rspec.Process{Terminal: true, ConsoleSize: &rspec.Box{Height: 25, Width: 81}, Cwd: "/", Env: []string{"PATH=/bin"},
		Args: []string{"sh", "-c", "tty; stty size; ls /proc/self/fd | wc -l"}}
	pj := b.processFile("tty.json", p)
	sockPath, got := consoleSocket(t)
	if _, errs, code := b.myrun("exec", "-d", "--console-socket", sockPath, "-p", pj, b.id); code != 0 {
		t.Fatalf("exec -t: %s", errs)
	}
	master := <-got
	if master == nil {
		t.Fatal("no pty master received")
	}
	defer master.Close()
	// 0-2 on the pty plus ls's directory fd: nothing else leaked.
	out := readUntil(master, "\n4")
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "25 81") || !strings.Contains(out, "\n4") {
		t.Fatalf("console output %q", out)
	}
}

// consoleSocket listens on a new console socket and delivers the first pty
// master sent to it (nil on error).
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	sockPath := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan *os.File, 1)
	go func() {
		c, err := ln.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, 64)
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		got <- os.NewFile(uintptr(fds[0]), "master")
	}()
	return sockPath, got
}

// readUntil reads the pty master until want shows up or the pty closes.
func readUntil(master *os.File, want string) string {
	buf := make([]byte, 4096)
	var out strings.Builder
	for !strings.Contains(strings.ReplaceAll(out.String(), "\r", ""), want) {
		n, err := master.Read(buf)
		if err != nil {
			break
		}
		out.Write(buf[:n])
	}
	return strings.ReplaceAll(out.String(), "\r", "")
}

// Socket activation (systemd's LISTEN_FDS): fds handed to myrun for its
// own pid reach the container after stdio, and the process is told with
// LISTEN_FDS=N, LISTEN_PID=1. For another pid they are not ours.
func TestListenFds(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", `echo "$LISTEN_FDS $LISTEN_PID"; cat <&3; ls /proc/self/fd | wc -l`}, nil)
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("activated\n")
	f.Seek(0, 0)
	// The shell execs myrun, so $$ is myrun's pid.
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"`, "sh", myrun, "--root", b.root, "run", "--bundle", b.dir, b.id)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "1 1\nactivated\n") || !strings.HasSuffix(strings.TrimSpace(string(out)), "5") {
		t.Fatalf("socket activation: %v %q", err, out)
	}
	b.myrun("delete", "--force", b.id)
	cmd = exec.Command("sh", "-c", `LISTEN_PID=1 LISTEN_FDS=1 exec "$@"`, "sh", myrun, "--root", b.root, "run", "--bundle", b.dir, b.id)
	cmd.ExtraFiles = []*os.File{f}
	if out, _ := cmd.CombinedOutput(); strings.Contains(string(out), "activated") || !strings.HasPrefix(string(out), " \n") {
		t.Fatalf("fds for another pid were passed on: %q", out)
	}
}

func TestPreserveFds(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "cat <&3; ls /proc/self/fd | wc -l"}, nil)
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("through fd 3\n")
	f.Seek(0, 0)
	cmd := exec.Command(myrun, "--root", b.root, "run", "--preserve-fds", "1", "--bundle", b.dir, b.id)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	// 0,1,2,3 plus the fd ls itself opens for the directory.
	if !strings.Contains(string(out), "through fd 3\n") || !strings.HasSuffix(strings.TrimSpace(string(out)), "5") {
		t.Fatalf("got %q", out)
	}
}

func TestOnlyStdioReachesContainer(t *testing.T) {
	b := newBundle(t, []string{"sh", "-c", "ls /proc/self/fd | wc -l; readlink /proc/1/cwd"}, nil)
	out := strings.Fields(b.mustRun())
	// sh, with ls's own directory fd: 0 1 2 3.
	if len(out) != 2 || out[0] != "4" || out[1] != "/" {
		t.Fatalf("got %q", out)
	}
}

func TestPauseResumePsUpdate(t *testing.T) {
	b := newBundle(t, []string{"sleep", "100"}, nil)
	if _, errs, code := b.myrun("run", "-d", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run -d: %s", errs)
	}
	if _, errs, code := b.myrun("pause", b.id); code != 0 {
		t.Fatalf("pause: %s", errs)
	}
	if st := b.state(); st["status"] != "paused" {
		t.Fatalf("after pause: %v", st["status"])
	}
	if _, errs, code := b.myrun("resume", b.id); code != 0 {
		t.Fatalf("resume: %s", errs)
	}
	if st := b.state(); st["status"] != "running" {
		t.Fatalf("after resume: %v", st["status"])
	}
	out, errs, code := b.myrun("ps", "--format", "json", b.id)
	var pids []int
	if code != 0 || json.Unmarshal([]byte(out), &pids) != nil || len(pids) != 1 || fmt.Sprint(pids[0]) != fmt.Sprint(b.state()["pid"]) {
		t.Fatalf("ps: %d %q %s", code, out, errs)
	}
	if _, errs, code := b.myrun("update", "--pids-limit", "42", "--memory", "67108864", b.id); code != 0 {
		t.Fatalf("update: %s", errs)
	}
	if got := cgFile(b, "pids", "pids.max"); got != "42" {
		t.Fatalf("pids.max = %q", got)
	}
	if out, errs, code := b.myrun("events", "--stats", b.id); code != 0 || !strings.Contains(out, `"type":"stats"`) {
		t.Fatalf("events --stats: %d %q %s", code, out, errs)
	}
	if _, errs, code := b.myrun("kill", "--all", b.id, "9"); code != 0 {
		t.Fatalf("kill --all: %s", errs)
	}
	waitStatus(t, b, "stopped")
}

// --log FILE --log-format json writes runc's line shape (level, msg, time)
// that podman and containerd parse; --debug adds the setup steps with
// their durations, from the parent and from init.
func TestLogFileJSON(t *testing.T) {
	b := newBundle(t, []string{"true"}, nil)
	logFile := filepath.Join(t.TempDir(), "runtime.log")
	if _, errs, code := b.myrun("--log", logFile, "--log-format", "json", "--debug", "run", "--bundle", b.dir, b.id); code != 0 {
		t.Fatalf("run: %s", errs)
	}
	b.spec.Process.Args = []string{"/no/such/binary"}
	b.write()
	b.myrun("delete", "--force", b.id)
	if _, _, code := b.myrun("--log", logFile, "--log-format", "json", "run", "--bundle", b.dir, b.id); code == 0 {
		t.Fatal("run of a missing binary succeeded")
	}
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var sawStep, sawError bool
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		lvl, _ := e["level"].(string)
		msg, _ := e["msg"].(string)
		if _, ok := e["time"].(string); !ok || lvl == "" || msg == "" {
			t.Fatalf("line lacks level/msg/time: %q", line)
		}
		if lvl == "debug" && msg == "pivot_root" && e["took"] != nil {
			sawStep = true // logged by init, through the same file
		}
		if lvl == "error" && strings.Contains(msg, "/no/such/binary") {
			sawError = true
		}
	}
	if !sawStep || !sawError {
		t.Fatalf("debug step from init %v, error naming the binary %v:\n%s", sawStep, sawError, raw)
	}
}
