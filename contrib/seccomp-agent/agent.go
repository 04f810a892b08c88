package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/myrun-org/myrun/libcontainer/seccomp"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Answer is what the agent replies for one syscall: success (return value 0)
// without running it, or an errno. Syscalls without an answer run normally.
type Answer struct {
	Errno unix.Errno // 0 means fake success
}

// Policy maps syscall names to answers.
type Policy map[string]Answer

// ParseRule parses "name=ok", "name=EPERM" or "name=28".
func ParseRule(s string) (string, Answer, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" || val == "" {
		return "", Answer{}, fmt.Errorf("rule %q: want syscall=ok|ERRNO|number", s)
	}
	if val == "ok" {
		return name, Answer{}, nil
	}
	if n, err := strconv.ParseUint(val, 10, 16); err == nil {
		return name, Answer{Errno: unix.Errno(n)}, nil
	}
	for n := unix.Errno(1); n < 4096; n++ {
		if unix.ErrnoName(n) == val {
			return name, Answer{Errno: n}, nil
		}
	}
	return "", Answer{}, fmt.Errorf("rule %q: unknown errno %q", s, val)
}

// Agent receives seccomp listener fds on a unix socket and answers them.
type Agent struct {
	Policy Policy
	Log    *slog.Logger
	wg     sync.WaitGroup
}

// Serve accepts connections until ln is closed; with once it returns after
// the first container's filter is gone. It waits for its handlers.
func (a *Agent) Serve(ln *net.UnixListener, once bool) error {
	defer a.wg.Wait()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		st, fd, err := seccomp.RecvListener(conn)
		conn.Close()
		if err != nil {
			a.Log.Error("receive container state", "err", err)
			continue
		}
		log := a.Log.With("container", st.State.ID, "pid", st.Pid, "metadata", st.Metadata)
		log.Info("got seccomp listener")
		if once {
			return a.answer(fd, log)
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.answer(fd, log); err != nil {
				log.Error("notifications", "err", err)
			}
		}()
	}
}

// answer handles notifications on fd until no task uses the filter, then
// closes fd.
func (a *Agent) answer(fd int, log *slog.Logger) error {
	defer unix.Close(fd)
	sfd := libseccomp.ScmpFd(fd)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		// POLLHUP: every task of the filter has exited.
		if pfd[0].Revents&unix.POLLHUP != 0 {
			log.Info("container gone")
			return nil
		}
		req, err := libseccomp.NotifReceive(sfd)
		if err != nil {
			if errors.Is(err, unix.ENOENT) { // the task died meanwhile
				continue
			}
			return err
		}
		name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
		resp := &libseccomp.ScmpNotifResp{ID: req.ID}
		ans, ok := a.Policy[name]
		switch {
		case !ok:
			resp.Flags = libseccomp.NotifRespFlagContinue
		case ans.Errno != 0:
			resp.Error = int32(ans.Errno) // libseccomp negates it for the kernel
		}
		log.Info("notification", "syscall", name, "task", req.Pid, "answer", describe(ans, ok))
		if err := libseccomp.NotifRespond(sfd, resp); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
}

func describe(a Answer, ok bool) string {
	switch {
	case !ok:
		return "continue"
	case a.Errno == 0:
		return "fake success"
	default:
		return unix.ErrnoName(a.Errno)
	}
}
