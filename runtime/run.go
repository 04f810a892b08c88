package main

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"os/signal"
	"time"
	"unsafe"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/myrun-org/myrun/libcontainer"
	"github.com/myrun-org/myrun/libcontainer/console"
	"github.com/myrun-org/myrun/libcontainer/nsexec"
)

func runCommand() *cli.Command {
	one := 1
	return &cli.Command{
		Name:         "run",
		Usage:        "create and run a container",
		ArgsUsage:    "<container-id>",
		Description:  "run is create and start in one: in the foreground it relays signals and the terminal and exits with the process's status, then deletes the container (unless --keep); with -d it returns once the process runs." + bundleHelp,
		StopOnNthArg: &one,
		Flags: append(createFlags(),
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
			&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
			&cli.BoolFlag{Name: "no-subreaper", Usage: "do not stay the reaper of processes orphaned in the container (we still wait for its init)"},
		),
		Action: runAction,
	}
}

// runAction runs the container in the foreground (or detached with -d).
func runAction(ctx context.Context, cmd *cli.Command) error {
	if err := exactArgs(cmd, 1, "<container-id>"); err != nil {
		return err
	}
	r, err := newRuntime(cmd)
	if err != nil {
		return err
	}
	o := createOpts(cmd, cmd.Args().First())
	r.RelayInitLogs = true
	if cmd.Bool("detach") {
		return runDetached(r, cmd, o)
	}
	// In the foreground we wait for the container's init, which
	// the constructor may have forked: become its reaper.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return err
	}
	var tty *ttyProxy
	if o.ConsoleSocket == "" {
		if tty, err = newTTYProxy(); err != nil {
			return err
		}
		defer tty.close()
		o.ConsoleConn = tty.remote
	}
	// No signal.Stop: we exit right after, and unregistering
	// every signal costs a thread round trip each (~0.3 ms).
	sigs := forwardSignals()
	initPid, err := createAndSend(r, cmd, o)
	if err != nil {
		return err
	}
	if cmd.Bool("no-subreaper") {
		// Init was reparented to us during create (the
		// constructor forks for a pid namespace); from now on
		// orphans go to our own reaper, as with runc's flag.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			return err
		}
	}
	if tty != nil {
		tty.remote.Close()
		tty.startIfSent()
	}
	if err := r.Start(o.ID); err != nil {
		r.Delete(o.ID, true)
		return err
	}
	code := waitForeground(initPid, sigs, tty)
	r.WaitInitLogs(time.Second)
	if !cmd.Bool("keep") {
		if err := r.Delete(o.ID, true); err != nil {
			r.Log.Warn("delete after run", "error", err)
		}
	}
	return exitCodeErr(code)
}

// runDetached creates and starts the container and returns once its
// process runs.
func runDetached(r *libcontainer.Runtime, cmd *cli.Command, o libcontainer.CreateOpts) error {
	if _, err := createAndSend(r, cmd, o); err != nil {
		return err
	}
	if err := r.Start(o.ID); err != nil {
		r.Delete(o.ID, true)
		return err
	}
	// Init's lines after start (hooks, execve) come within
	// moments; bounded, as hooks may run long.
	r.WaitInitLogs(time.Second)
	return nil
}

func exitCodeErr(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code: code}
}

// signals is what run, exec and restore catch in the foreground: fwd the
// signals to pass to the process, chld the wake-ups to reap.
type signals struct {
	fwd, chld chan os.Signal
}

// forwardSignals catches every signal so it can be passed to the
// container. SIGCHLD has a channel of its own: os/signal drops a signal
// its channel has no room for, and SIGCHLD is the only news that the
// process ended. A one-slot channel cannot lose that news (a full one
// already holds it, and each wake-up reaps every child). SIGURG, the Go
// runtime's preemption signal, is not caught at all: it is meant for
// nobody, and on a slow host (the VM lane under TCG) enough of them
// filled a shared channel that the SIGCHLD behind them was dropped and
// `exec` waited forever beside its zombie (TestWaitForegroundAfterSignalFlood).
//
// os/signal enables each signal by a round trip to its own locked thread
// (it unblocks the signal there). This runs with one P (main.go's init):
// with a second P idle, every hop also woke a spinning thread. The
// signals the constructor blocked on every thread wait in the kernel for
// waitForeground's signalfd instead; os/signal takes the rest
// (nsexec/sigfwd.go).
func forwardSignals() *signals {
	s := &signals{fwd: make(chan os.Signal, 128), chld: make(chan os.Signal, 1)}
	signal.Notify(s.chld, unix.SIGCHLD)
	signal.Notify(s.fwd, notifiedSignals(nsexec.ForwardBlocked())...)
	return s
}

