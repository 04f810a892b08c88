package libcontainer

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// logRelay carries init's log lines to our log (the --log file or our
// stderr) through a pipe of ours. Init used to write to the log itself and
// had to close it before waiting for `start`: the log may be the caller's
// stderr, and `out=$(myrun create ...)` would never return while init held
// it. So its lines after `start` (startContainer hooks, execve) were lost.
// A pipe whose reader is us holds nothing of the caller's: init keeps it
// to its execve (close-on-exec), and while we live (`run`) every line
// reaches the log; once we have exited, init's writes fail with EPIPE.
type logRelay struct {
	r, w   *os.File
	marked chan struct{} // our mark came through: all before it is copied
	done   chan struct{} // EOF: init exec'd or died
	once   sync.Once
}

// logMark is a line init never writes (slog lines start with "time=" or "{").
var logMark = []byte("\x00myrun-log-mark\n")

func newLogRelay(dst io.Writer) (*logRelay, error) {
	// Not os.Pipe: only the read end goes through the poller (our
	// reader waits there without a thread of its own); the write end is
	// init's, which Fd() would switch back to blocking anyway (two
	// fcntl and an epoll add and delete for nothing).
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, os.NewSyscallError("fcntl", err)
	}
	r, w := os.NewFile(uintptr(p[0]), "log-relay"), os.NewFile(uintptr(p[1]), "init-log")
	l := &logRelay{r: r, w: w, marked: make(chan struct{}), done: make(chan struct{})}
	go l.copy(dst)
	return l, nil
}

func (l *logRelay) copy(dst io.Writer) {
	defer close(l.done)
	defer l.r.Close()
	br := bufio.NewReaderSize(l.r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if bytes.Equal(line, logMark) {
			close(l.marked)
			continue
		}
		if len(line) > 0 {
			dst.Write(line)
		}
		if err != nil {
			return
		}
	}
}

// sync writes our mark after everything init has written so far, closes
// our write end and waits until the mark is through: the lines init wrote
// before it reported to us are in the log when we return. Later lines keep
// flowing while we live. Safe to call more than once.
func (l *logRelay) sync() {
	l.once.Do(func() {
		_, err := l.w.Write(logMark)
		l.w.Close()
		if err != nil {
			return
		}
		select {
		case <-l.marked:
		case <-l.done:
		}
	})
}

// wait waits at most d for init's last lines (EOF: it exec'd or died).
func (l *logRelay) wait(d time.Duration) {
	l.sync()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.done:
	case <-t.C:
	}
}

// WaitInitLogs waits at most d for the last log lines of the init this
// runtime started (those it writes after `start`, up to its execve), so
// that `run` has them in the log before it returns.
func (r *Runtime) WaitInitLogs(d time.Duration) {
	if r.initLogs != nil {
		r.initLogs.wait(d)
	}
}
