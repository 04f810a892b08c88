package seccomp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests re-exec the test binary as a child that loads a filter and then
// either execs a command or makes probe syscalls; the parent checks results.
const (
	envChild  = "MYRUN_SECCOMP_TEST_CHILD"
	envConfig = "MYRUN_SECCOMP_TEST_CONFIG"
	envExec   = "MYRUN_SECCOMP_TEST_EXEC"
	envProbe  = "MYRUN_SECCOMP_TEST_PROBE"
)

// probe is one syscall the child makes after loading the filter.
type probe struct {
	Nr     uintptr    `json:"nr"`
	Args   [3]uintptr `json:"args"`
	Thread bool       `json:"thread"` // run on a thread started before Load
}

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func childMain() int {
	runtime.LockOSThread()
	var cfg specs.LinuxSeccomp
	if err := json.Unmarshal([]byte(os.Getenv(envConfig)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "child: config:", err)
		return 100
	}
	var probes []probe
	if p := os.Getenv(envProbe); p != "" {
		if err := json.Unmarshal([]byte(p), &probes); err != nil {
			fmt.Fprintln(os.Stderr, "child: probes:", err)
			return 100
		}
	}
	// A thread that exists before Load: only TSYNC can filter it.
	req, resp := make(chan probe), make(chan string)
	go func() {
		runtime.LockOSThread()
		for p := range req {
			resp <- doProbe(p)
		}
	}()
	req <- probe{Nr: unix.SYS_GETPID}
	<-resp
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "child: no_new_privs:", err)
		return 100
	}
	fd, err := Load(&cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: load:", err)
		return 101
	}
	if fd >= 0 {
		st := specs.ContainerProcessState{Pid: os.Getpid(), Metadata: cfg.ListenerMetadata,
			State: specs.State{Version: specs.Version, ID: "seccomp-test", Status: specs.StateRunning, Pid: os.Getpid()}}
		if err := SendListenerPath(cfg.ListenerPath, fd, st); err != nil {
			fmt.Fprintln(os.Stderr, "child: send:", err)
			return 102
		}
		unix.Close(fd)
	}
	for _, p := range probes {
		var r string
		if p.Thread {
			req <- p
			r = <-resp
		} else {
			r = doProbe(p)
		}
		fmt.Println(r)
	}
	if e := os.Getenv(envExec); e != "" {
		var argv []string
		if err := json.Unmarshal([]byte(e), &argv); err != nil {
			return 100
		}
		err := unix.Exec(argv[0], argv, os.Environ())
		fmt.Fprintln(os.Stderr, "child: exec:", err)
		return 103
	}
	return 0
}

// doProbe makes a raw syscall and returns "ok" or the errno number.
func doProbe(p probe) string {
	_, _, e := unix.RawSyscall(p.Nr, p.Args[0], p.Args[1], p.Args[2])
	if e != 0 {
		return strconv.Itoa(int(e))
	}
	return "ok"
}

type childResult struct {
	stdout, stderr string
	status         syscall.WaitStatus
	pid            int
}

// runChild loads cfg in a child, then makes probes and/or execs argv.
func runChild(t *testing.T, cfg *specs.LinuxSeccomp, probes []probe, argv ...string) childResult {
	t.Helper()
	c, _ := json.Marshal(cfg)
	p, _ := json.Marshal(probes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envConfig+"="+string(c), envProbe+"="+string(p), "LC_ALL=C")
	if len(argv) > 0 {
		a, _ := json.Marshal(argv)
		cmd.Env = append(cmd.Env, envExec+"="+string(a))
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // exit status is examined below
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Exited() && ws.ExitStatus() >= 100 && ws.ExitStatus() <= 103 {
		t.Fatalf("child failed (exit %d): %s", ws.ExitStatus(), errb.String())
	}
	return childResult{stdout: out.String(), stderr: errb.String(), status: ws, pid: cmd.Process.Pid}
}

func (r childResult) lines() []string {
	return strings.Fields(r.stdout)
}

func uintp(v uint) *uint { return &v }
