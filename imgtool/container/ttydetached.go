package container

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A -d -t container's terminal belongs to its monitor: the runtime hands
// the pty master over --console-socket; the monitor logs what it reads
// from it (as stdout, in chunks: a prompt has no newline), copies the
// stdin fifo into it (-i), and sets its size from the resize fifo,
// which attach writes "ROWS COLS" lines to.

// consoleSocket listens for the runtime's pty master; the path is short
// (sun_path has 108 bytes), in a private temporary directory.
type consoleSocket struct {
	dir string
	l   *net.UnixListener
}

func newConsoleSocket() (*consoleSocket, error) {
	dir, err := os.MkdirTemp("", "myimg-console-")
	if err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "sock"), Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("console socket: %w", err)
	}
	return &consoleSocket{dir: dir, l: l}, nil
}

func (c *consoleSocket) path() string { return filepath.Join(c.dir, "sock") }

func (c *consoleSocket) Close() error {
	c.l.Close()
	return os.RemoveAll(c.dir)
}

// receive waits for the runtime's connection and returns the pty master
// it passes.
func (c *consoleSocket) receive() (*os.File, error) {
	conn, err := c.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("console socket: no file descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("console socket: no file descriptor received")
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// copyChunks logs what r gives as it comes.
func (w *logWriter) copyChunks(stream string, r io.Reader) {
	buf := make([]byte, 16<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.write(stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (cs *Manager) resizeFifo(id string) string { return filepath.Join(cs.Dir(id), "resize") }

// serveTerminal feeds the pty master of a -d -t container: the stdin
// fifo (with -i) and the resize fifo; it ends with the returned func.
func (cs *Manager) serveTerminal(r *Record, master *os.File) (func(), error) {
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	p := cs.resizeFifo(r.ID)
	if err := unix.Mkfifo(p, 0o600); err != nil && !os.IsExist(err) {
		return func() {}, fmt.Errorf("resize fifo: %w", err)
	}
	rf, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return func() {}, err
	}
	closers := []io.Closer{rf}
	go func() {
		sc := bufio.NewScanner(rf)
		for sc.Scan() {
			var ws unix.Winsize
			if n, _ := fmt.Sscanf(sc.Text(), "%d %d", &ws.Row, &ws.Col); n == 2 {
				unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &ws)
			}
		}
	}()
	if r.OpenStdin {
		in, err := cs.openStdinFifo(r.ID)
		if err != nil {
			rf.Close()
			return func() {}, err
		}
		closers = append(closers, in)
		go io.Copy(master, in)
	}
	return func() {
		for _, c := range closers {
			c.Close()
		}
	}, nil
}

// Resize sets the terminal size of a -d -t container to the attaching
// terminal's (rows, cols).
func (cs *Manager) Resize(r *Record, rows, cols uint16) error {
	if !r.TTY {
		return nil
	}
	return cs.sendResize(r, &unix.Winsize{Row: rows, Col: cols})
}

// sendResize tells the monitor of a -d -t container the attaching
// terminal's size.
func (cs *Manager) sendResize(r *Record, ws *unix.Winsize) error {
	fd, err := unix.Open(cs.resizeFifo(r.ID), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, fmt.Appendf(nil, "%d %d\n", ws.Row, ws.Col))
	return err
}

// monitorDetachedTTY runs a -d -t container: its terminal's output is
// the log's stdout.
func (cs *Manager) monitorDetachedTTY(r *Record, ready func(error)) (int, error) {
	id, dir := r.ID, cs.Dir(r.ID)
	lf, err := openLog(r.LogPath)
	if err != nil {
		return -1, err
	}
	defer lf.Close()
	lw := &logWriter{f: lf}
	sock, err := newConsoleSocket()
	if err != nil {
		return -1, err
	}
	defer sock.Close()
	type got struct {
		f   *os.File
		err error
	}
	masterc := make(chan got, 1)
	go func() { f, err := sock.receive(); masterc <- got{f, err} }()
	pidFile := filepath.Join(dir, "pid")
	rt := cs.runtime(r).WithLog(filepath.Join(dir, "runtime.log"))
	if err := rt.Command("create", "--bundle", r.Bundle, "--pid-file", pidFile, "--console-socket", sock.path(), id).Run(); err != nil {
		return -1, withRuntimeError(fmt.Errorf("runtime create"), rt)
	}
	m := <-masterc
	if m.err != nil {
		rt.Delete(id)
		return -1, m.err
	}
	defer m.f.Close()
	stopTerm, err := cs.serveTerminal(r, m.f)
	defer stopTerm()
	if err != nil {
		rt.Delete(id)
		return -1, err
	}
	copied := make(chan struct{})
	go func() { lw.copyChunks("stdout", m.f); close(copied) }()
	pid, err := readPid(pidFile)
	if err == nil && rt.Command("start", id).Run() != nil {
		err = withRuntimeError(fmt.Errorf("runtime start"), rt)
	}
	if err != nil {
		rt.Delete(id)
		return -1, err
	}
	code := cs.runUntilExit(rt, id, pid, ready)
	select { // the pty ends (EIO) once no process holds its other end
	case <-copied:
	case <-time.After(3 * time.Second):
	}
	cs.finish(r, code, "")
	return code, nil
}
