package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// exit is what wait4 told us about one process.
type exit struct {
	Pid    int
	Status unix.WaitStatus
	Rusage unix.Rusage
	At     time.Time
}

// CPU is user+sys of the process and its waited-for descendants.
func (e exit) CPU() time.Duration {
	return time.Duration(e.Rusage.Utime.Nano() + e.Rusage.Stime.Nano())
}

// MaxRSSKB is the peak RSS of the process or its biggest waited-for child.
func (e exit) MaxRSSKB() int64 { return e.Rusage.Maxrss }

// reaper is the only place in the driver that calls wait. It runs the image
// tools and the spawners; as child subreaper it also reaps what those leave
// behind (PID 1 here does not). Runtime commands go through the spawner
// (spawner.go). os/exec is not used: its per-pid wait would race wait4(-1).
type reaper struct {
	mu      sync.Mutex
	mine    map[int]chan exit // started by us, someone waits
	orphans map[int]exit      // reaped, nobody asked (yet)
	wake    chan struct{}
}

var (
	reaperOnce sync.Once
	theReaper  *reaper
	reaperErr  error
)

// newReaper returns the process's single reaper (two wait4(-1) loops would
// steal each other's children).
func newReaper() (*reaper, error) {
	reaperOnce.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			reaperErr = fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
			return
		}
		theReaper = &reaper{mine: map[int]chan exit{}, orphans: map[int]exit{}, wake: make(chan struct{}, 1)}
		go theReaper.loop()
	})
	return theReaper, reaperErr
}

func (r *reaper) loop() {
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		pid, err := unix.Wait4(-1, &ws, unix.WALL, &ru)
		now := time.Now()
		if err == unix.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing to wait for until the next start
			select {
			case <-r.wake:
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		e := exit{Pid: pid, Status: ws, Rusage: ru, At: now}
		r.mu.Lock()
		if ch, ok := r.mine[pid]; ok {
			delete(r.mine, pid)
			ch <- e
		} else {
			r.orphans[pid] = e
		}
		r.mu.Unlock()
	}
}

// waitOrphan waits until pid (not started by us) has been reaped.
func (r *reaper) waitOrphan(pid int, timeout time.Duration) (exit, bool) {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		e, ok := r.orphans[pid]
		if ok {
			delete(r.orphans, pid)
		}
		r.mu.Unlock()
		if ok {
			return e, true
		}
		if time.Now().After(deadline) {
			return exit{}, false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// background starts a long-lived helper; its exit is reaped and ignored.
func (r *reaper) background(argv []string, files []uintptr) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: os.Environ(), Files: files})
	if err != nil {
		return 0, err
	}
	r.mine[pid] = make(chan exit, 1)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return pid, nil
}

// cmd is one process to run and measure.
type cmd struct {
	Argv []string
	Env  []string
	Dir  string
}

// result of one measured command.
type result struct {
	exit
	Wall   time.Duration
	Stdout string
	Stderr string
	Err    error
}

func (r *reaper) run(c cmd) result {
	so, err := os.CreateTemp("", "bench-out-")
	if err != nil {
		return result{Err: err}
	}
	se, err := os.CreateTemp("", "bench-err-")
	if err != nil {
		so.Close()
		os.Remove(so.Name())
		return result{Err: err}
	}
	defer func() {
		so.Close()
		se.Close()
		os.Remove(so.Name())
		os.Remove(se.Name())
	}()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return result{Err: err}
	}
	defer devnull.Close()
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	attr := &syscall.ProcAttr{Dir: c.Dir, Env: env, Files: []uintptr{devnull.Fd(), so.Fd(), se.Fd()}}
	ch := make(chan exit, 1)
	var pid int
	var start time.Time
	fork := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		start = time.Now()
		pid, err = syscall.ForkExec(c.Argv[0], c.Argv, attr)
		if err == nil {
			r.mine[pid] = ch
		}
	}
	fork()
	if err != nil {
		return result{Err: fmt.Errorf("%s: %w", c.Argv[0], err)}
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	e := <-ch
	res := result{exit: e, Wall: e.At.Sub(start)}
	out, _ := os.ReadFile(so.Name())
	errb, _ := os.ReadFile(se.Name())
	res.Stdout, res.Stderr = string(out), string(errb)
	if !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		res.Err = fmt.Errorf("%s: %s: %s", strings.Join(c.Argv, " "), describe(e.Status), firstLine(res.Stderr))
	}
	return res
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 { // last line carries the error
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
