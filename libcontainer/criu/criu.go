// Package criu drives CRIU through its RPC interface: a `criu swrk` child
// on one end of a SOCK_SEQPACKET socketpair, protobuf requests and replies
// (rpc.proto's messages, encoded by libcontainer/criu/rpc).
//
// go-criu is not linked: its Criu type cannot pass extra fds to the child
// (inherit_fd, namespaces joined by fd) nor receive the pty master CRIU
// sends with the "orphan-pts-master" notification, and its generated
// message types bring the protobuf runtime's package init into every
// myrun process (see libcontainer/criu/rpc).
package criu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/libcontainer/criu/rpc"
	"golang.org/x/sys/unix"
)

// DefaultPath is the criu binary looked up on PATH when none is given.
const DefaultPath = "criu"

// ErrNotFound is returned when the criu binary cannot be found.
var ErrNotFound = errors.New("criu binary not found")

// Check tells whether CRIU can run here: the binary exists and
// `criu check` (its kernel feature probe) succeeds. The error carries
// CRIU's own words (e.g. kerndat's vdso failure on kernels newer than it).
func Check(path string) error {
	if path == "" {
		path = DefaultPath
	}
	bin, err := exec.LookPath(path)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrNotFound, path, err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "check")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &KernelError{Output: lastLines(out.String(), 4), Err: err}
	}
	return nil
}

// KernelError is a failed `criu check`.
type KernelError struct {
	Output string
	Err    error
}

func (e *KernelError) Error() string {
	if e.Output == "" {
		return "criu check: " + e.Err.Error()
	}
	return fmt.Sprintf("criu check: %v: %s", e.Err, e.Output)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// Notify receives CRIU's notifications. fd is the file CRIU sent with the
// message (only "orphan-pts-master" sends one), else nil.
type Notify func(script string, pid int32, fd *os.File) error

// DefaultTimeout bounds the wait for each of CRIU's answers (checkpoint
// and restore --criu-timeout): generous for a large tree, but a CRIU that
// never answers (criu 3.17 restoring a truncated pages-*.img spins in the
// restored task) no longer hangs the runtime. runc waits forever.
const DefaultTimeout = 10 * time.Minute

// TimeoutAnnotation and TimeoutEnv set the bound for engines, which
// cannot pass --criu-timeout: the container's annotation (config.json,
// which podman, containerd and CRI hand on for both verbs), else the
// runtime's environment (a containerd service's Environment=; podman 4
// starts restore from conmon with a filtered environment).
const (
	TimeoutAnnotation = "run.myrun.criu-timeout"
	TimeoutEnv        = "MYRUN_CRIU_TIMEOUT"
)

// Timeout is the bound on each CRIU answer: given (--criu-timeout) when
// it is not negative, else the container's TimeoutAnnotation, else
// TimeoutEnv, else DefaultTimeout. "0" is no bound (as runc). A value
// that is not a duration, or is negative, is an error naming its source.
func Timeout(given time.Duration, annotations map[string]string) (time.Duration, error) {
	if given >= 0 {
		return given, nil
	}
	if v, ok := annotations[TimeoutAnnotation]; ok {
		return parseTimeout(fmt.Sprintf("annotations[%q]", TimeoutAnnotation), v)
	}
	if v, ok := os.LookupEnv(TimeoutEnv); ok {
		return parseTimeout(TimeoutEnv, v)
	}
	return DefaultTimeout, nil
}

func parseTimeout(src, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q: not a duration of 0 or more (like 30m; 0 waits for CRIU without a bound)", src, v)
	}
	return d, nil
}

// NoAnswerError is a CRIU that did not answer within the bound: its swrk
// child was killed.
type NoAnswerError struct {
	After time.Duration
	Pid   int
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("CRIU did not answer within %v: killed its swrk child (pid %d)", e.After, e.Pid)
}

// Swrk is one running `criu swrk` child.
type Swrk struct {
	cmd    *exec.Cmd
	sk     *os.File
	stderr bytes.Buffer
	// Timeout bounds the wait for each answer (0: none); on expiry the
	// child is killed and Do returns a *NoAnswerError.
	Timeout time.Duration
}

// Start runs `criu swrk`. extra are passed to the child as fds 4, 5, ...
// (fd 3 is its end of the socket): InheritFd refers to them so. The image
// and work dirs are not among them: CRIU opens those through
// /proc/<peer>/fd/N, the caller's own fd numbers.
// unshareMnt gives the child a private copy of our mount namespace, so
// mounts made only for CRIU can be detached from ours right after.
func Start(path string, extra []*os.File, unshareMnt bool) (*Swrk, error) {
	if path == "" {
		path = DefaultPath
	}
	s := &Swrk{}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("criu: socketpair: %w", err)
	}
	// Non-blocking, so that reads go through the poller and take a
	// deadline (Timeout).
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("criu: socketpair: %w", err)
	}
	cln := os.NewFile(uintptr(fds[0]), "criu-client")
	srv := os.NewFile(uintptr(fds[1]), "criu-server")
	defer srv.Close()
	cmd := exec.Command(path, "swrk", "3")
	cmd.ExtraFiles = append([]*os.File{srv}, extra...)
	// CRIU writes to stderr what fails before its log is open; kept
	// for the error, not shown on success (a pre-dump session ends with
	// a complaint about the closed socket).
	cmd.Stderr = &s.stderr
	// A task CRIU left behind may hold its stderr: Wait stops waiting
	// for that pipe soon after CRIU itself exited.
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if unshareMnt {
		cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
	}
	if err := cmd.Start(); err != nil {
		cln.Close()
		return nil, fmt.Errorf("criu: starting %s swrk: %w", path, err)
	}
	s.cmd, s.sk = cmd, cln
	return s, nil
}

