package libcontainer

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/myrun-org/myrun/libcontainer/initproc"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
	"golang.org/x/sys/unix"
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

func TestForkIntoCgroupFallsBack(t *testing.T) {
	saved := forkExec
	t.Cleanup(func() { forkExec = saved })
	for _, c := range []struct {
		name      string
		first     error
		wantCalls int
		wantBorn  bool
		wantErr   error
	}{
		{"born in the cgroup", nil, 1, true, nil},
		{"EACCES: forked without", unix.EACCES, 2, false, nil},
		{"EPERM: forked without", unix.EPERM, 2, false, nil},
		{"other errors are returned", unix.ENOENT, 1, false, unix.ENOENT},
	} {
		var calls []bool
		forkExec = func(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
			calls = append(calls, attr.Sys.UseCgroupFD)
			if len(calls) == 1 && c.first != nil {
				return 0, c.first
			}
			return 42, nil
		}
		attr := &syscall.ProcAttr{Sys: &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: 9}}
		pid, born, err := forkIntoCgroup("/x", []string{"x"}, attr)
		if len(calls) != c.wantCalls || born != c.wantBorn || !errors.Is(err, c.wantErr) && err != c.wantErr {
			t.Errorf("%s: calls %v born %v err %v", c.name, calls, born, err)
		}
		if c.wantCalls == 2 && (calls[1] || pid != 42) {
			t.Errorf("%s: retry used the cgroup fd (%v) or lost the pid %d", c.name, calls, pid)
		}
		if !attr.Sys.UseCgroupFD || attr.Sys.CgroupFD != 9 {
			t.Errorf("%s: the caller's attributes changed: %+v", c.name, attr.Sys)
		}
	}
	forkExec = func(string, []string, *syscall.ProcAttr) (int, error) { return 0, unix.EACCES }
	if _, born, err := forkIntoCgroup("/x", nil, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{}}); born || !errors.Is(err, unix.EACCES) {
		t.Errorf("without a cgroup fd: born %v err %v, want EACCES as it is", born, err)
	}
}
