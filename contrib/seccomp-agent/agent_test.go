package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrun-org/myrun/libcontainer/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	envChild  = "MYRUN_SECCOMP_AGENT_TEST_CHILD"
	envConfig = "MYRUN_SECCOMP_AGENT_TEST_CONFIG"
	busybox   = "/bin/busybox"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child plays the container init: load the filter, hand the listener to
// the agent, exec the workload given in the arguments.
func child() int {
	runtime.LockOSThread()
	var cfg specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(os.Getenv(envConfig)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 100
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 100
	}
	fd, err := seccomp.Load(&cfg)
	if err != nil || fd < 0 {
		fmt.Fprintln(os.Stderr, "child: load:", fd, err)
		return 100
	}
	st := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: cfg.ListenerMetadata,
		State: specs.State{Version: specs.Version, ID: os.Getenv(envChild), Status: specs.StateRunning, Pid: os.Getpid()}}
	if err := seccomp.SendListenerPath(cfg.ListenerPath, fd, st); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 100
	}
	unix.Close(fd)
	args := flagArgs()
	err = unix.Exec(args[0], args, os.Environ())
	fmt.Fprintln(os.Stderr, "child: exec:", err)
	return 100
}

// flagArgs returns the arguments after "--".
func flagArgs() []string {
	for i, a := range os.Args {
		if a == "--" {
			return os.Args[i+1:]
		}
	}
	return nil
}

// startAgent serves one container on a fresh socket and returns the socket
// path, the agent's log and a wait function.
func startAgent(t *testing.T, policy Policy) (string, *bytes.Buffer, func() error) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	var logb bytes.Buffer
	a := &Agent{Policy: policy, Log: slog.New(slog.NewTextHandler(&logb, nil))}
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ln, true) }()
	wait := func() error {
		defer ln.Close()
		select {
		case err := <-errc:
			return err
		case <-time.After(30 * time.Second):
			return fmt.Errorf("agent did not finish")
		}
	}
	return sock, &logb, wait
}

func runContainer(t *testing.T, sock string, argv ...string) (string, syscall.WaitStatus) {
	t.Helper()
	cfg, _ := json.Marshal(&specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "agent-test",
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat", "rmdir"}, Action: specs.ActNotify},
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^$", "--"}, argv...)...)
	cmd.Env = append(os.Environ(), envChild+"=agent-test-"+fmt.Sprint(os.Getpid()), envConfig+"="+string(cfg), "LC_ALL=C")
	out, _ := cmd.CombinedOutput() // status examined by the caller
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Exited() && ws.ExitStatus() == 100 {
		t.Fatalf("child setup failed: %s", out)
	}
	return string(out), ws
}

func TestAgentFakesMkdir(t *testing.T) {
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox not installed")
	}
	sock, logb, wait := startAgent(t, Policy{"mkdir": {}, "mkdirat": {}})
	dir := filepath.Join(t.TempDir(), "d")
	// rmdir is notified but has no answer: it must run for real.
	keep := filepath.Join(t.TempDir(), "real")
	if err := os.Mkdir(keep, 0o755); err != nil {
		t.Fatal(err)
	}
	out, ws := runContainer(t, sock, busybox, "sh", "-c", "mkdir "+dir+" && rmdir "+keep)
	if err := wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, logb)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("workload: status %v, output %q\nagent log:\n%s", ws, out, logb)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("mkdir ran although the agent faked it")
	}
	if _, err := os.Stat(keep); err == nil {
		t.Error("rmdir did not run although the agent let it continue")
	}
	for _, want := range []string{"got seccomp listener", "metadata=agent-test", "answer=\"fake success\"", "answer=continue", "container gone"} {
		if !strings.Contains(logb.String(), want) {
			t.Errorf("agent log lacks %q:\n%s", want, logb)
		}
	}
}

func TestAgentReturnsErrno(t *testing.T) {
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox not installed")
	}
	sock, logb, wait := startAgent(t, Policy{"mkdir": {Errno: unix.ENOSPC}, "mkdirat": {Errno: unix.ENOSPC}})
	dir := filepath.Join(t.TempDir(), "d")
	out, ws := runContainer(t, sock, busybox, "mkdir", dir)
	if err := wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, logb)
	}
	if !ws.Exited() || ws.ExitStatus() == 0 || !strings.Contains(out, "No space left on device") {
		t.Fatalf("want mkdir to fail with ENOSPC: status %v, output %q", ws, out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("directory created")
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		want unix.Errno
		bad  bool
	}{
		{"mkdir=ok", "mkdir", 0, false},
		{"mount=EPERM", "mount", unix.EPERM, false},
		{"mount=28", "mount", unix.ENOSPC, false},
		{"mount", "", 0, true},
		{"=ok", "", 0, true},
		{"mount=EFOO", "", 0, true},
		{"mount=70000", "", 0, true},
	} {
		name, ans, err := ParseRule(tc.in)
		if tc.bad != (err != nil) || name != tc.name || ans.Errno != tc.want {
			t.Errorf("ParseRule(%q) = %q, %v, %v", tc.in, name, ans, err)
		}
	}
}

func TestRunNeedsSocket(t *testing.T) {
	if err := run("", true, nil); err == nil {
		t.Error("run without -socket succeeded")
	}
	if err := run(filepath.Join(t.TempDir(), "s"), true, rules{"bad"}); err == nil {
		t.Error("bad rule accepted")
	}
}
