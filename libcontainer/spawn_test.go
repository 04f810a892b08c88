package libcontainer

import (
	"os"
	"syscall"
	"testing"

	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

func TestWaitPid(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"exit 0", ""},
		{"exit 3", "exit status 3"},
		{"kill -KILL $$", "signal: killed"},
	} {
		pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", tc.script}, &syscall.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := waitPid(pid); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%q: waitPid = %q, want %q", tc.script, got, tc.want)
		}
	}
}

// A process the C constructor execs gets no log pipe (nothing in it
// writes a log); Go init, for init or exec, gets one.
func TestPassFdsLogRelay(t *testing.T) {
	r := New(t.TempDir(), nil)
	for _, tc := range []struct {
		mode     string
		exec     bool
		wantPipe bool
	}{{initproc.ModeInit, false, true}, {initproc.ModeExec, false, true}, {initproc.ModeExec, true, false}} {
		req := &spawnRequest{cfg: &initproc.Config{Mode: tc.mode}}
		if tc.exec {
			req.exec = &nsexec.ExecProcess{}
		}
		p := &initProcess{r: r, req: req}
		if err := p.passFds(); err != nil {
			t.Fatal(err)
		}
		pipes := 0
		for _, f := range p.extra {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
				pipes++
			}
		}
		p.close()
		if got := req.cfg.LogFd >= 0; got != tc.wantPipe || pipes != btoi(tc.wantPipe) {
			t.Errorf("%s (constructor exec %v): log fd %d, %d pipes passed, want a relay: %v", tc.mode, tc.exec, req.cfg.LogFd, pipes, tc.wantPipe)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
