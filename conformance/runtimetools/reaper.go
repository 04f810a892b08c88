package main

import (
	"bytes"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reaper makes us a child subreaper and reaps orphans (container processes,
// hooks) that the tests leave behind. PID 1 here does not reap quickly, and a
// zombie init makes a runtime report "running" instead of "stopped".
//
// It must not reap our own direct children (exec.Cmd waits for those), so it
// peeks with WNOWAIT and only waits for pids it was not told to keep.
type reaper struct {
	mu   sync.Mutex
	keep int // direct child that exec.Cmd will wait for, 0 if none
	stop chan struct{}
	done chan struct{}
}

func startReaper() (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, err
	}
	r := &reaper{stop: make(chan struct{}), done: make(chan struct{})}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGCHLD)
	go func() {
		defer close(r.done)
		defer signal.Stop(sig)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				r.reap()
				return
			case <-sig:
			case <-tick.C:
			}
			r.reap()
		}
	}()
	return r, nil
}

// startHeld starts cmd and keeps the reaper off it until release: exec.Cmd
// must reap its own child. Starting under the lock closes the window in
// which the child could exit before we know its pid.
func (r *reaper) startHeld(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.keep = cmd.Process.Pid
	return nil
}

func (r *reaper) release() {
	r.mu.Lock()
	r.keep = 0
	r.mu.Unlock()
}

// output runs cmd to completion under hold and returns stdout and stderr.
// A nil reaper just runs it.
func (r *reaper) output(cmd *exec.Cmd) (stdout, stderr []byte, err error) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if r == nil {
		err = cmd.Run()
		return o.Bytes(), e.Bytes(), err
	}
	if err = r.startHeld(cmd); err != nil {
		return nil, nil, err
	}
	err = cmd.Wait()
	r.release()
	return o.Bytes(), e.Bytes(), err
}

// siginfo is the part of siginfo_t that waitid fills for SIGCHLD.
type siginfo struct {
	Signo, Errno, Code, _ int32
	Pid                   int32
	Uid                   uint32
	Status                int32
	_                     [100]byte
}

// reap waits for every exited child that is not held.
func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var info siginfo
		_, _, e := unix.Syscall6(unix.SYS_WAITID, unix.P_ALL, 0, uintptr(unsafe.Pointer(&info)),
			unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, 0, 0)
		if e != 0 || info.Pid == 0 || int(info.Pid) == r.keep {
			// A held child is first in line; its owner waits for it soon.
			return
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(int(info.Pid), &ws, unix.WNOHANG, nil); err != nil {
			return
		}
	}
}

func (r *reaper) close() {
	close(r.stop)
	<-r.done
}