// Pid is the swrk child's pid (cgroups are applied to it before a restore,
// so the restored tasks are born in them).
func (s *Swrk) Pid() int { return s.cmd.Process.Pid }

// Close ends the session and waits for the child. Its exit status after
// a successful reply is not an error: swrk exits non-zero when the socket
// closes while it waits for another request (after a pre-dump).
func (s *Swrk) Close() {
	s.sk.Close()
	s.cmd.Wait()
}

// Stderr is the last lines CRIU wrote to its stderr ("" if none).
func (s *Swrk) Stderr() string { return lastLines(s.stderr.String(), 6) }

// Do sends req and answers notifications until CRIU's final reply.
func (s *Swrk) Do(req *rpc.CriuReq, nfy Notify) (*rpc.CriuResp, error) {
	if nfy != nil && req.Opts != nil {
		req.Opts.NotifyScripts = rpc.Bool(true)
	}
	want := req.GetType()
	for {
		b, err := rpc.Marshal(req)
		if err != nil {
			return nil, err
		}
		if _, err := s.sk.Write(b); err != nil {
			return nil, fmt.Errorf("criu: sending %s request: %w", want, err)
		}
		resp, fd, err := s.recvBounded()
		if err != nil {
			return nil, err
		}
		if !resp.GetSuccess() {
			if fd != nil {
				fd.Close()
			}
			msg := strings.TrimSpace(resp.GetCrErrmsg())
			if msg == "" {
				msg = "see CRIU's log"
			}
			return resp, fmt.Errorf("criu %s failed: %s (errno %d)", strings.ToLower(want.String()), msg, resp.GetCrErrno())
		}
		if resp.GetType() != rpc.CriuReqType_NOTIFY {
			if fd != nil {
				fd.Close()
			}
			if resp.GetType() != want {
				return resp, fmt.Errorf("criu: unexpected reply %s to %s", resp.GetType(), want)
			}
			return resp, nil
		}
		n := resp.GetNotify()
		if nfy != nil {
			err = nfy(n.GetScript(), n.GetPid(), fd)
		} else if fd != nil {
			fd.Close()
		}
		if err != nil {
			return resp, fmt.Errorf("criu notification %q: %w", n.GetScript(), err)
		}
		t := rpc.CriuReqType_NOTIFY
		req = &rpc.CriuReq{Type: &t, NotifySuccess: rpc.Bool(true)}
	}
}

// recvBounded is recv within Timeout; past it the swrk child is killed
// (by its pid, which Wait in Close then reaps).
func (s *Swrk) recvBounded() (*rpc.CriuResp, *os.File, error) {
	if s.Timeout > 0 {
		s.sk.SetReadDeadline(time.Now().Add(s.Timeout))
	}
	resp, fd, err := s.recv()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.cmd.Process.Kill()
		return nil, nil, &NoAnswerError{After: s.Timeout, Pid: s.cmd.Process.Pid}
	}
	return resp, fd, err
}

// recv reads one reply and the fd that may ride on it.
func (s *Swrk) recv() (*rpc.CriuResp, *os.File, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	rc, err := s.sk.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var n, oobn int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("criu: reading reply: %w", err)
	}
	if n == 0 {
		return nil, nil, errors.New("criu: swrk closed the connection (see CRIU's log)")
	}
	var file *os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for i, f := range fds {
						if i == 0 && file == nil {
							file = os.NewFile(uintptr(f), "criu-fd")
						} else {
							unix.Close(f)
						}
					}
				}
			}
		}
	}
	resp := &rpc.CriuResp{}
	if err := rpc.Unmarshal(buf[:n], resp); err != nil {
		if file != nil {
			file.Close()
		}
		return nil, nil, fmt.Errorf("criu: decoding reply: %w", err)
	}
	return resp, file, nil
}

// Version asks CRIU for its version as major*10000+minor*100+sublevel.
func (s *Swrk) Version() (int, error) {
	t := rpc.CriuReqType_VERSION
	resp, err := s.Do(&rpc.CriuReq{Type: &t}, nil)
	if err != nil {
		return 0, err
	}
	v := resp.GetVersion()
	if v == nil {
		return 0, errors.New("criu: no version in reply")
	}
	return int(v.GetMajorNumber())*10000 + int(v.GetMinorNumber())*100 + int(v.GetSublevel()), nil
}
