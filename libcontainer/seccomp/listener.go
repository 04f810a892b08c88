package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendListenerConn sends the container process state as JSON with the
// listener fd in SCM_RIGHTS (runtime-spec "listenerPath" protocol). st.Fds
// defaults to ["seccompFd"]. The caller closes conn afterwards: the spec
// allows one state per connection.
func SendListenerConn(conn *net.UnixConn, fd int, st specs.ContainerProcessState) error {
	if fd < 0 {
		return errors.New("linux.seccomp.listenerPath: no listener fd to send")
	}
	b, err := ListenerMessage(st)
	if err != nil {
		return err
	}
	n, _, err := conn.WriteMsgUnix(b, unix.UnixRights(fd), nil)
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: send state: %w", err)
	}
	// The fd travels with the first chunk only, as the spec asks.
	if n < len(b) {
		if _, err := conn.Write(b[n:]); err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: send state: %w", err)
		}
	}
	return nil
}

// ListenerMessage is the state JSON sent to the agent. st.Fds defaults to
// ["seccompFd"]; st.Version to the spec's version.
func ListenerMessage(st specs.ContainerProcessState) ([]byte, error) {
	if len(st.Fds) == 0 {
		st.Fds = []string{specs.SeccompFdName}
	}
	if len(st.Fds) != 1 {
		return nil, fmt.Errorf("linux.seccomp.listenerPath: state names %d fds, sending 1", len(st.Fds))
	}
	if st.Version == "" {
		st.Version = specs.Version
	}
	return json.Marshal(st)
}

// Handoff sends the listener fd of a filter about to be loaded: NewHandoff
// prepares the message and its SCM_RIGHTS buffer, Send fills in the fd and
// uses nothing but sendmsg(2). It runs right after the filter is loaded,
// when any other syscall (a dup, fcntl, close or futex of a net.Conn, an
// allocation) may be one the agent must answer, and the agent has no fd
// yet. A short first send is completed with write(2), which comes after
// the hand-over and may be notified.
type Handoff struct {
	sock   int
	msg    []byte
	rights []byte
}

// NewHandoff prepares sending st on the connected socket sock.
func NewHandoff(sock int, st specs.ContainerProcessState) (*Handoff, error) {
	msg, err := ListenerMessage(st)
	if err != nil {
		return nil, err
	}
	return &Handoff{sock: sock, msg: msg, rights: unix.UnixRights(-1)}, nil
}

// Send sends the state with fd.
func (h *Handoff) Send(fd int) error {
	if fd < 0 {
		return errors.New("linux.seccomp.listenerPath: no listener fd to send")
	}
	*(*int32)(unsafe.Pointer(&h.rights[unix.CmsgLen(0)])) = int32(fd)
	var n int
	var err error
	for {
		n, err = unix.SendmsgN(h.sock, h.msg, h.rights, nil, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: send state: %w", err)
	}
	for rest := h.msg[n:]; len(rest) > 0; {
		w, err := unix.Write(h.sock, rest)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("linux.seccomp.listenerPath: send state: %w", err)
		}
		rest = rest[w:]
	}
	return nil
}

// SendListenerPath connects to the agent's socket at path, sends the state
// and the fd, and closes the connection.
func SendListenerPath(path string, fd int, st specs.ContainerProcessState) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("linux.seccomp.listenerPath: %w", err)
	}
	defer c.Close()
	return SendListenerConn(c, fd, st)
}

// RecvListener is the agent side: it reads one container process state and
// returns it with the seccomp listener fd (close-on-exec). Extra fds are
// closed. It does not need the sender to close the connection.
func RecvListener(conn *net.UnixConn) (specs.ContainerProcessState, int, error) {
	var st specs.ContainerProcessState
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return st, -1, fmt.Errorf("read state: %w", err)
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return st, -1, err
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	dec := json.NewDecoder(io.MultiReader(bytes.NewReader(buf[:n]), conn))
	if err := dec.Decode(&st); err != nil {
		closeAll()
		return st, -1, fmt.Errorf("decode state: %w", err)
	}
	i := slices.Index(st.Fds, specs.SeccompFdName)
	if i < 0 || i >= len(fds) {
		closeAll()
		return st, -1, fmt.Errorf("state names fds %q but %d were received", st.Fds, len(fds))
	}
	fd := fds[i]
	fds = slices.Delete(fds, i, i+1)
	closeAll()
	return st, fd, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		r, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range r {
			unix.CloseOnExec(fd)
		}
		fds = append(fds, r...)
	}
	return fds, nil
}

// UsesNotify reports whether some rule of cfg is SCMP_ACT_NOTIFY: only then
// is linux.seccomp.listenerPath used (as runc, it is ignored otherwise).
func UsesNotify(cfg *specs.LinuxSeccomp) bool {
	if cfg == nil {
		return false
	}
	for _, sc := range cfg.Syscalls {
		if sc.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
