package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runner holds what every program run shares.
type runner struct {
	suite   suite
	runtime string // absolute path
	ctl     runtimeCtl
	timeout time.Duration
	logDir  string
	reaper  *reaper
	cgRoots []string // where tests may create cgroups (see cgroups.go)
	warn    func(format string, args ...any)
}

// result of one program.
type result struct {
	Name   string
	Reason string // "" = passed
	Took   time.Duration
}

// run executes one validation program and cleans up after it.
func (r *runner) run(name string) result {
	start := time.Now()
	res := result{Name: name}
	tmp, err := os.MkdirTemp("", "runtimetools-"+name+"-")
	if err != nil {
		res.Reason = "temp dir: " + err.Error()
		return res
	}
	// Like /tmp, the dir must be searchable by the uids that user-namespace
	// tests map container root to.
	if err := os.Chmod(tmp, 0o755); err != nil {
		res.Reason = "temp dir: " + err.Error()
		return res
	}
	idsBefore := listIDs(r.ctl.root)
	mountsBefore, _ := readMounts()
	tmpBefore := listTemp(os.TempDir())
	cgBefore := listCgroupDirs(r.cgRoots)

	stdoutPath := filepath.Join(r.logDir, name+".tap")
	stderrPath := filepath.Join(r.logDir, name+".stderr")
	exitErr, timedOut, err := r.exec(name, tmp, stdoutPath, stderrPath)
	if err != nil {
		res.Reason = err.Error()
	} else {
		out, _ := os.ReadFile(stdoutPath)
		errOut, _ := os.ReadFile(stderrPath)
		res.Reason = verdict(parseTAP(string(out)), exitErr, timedOut, r.timeout.String(), stderrSummary(string(errOut)), silentOK(name))
	}

	// Cleanup: containers first (they hold mounts and processes), then the
	// mounts under the test's temp dirs, then the dirs.
	roots := append([]string{tmp}, newEntries(tmpBefore, listTemp(os.TempDir()))...)
	for _, id := range leftoverIDs(idsBefore, listIDs(r.ctl.root), r.ctl.bundle, roots) {
		if err := r.ctl.forceDelete(id); err != nil {
			r.warn("cleanup %s: delete container %s: %v", name, id, err)
		} else {
			r.warn("cleanup %s: deleted leftover container %s", name, id)
		}
	}
	removed, failed := removeNewCgroups(cgBefore, listCgroupDirs(r.cgRoots))
	for _, f := range failed {
		r.warn("cleanup %s: remove cgroup: %s", name, f)
	}
	if len(removed) > 0 {
		r.warn("cleanup %s: removed leftover cgroups %v", name, removed)
	}
	if mountsAfter, err := readMounts(); err == nil {
		leaked := newMountsUnder(mountsBefore, mountsAfter, roots)
		for _, f := range unmountLeftovers(leaked) {
			r.warn("cleanup %s: unmount %s", name, f)
		}
		if len(leaked) > 0 {
			r.warn("cleanup %s: unmounted %d leftover mounts: %v", name, len(leaked), leaked)
		}
	}
	for _, d := range roots {
		if err := safeRemoveAll(d); err != nil {
			r.warn("cleanup %s: %v", name, err)
		}
	}
	res.Took = time.Since(start)
	return res
}

// exec runs the program in its own process group with TMPDIR pointing at tmp,
// from the directory holding runtimetest and the rootfs tarball.
func (r *runner) exec(name, tmp, stdoutPath, stderrPath string) (exitErr error, timedOut bool, err error) {
	stdout, err := os.Create(stdoutPath)
	if err != nil {
		return nil, false, err
	}
	defer stdout.Close()
	stderr, err := os.Create(stderrPath)
	if err != nil {
		return nil, false, err
	}
	defer stderr.Close()

	cmd := exec.Command(filepath.Join(r.suite.BinDir, name))
	cmd.Dir = r.suite.BinDir
	cmd.Env = append(filterEnv(os.Environ(), "RUNTIME", "TMPDIR"), "RUNTIME="+r.runtime, "TMPDIR="+tmp)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := r.reaper.startHeld(cmd); err != nil {
		return nil, false, fmt.Errorf("start: %v", err)
	}
	pgid := cmd.Process.Pid
	var fired atomic.Bool
	timer := time.AfterFunc(r.timeout, func() {
		fired.Store(true)
		_ = unix.Kill(-pgid, unix.SIGKILL)
	})
	waitErr := cmd.Wait()
	timer.Stop()
	r.reaper.release()
	// Whatever the test left in its process group (hooks, stray runtime
	// calls) goes too; the group id cannot be reused while members live.
	_ = unix.Kill(-pgid, unix.SIGKILL)
	return waitErr, fired.Load(), nil
}