// readBlockedSignals starts passing the signals the constructor blocked
// to sigs, from a signalfd. Started once the process runs: until then
// they stay pending, and a reader goroutine started earlier costs a
// thread. Without a signalfd os/signal takes them too (it unblocks them
// on its own thread, where they are delivered).
func readBlockedSignals(sigs chan os.Signal) {
	if blocked := nsexec.ForwardBlocked(); blocked != 0 && readSignalfd(blocked, sigs) != nil {
		signal.Notify(sigs, notifiedSignals(0)...)
	}
}

// notifiedSignals lists the signals os/signal takes for fwd when the ones
// in blocked come from a signalfd: all others but SIGCHLD (its own
// channel) and SIGURG (forwardSignals).
func notifiedSignals(blocked uint64) []os.Signal {
	var out []os.Signal
	for s := unix.Signal(1); s <= 64; s++ {
		if blocked&(1<<(s-1)) == 0 && s != unix.SIGCHLD && s != unix.SIGURG && s != unix.SIGKILL && s != unix.SIGSTOP {
			out = append(out, s)
		}
	}
	return out
}

// readSignalfd passes the signals in mask, which every thread blocks, from
// a signalfd to sigs. The fd is non-blocking, so the reader waits in the
// poller, not on a thread of its own.
func readSignalfd(mask uint64, sigs chan<- os.Signal) error {
	fd, err := unix.Signalfd(-1, nsexec.Sigset(mask), unix.SFD_NONBLOCK|unix.SFD_CLOEXEC)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), "signalfd")
	go func() {
		const size = int(unsafe.Sizeof(unix.SignalfdSiginfo{}))
		buf := make([]byte, 16*size)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+size <= n; off += size {
				sigs <- unix.Signal(binary.NativeEndian.Uint32(buf[off:]))
			}
		}
	}()
	return nil
}

// waitForeground reaps children until pid exits, forwarding signals to it,
// and returns its exit code the way a shell reports it.
func waitForeground(pid int, sigs *signals, tty *ttyProxy) int {
	readBlockedSignals(sigs.fwd)
	for {
		select {
		case <-sigs.chld:
			if code, done := reap(pid, tty); done {
				return code
			}
		case s := <-sigs.fwd:
			sig, ok := s.(unix.Signal)
			if !ok {
				continue
			}
			if sig == unix.SIGWINCH {
				if tty != nil {
					tty.resize()
				}
				continue
			}
			unix.Kill(pid, sig)
		}
	}
}

// reap collects every exited child; done once pid is among them, with its
// exit code the way a shell reports it.
func reap(pid int, tty *ttyProxy) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || wpid <= 0 {
			return 0, false
		}
		if wpid != pid {
			continue
		}
		if tty != nil {
			tty.drain()
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ws.ExitStatus(), true
	}
}

// ttyProxy gives `run` without --console-socket a terminal: it receives the
// pty master from init and copies it to and from our stdio.
type ttyProxy struct {
	local, remote *os.File
	master        *os.File
	restore       *term.State
	done          chan struct{}
}

func newTTYProxy() (*ttyProxy, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &ttyProxy{local: os.NewFile(uintptr(fds[0]), "console-local"), remote: os.NewFile(uintptr(fds[1]), "console-remote")}, nil
}

// startIfSent picks up the master if init sent one (terminal: true).
func (t *ttyProxy) startIfSent() {
	unix.SetNonblock(int(t.local.Fd()), true)
	m, err := console.RecvFd(t.local)
	if err != nil {
		return
	}
	t.master = m
	if term.IsTerminal(int(os.Stdin.Fd())) {
		t.restore, _ = makeRawKeepOutput(int(os.Stdin.Fd()))
		t.resize()
	}
	t.done = make(chan struct{})
	go io.Copy(m, os.Stdin)
	go func() {
		io.Copy(os.Stdout, m)
		close(t.done)
	}()
}

// makeRawKeepOutput puts our terminal in raw mode for input (keys go to
// the container's pty as typed) but keeps its output processing, as runc
// does: the container's pty has ONLCR off, so "\n" becomes "\r\n" once,
// on our terminal.
func makeRawKeepOutput(fd int) (*term.State, error) {
	st, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	orig, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	if _, err := term.MakeRaw(fd); err != nil {
		return nil, err
	}
	raw, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return st, err
	}
	raw.Oflag = orig.Oflag
	return st, unix.IoctlSetTermios(fd, unix.TCSETS, raw)
}

func (t *ttyProxy) resize() {
	if t.master == nil {
		return
	}
	if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
		unix.IoctlSetWinsize(int(t.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// drain waits for the output copy to finish once the process exited; a
// leftover process holding the pty open must not hang us.
func (t *ttyProxy) drain() {
	if t.done != nil {
		select {
		case <-t.done:
		case <-time.After(time.Second):
		}
	}
}

func (t *ttyProxy) close() {
	if t.restore != nil {
		term.Restore(int(os.Stdin.Fd()), t.restore)
	}
	t.local.Close()
	if t.master != nil {
		t.master.Close()
	}
}
