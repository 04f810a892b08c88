package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/myrun-org/myrun/imgtool/container"
)

// attachCommand is `myimg attach`: a detached container's output from
// now on, its exit code at the end; the detach keys leave it running.
func attachCommand() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "Attach to a running detached container's output",
		ArgsUsage: "NAME|ID",
		Description: `Shows what the container writes from now on (its stdout and stderr as the
monitor logs them, line by line) until it exits, then exits with its exit
code. The detach keys (default ctrl-p,ctrl-q) leave it running. A
container run with -d -t has its terminal's output shown, and gets the
size of ours; our terminal is then raw (ctrl-c goes to it as a key). Input other
than the detach keys goes to the container's stdin if it was run with
-d -i (a begun key sequence that breaks off is passed on whole); without
-i it goes nowhere. --no-stdin reads no input at all. With --sig-proxy (default) SIGINT, SIGTERM,
SIGHUP and SIGQUIT go to the container.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "detach-keys", Value: container.DefaultDetachKeys, Usage: "key `sequence` that detaches (ctrl-X or single characters, comma-separated; \"\" disables)"},
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not read stdin (no detach keys)"},
			&cli.BoolFlag{Name: "sig-proxy", Value: true, Usage: "pass received signals to the container"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if err := needArgs(cmd, 1, 1); err != nil {
				return err
			}
			keys, err := container.ParseDetachKeys(cmd.String("detach-keys"))
			if err != nil {
				return err
			}
			cs, r, err := lookupContainer(cmd)
			if err != nil {
				return err
			}
			o := container.AttachOptions{Keys: keys, Stdout: os.Stdout, Stderr: os.Stderr}
			if r.TTY {
				stopResize := followSize(cs, r)
				defer stopResize()
			}
			var restore func()
			o.Input, restore = attachInput(cmd.Bool("no-stdin"), r.TTY)
			defer restore()
			if cmd.Bool("sig-proxy") {
				sigs := make(chan os.Signal, 4)
				signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
				defer signal.Stop(sigs)
				go func() {
					for s := range sigs {
						cs.Kill(r, unix.SignalName(s.(syscall.Signal)))
					}
				}()
			}
			code, err := cs.Attach(r, o)
			if errors.Is(err, container.ErrDetached) {
				return nil
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// followSize gives a -d -t container our terminal's size, now and on
// every SIGWINCH, until the returned func is called.
func followSize(cs *container.Manager, r *container.Record) func() {
	send := func() {
		if ws, err := unix.IoctlGetWinsize(int(os.Stdout.Fd()), unix.TIOCGWINSZ); err == nil && ws.Row > 0 {
			cs.Resize(r, ws.Row, ws.Col)
		}
	}
	send()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGWINCH)
	go func() {
		for range sigs {
			send()
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// attachInput is what attach reads (nil with --no-stdin), with our
// terminal set for it; restore sets the terminal back.
func attachInput(noStdin, tty bool) (in io.Reader, restore func()) {
	restore = func() {}
	fd := int(os.Stdin.Fd())
	switch {
	case noStdin:
		return nil, restore
	case tty && term.IsTerminal(fd):
		// The container's terminal does the echo and line editing,
		// ctrl-c included.
		if old, err := term.MakeRaw(fd); err == nil {
			restore = func() { term.Restore(fd, old) }
		}
		return os.Stdin, restore
	}
	// Keys one by one, unechoed, ctrl-q not taken as XON; ctrl-c stays a
	// signal (proxied).
	if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		t := *old
		t.Lflag &^= unix.ICANON | unix.ECHO
		t.Iflag &^= unix.IXON
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		if unix.IoctlSetTermios(fd, unix.TCSETS, &t) == nil {
			restore = func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }
		}
	}
	return os.Stdin, restore
}
