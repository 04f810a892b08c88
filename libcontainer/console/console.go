// Package console creates the container's pseudo-terminal and passes its
// master side over a unix socket (the --console-socket protocol engines use).
package console

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// NewPty opens a new pty pair from /dev/ptmx of the current mount namespace
// (the container's devpts after pivot_root).
func NewPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	// TIOCGPTPEER opens the peer without a path lookup in /dev/pts.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	sfd := int(r)
	if errno != 0 {
		n, err2 := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
		if err2 != nil {
			master.Close()
			return nil, nil, fmt.Errorf("ptsname: %w", err2)
		}
		sfd, err = unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err != nil {
			master.Close()
			return nil, nil, fmt.Errorf("open pty slave: %w", err)
		}
	}
	n, _ := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	return master, os.NewFile(uintptr(sfd), fmt.Sprintf("/dev/pts/%d", n)), nil
}

// PrepareSlave gives the pty slave runc's settings before the process
// gets it: ONLCR cleared, so "\n" reaches the reader as "\n" and not
// "\r\n" (scripts compare `$(runc run ID)` output), and owned by the
// process's uid, keeping the group devpts gave it (the tty group), so a
// non-root process can use its own terminal.
func PrepareSlave(slave *os.File, uid uint32) error {
	fd := int(slave.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("console: get termios: %w", err)
	}
	t.Oflag &^= unix.ONLCR
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("console: clear ONLCR: %w", err)
	}
	if err := unix.Fchown(fd, int(uid), -1); err != nil {
		return fmt.Errorf("console: chown pty slave to uid %d: %w", uid, err)
	}
	return nil
}

// SetSize sets the terminal size when both dimensions are known.
func SetSize(f *os.File, height, width uint) error {
	if height == 0 || width == 0 {
		return nil
	}
	return unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(height), Col: uint16(width)})
}

// SendFd sends fd over the unix socket sock with name as payload.
func SendFd(sock *os.File, name string, fd uintptr) error {
	return unix.Sendmsg(int(sock.Fd()), []byte(name), unix.UnixRights(int(fd)), nil, 0)
}

// RecvFd receives one fd sent by SendFd.
func RecvFd(sock *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("console socket: expected one control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("console socket: expected one fd")
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

// SetupTerminal makes slave the controlling terminal and stdio of the caller.
func SetupTerminal(slave *os.File) error {
	fd := int(slave.Fd())
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", i, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("TIOCSCTTY: %w", err)
	}
	return nil
}
