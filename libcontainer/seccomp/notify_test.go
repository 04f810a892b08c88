package seccomp

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// answerNotifications fakes success for every notified syscall until the
// filter has no task left.
func answerNotifications(fd int, seen chan<- string) error {
	defer close(seen)
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 10_000); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return err
		}
		if pfd[0].Revents&unix.POLLHUP != 0 {
			return nil
		}
		if pfd[0].Revents&unix.POLLIN == 0 {
			return errors.New("poll timed out")
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return err
		}
		name, _ := req.Data.Syscall.GetNameByArch(req.Data.Arch)
		seen <- name
		resp := &libseccomp.ScmpNotifResp{ID: req.ID}
		if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), resp); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
}

func TestNotifyRoundTrip(t *testing.T) {
	needBusybox(t)
	tmp := t.TempDir()
	sock := filepath.Join(tmp, "agent.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type got struct {
		st   specs.ContainerProcessState
		seen []string
		err  error
	}
	done := make(chan got, 1)
	go func() {
		var g got
		defer func() { done <- g }()
		_ = ln.SetDeadline(time.Now().Add(30 * time.Second))
		conn, err := ln.AcceptUnix()
		if err != nil {
			g.err = err
			return
		}
		st, fd, err := RecvListener(conn)
		conn.Close()
		if err != nil {
			g.err = err
			return
		}
		defer unix.Close(fd)
		g.st = st
		seen := make(chan string, 16)
		errc := make(chan error, 1)
		go func() { errc <- answerNotifications(fd, seen) }()
		for s := range seen {
			g.seen = append(g.seen, s)
		}
		g.err = <-errc
	}()

	dir := filepath.Join(tmp, "d")
	cfg := &specs.LinuxSeccomp{
		DefaultAction:    specs.ActAllow,
		ListenerPath:     sock,
		ListenerMetadata: "test-metadata",
		Flags:            []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls:         []specs.LinuxSyscall{mkdirRule(specs.ActNotify, nil)},
	}
	if !slices.Contains(Features().SupportedFlags, string(specs.LinuxSeccompFlagWaitKillableRecv)) {
		cfg.Flags = nil
	}
	r := runChild(t, cfg, nil, busybox, "mkdir", dir)
	g := <-done
	if g.err != nil {
		t.Fatalf("agent: %v", g.err)
	}
	if !r.status.Exited() || r.status.ExitStatus() != 0 {
		t.Fatalf("mkdir with agent faking success: status %v, stderr %q", r.status, r.stderr)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("directory exists: the agent's answer was not used")
	}
	if !slices.Contains(g.seen, "mkdir") && !slices.Contains(g.seen, "mkdirat") {
		t.Errorf("agent saw %v", g.seen)
	}
	st := g.st
	if !slices.Equal(st.Fds, []string{specs.SeccompFdName}) || st.Pid != r.pid || st.Metadata != "test-metadata" ||
		st.Version != specs.Version || st.State.ID != "seccomp-test" {
		t.Errorf("state %+v (child pid %d)", st, r.pid)
	}
}
