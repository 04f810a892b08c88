package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/runner"
	"golang.org/x/sys/unix"
)

// Attach connects a foreground container to the caller's terminal.
type Attach struct {
	Stdin          *os.File // nil: /dev/null
	Stdout, Stderr io.Writer
	TTY            bool
}

// Monitor starts container id and supervises it until it exits: it
// holds the container's stdio (writing the log, teeing to att in the
// foreground), records pid, status and exit code, and tears the network
// down at the end. ready is called once, when the container runs or
// failed to. It returns the container's exit code.
func (cs *Manager) Monitor(id string, att *Attach, ready func(error)) (int, error) {
	readyOnce := func(err error) {
		if ready != nil {
			ready(err)
			ready = nil
		}
	}
	code, err := cs.monitor(id, att, readyOnce)
	readyOnce(err)
	return code, err
}

func (cs *Manager) monitor(id string, att *Attach, ready func(error)) (int, error) {
	// Container init is re-parented to us when `runtime create` exits.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return -1, err
	}
	me := os.Getpid()
	myStart, _ := procStartTime(me)
	r, err := cs.Update(id, func(r *Record) { r.MonitorPid, r.MonitorTime = me, myStart })
	if err != nil {
		return -1, err
	}
	closeNet, err := cs.startNetwork(r)
	defer closeNet()
	if err != nil {
		return -1, err
	}
	if att != nil && att.TTY {
		return cs.monitorTTY(r, att, ready)
	}
	if att == nil && r.TTY {
		return cs.monitorDetachedTTY(r, ready)
	}
	return cs.monitorLogged(r, att, ready)
}

// startNetwork gives the container its network before it starts, with or
// without a terminal: rootless containers join the user and network
// namespaces of a pause process (slirp4netns cannot enter the namespaces
// of the runtime's non-dumpable init). The returned func, also valid
// after an error, releases the pause and slirp4netns handles when the
// monitor ends.
func (cs *Manager) startNetwork(r *Record) (func(), error) {
	var closers []io.Closer
	closeAll := func() {
		for _, c := range slices.Backward(closers) {
			c.Close()
		}
	}
	if r.Rootless && r.Network.Mode != network.ModeHost {
		keep, err := cs.startPause(r)
		if err != nil {
			return closeAll, err
		}
		closers = append(closers, keep)
	}
	if r.Network.Mode == network.ModeSlirp {
		target := r.Network.Netns
		if r.Rootless {
			target = strconv.Itoa(r.PausePid)
		}
		exitW, err := cs.startSlirp(r, target)
		if err != nil {
			return closeAll, err
		}
		closers = append(closers, exitW)
	}
	if r.Network.Mode == network.ModePasta {
		if err := cs.startPasta(r); err != nil {
			return closeAll, err
		}
	}
	return closeAll, nil
}

// openLog opens the container's log for appending, making its directory.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// monitorLogged runs the container without a terminal: its stdout and
// stderr go to the log (and to att, if attached) until it exits.
func (cs *Manager) monitorLogged(r *Record, att *Attach, ready func(error)) (int, error) {
	id, dir := r.ID, cs.Dir(r.ID)
	lf, err := openLog(r.LogPath)
	if err != nil {
		return -1, err
	}
	defer lf.Close()
	lw := &logWriter{f: lf}
	outR, outW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	stdin, err := cs.containerStdin(r, att)
	if err != nil {
		return -1, err
	}
	if att == nil && stdin != nil {
		defer stdin.Close()
	}
	pidFile := filepath.Join(dir, "pid")
	rt := cs.runtime(r).WithLog(filepath.Join(dir, "runtime.log"))
	create := rt.Command("create", "--bundle", r.Bundle, "--pid-file", pidFile, id)
	create.Stdin, create.Stdout, create.Stderr = stdin, outW, errW
	cerr := create.Run()
	outW.Close()
	errW.Close()
	var teeOut, teeErr io.Writer
	if att != nil {
		teeOut, teeErr = att.Stdout, att.Stderr
	}
	copied := make(chan struct{}, 2)
	go func() { lw.copyStream("stdout", outR, teeOut); copied <- struct{}{} }()
	go func() { lw.copyStream("stderr", errR, teeErr); copied <- struct{}{} }()
	waitCopied := func() {
		for i := 0; i < 2; i++ {
			select {
			case <-copied:
			case <-time.After(3 * time.Second):
				outR.Close()
				errR.Close()
				return
			}
		}
	}
	if cerr != nil {
		waitCopied()
		return -1, withRuntimeError(fmt.Errorf("runtime create"), rt)
	}
	pid, err := readPid(pidFile)
	if err != nil {
		rt.Delete(id)
		return -1, err
	}
	if err := rt.Command("start", id).Run(); err != nil {
		rt.Delete(id)
		waitCopied()
		return -1, withRuntimeError(fmt.Errorf("runtime start"), rt)
	}
	code := cs.runUntilExit(rt, id, pid, ready)
	waitCopied()
	cs.finish(r, code, "")
	return code, nil
}

// runUntilExit records the started container as running, serves its
// health check while init runs and returns init's exit code; the
// runtime's state goes with it.
func (cs *Manager) runUntilExit(rt runner.Runtime, id string, pid int, ready func(error)) int {
	cur, _ := cs.Update(id, func(r *Record) {
		r.Status, r.Pid, r.StartedAt = StatusRunning, pid, time.Now().UTC()
		resetHealth(r)
	})
	ready(nil)
	stopHealth := cs.healthTimer(cur)
	code := waitPid(pid)
	stopHealth()
	rt.Delete(id)
	return code
}

// containerStdin is the foreground caller's stdin, the stdin fifo of a
// -d -i container, or nil (/dev/null).
func (cs *Manager) containerStdin(r *Record, att *Attach) (*os.File, error) {
	if att != nil {
		return att.Stdin, nil
	}
	if r.OpenStdin {
		return cs.openStdinFifo(r.ID)
	}
	return nil, nil
}

// finish records the exit and releases what only a running container
// needs (network, slirp4netns, cgroup); rm removes the rest.
func (cs *Manager) finish(r *Record, code int, msg string) {
	rec, err := cs.Load(r.ID)
	if err != nil {
		rec = r
	}
	for _, p := range [][2]uint64{{uint64(rec.Network.SlirpPid), rec.Network.SlirpTime}, {uint64(rec.PausePid), rec.PauseTime}} {
		if p[0] > 0 {
			killVerified(int(p[0]), p[1], syscall.SIGKILL)
			reap(int(p[0]))
		}
	}
	rec.Network.ReleaseBridge(rec.ID)
	cs.syncNetworkHosts(rec.Network) // best effort: the lease is gone
	cs.releaseConnected(rec)
	removeCgroup(rec.CgroupsPath)
	// The exit is recorded last: stop and rm wait for it, and then find
	// nothing of the monitor's cleanup half done.
	cs.Update(r.ID, func(r *Record) {
		r.Status, r.ExitCode, r.FinishedAt, r.Pid = StatusExited, code, time.Now().UTC(), 0
		if msg != "" {
			r.Error = msg
		}
	})
}

// monitorTTY runs a foreground container with a terminal: the runtime's
// own `run` proxies the pty to our terminal. No log is written.
func (cs *Manager) monitorTTY(r *Record, att *Attach, ready func(error)) (int, error) {
	cmd := cs.runtime(r).Command("run", "--bundle", r.Bundle, r.ID)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = att.Stdin, os.Stdout, os.Stderr
	if cmd.Stdin == nil {
		cmd.Stdin = os.Stdin
	}
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	cur, _ := cs.Update(r.ID, func(r *Record) { r.Status, r.StartedAt = StatusRunning, time.Now().UTC(); resetHealth(r) })
	ready(nil)
	stopHealth := cs.healthTimer(cur)
	err := cmd.Wait()
	stopHealth()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	cs.runtime(r).Delete(r.ID)
	cs.finish(r, code, "")
	return code, nil
}

func (cs *Manager) startSlirp(r *Record, target string) (*os.File, error) {
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer exitR.Close()
	os.MkdirAll(filepath.Dir(r.Network.APISocket), 0o700)
	os.Remove(r.Network.APISocket)
	logf, err := os.OpenFile(filepath.Join(cs.Dir(r.ID), "slirp4netns.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		exitW.Close()
		return nil, err
	}
	defer logf.Close()
	p, err := network.StartSlirp(target, r.Network.APISocket, exitR, logf)
	if err != nil {
		exitW.Close()
		if b, _ := os.ReadFile(logf.Name()); len(b) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(b)))
		}
		return nil, err
	}
	st, _ := procStartTime(p.Pid)
	cs.Update(r.ID, func(r *Record) { r.Network.SlirpPid, r.Network.SlirpTime = p.Pid, st })
	r.Network.SlirpPid, r.Network.SlirpTime = p.Pid, st
	p.Release()
	for _, pm := range r.Network.Ports {
		if err := network.AddHostFwd(r.Network.APISocket, pm); err != nil {
			exitW.Close()
			killVerified(p.Pid, st, syscall.SIGKILL)
			return nil, err
		}
	}
	return exitW, nil
}

// waitPid reaps children until pid exits and returns its exit code
// (128+signal when killed). Other children (slirp4netns, orphans of the
// container) are reaped on the way.
func waitPid(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			// Not our child after all (no subreaper): poll until gone.
			for alive(pid, 0) {
				time.Sleep(100 * time.Millisecond)
			}
			return -1
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

func readPid(p string) (int, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("runtime pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("runtime pid file %s: bad pid %q", p, b)
	}
	return pid, nil
}

// reap collects pid if it is our exited child (slirp4netns, pause), so
// no zombie outlives the monitor; it gives up after a second.
func reap(pid int) {
	for i := 0; i < 20; i++ {
		got, err := unix.Wait4(pid, nil, unix.WNOHANG, nil)
		if got == pid || err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
