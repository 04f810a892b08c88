package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDetachKeys is podman's and docker's detach sequence.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads --detach-keys as podman: a comma-separated list
// of single characters or ctrl-X (X one of a-z @ [ \ ] ^ _). "" disables
// detaching.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case len(k) == 6 && strings.HasPrefix(strings.ToLower(k), "ctrl-"):
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= 'A' && c <= 'Z':
				out = append(out, c-'A'+1)
			case strings.IndexByte("@[\\]^_", c) >= 0:
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("--detach-keys %q: %q: ctrl- takes a-z, @, [, \\, ], ^ or _", s, k)
			}
		default:
			return nil, fmt.Errorf("--detach-keys %q: %q is neither one character nor ctrl-X", s, k)
		}
	}
	return out, nil
}

// AttachOptions for Attach.
type AttachOptions struct {
	// Keys is the detach sequence (none: no detaching); Input is read
	// for it (nil: not read) and, for a container run with -d -i, passed
	// on to its stdin; without -i it goes nowhere.
	Keys           []byte
	Input          io.Reader
	Stdout, Stderr io.Writer
}

// ErrDetached is returned by Attach when the detach keys were typed.
var ErrDetached = errors.New("detached")

// Attach connects to a running detached container's output from now on
// (the monitor's log stream) until the container exits, returning its
// exit code, or until the detach keys come on Input (ErrDetached).
func (cs *Manager) Attach(r *Record, o AttachOptions) (int, error) {
	if !cs.IsRunning(r) || r.Status != StatusRunning {
		return -1, fmt.Errorf("container %s is not running: you can only attach to running containers", r.Name)
	}
	st, err := os.Stat(r.LogPath)
	if err != nil {
		return -1, fmt.Errorf("container %s has no output stream to attach to (a -t container's terminal belongs to its foreground run): %w", r.Name, err)
	}
	stop := make(chan struct{})
	defer close(stop)
	started := r.StartedAt
	// The container's run ends when it exits or is restarted.
	ended := func() bool {
		cur, err := cs.Load(r.ID)
		return err != nil || !cs.IsRunning(cur) || !cur.StartedAt.Equal(started)
	}
	logDone := make(chan error, 1)
	go func() { logDone <- readLogsFrom(r.LogPath, st.Size(), true, ended, stop, o.Stdout, o.Stderr) }()
	detach := make(chan struct{})
	if o.Input != nil {
		var dst io.Writer = io.Discard
		if r.OpenStdin {
			w, err := cs.openStdinWriter(r)
			if err != nil {
				return -1, err
			}
			defer w.Close()
			dst = w
		}
		go copyInput(dst, o.Input, o.Keys, detach)
	}
	select {
	case <-detach:
		return 0, ErrDetached
	case err := <-logDone:
		if err != nil {
			return -1, err
		}
	}
	cur, err := cs.Load(r.ID)
	if err != nil {
		return -1, err
	}
	if !cur.StartedAt.Equal(started) {
		return cur.ExitCode, nil // restarted: the run we attached to is over
	}
	return cs.Wait(cur, 100*time.Millisecond)
}

// copyInput copies in to dst (io.Discard: only watched) until EOF,
// holding back what may begin keys; it closes detach once keys arrive in
// a row. Keys begun but not completed are passed on.
func copyInput(dst io.Writer, in io.Reader, keys []byte, detach chan<- struct{}) {
	buf := make([]byte, 256)
	matched := 0
	for {
		n, err := in.Read(buf)
		var out []byte
		for _, b := range buf[:n] {
			switch {
			case len(keys) > 0 && b == keys[matched]:
				matched++
			default:
				out = append(out, keys[:matched]...)
				matched = 0
				if len(keys) > 0 && b == keys[0] {
					matched = 1
				} else {
					out = append(out, b)
				}
			}
			if len(keys) > 0 && matched == len(keys) {
				dst.Write(out)
				close(detach)
				return
			}
		}
		if err != nil {
			out = append(out, keys[:matched]...) // the input ended mid-sequence
		}
		if len(out) > 0 {
			if _, werr := dst.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stdinFifo is where a -d -i container reads its stdin from.
func (cs *Manager) stdinFifo(id string) string { return filepath.Join(cs.Dir(id), "stdin") }

// openStdinFifo makes the stdin fifo of a -d -i container and opens it
// for the container: read-write, so the container never reads EOF
// between attaches (podman keeps a -i container's stdin open too).
func (cs *Manager) openStdinFifo(id string) (*os.File, error) {
	p := cs.stdinFifo(id)
	if err := unix.Mkfifo(p, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("stdin fifo: %w", err)
	}
	return os.OpenFile(p, os.O_RDWR, 0)
}

// openStdinWriter opens the stdin of a running -d -i container for
// attach; it fails rather than blocks when no container reads it.
func (cs *Manager) openStdinWriter(r *Record) (*os.File, error) {
	fd, err := unix.Open(cs.stdinFifo(r.ID), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s: stdin: %w", r.Name, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), cs.stdinFifo(r.ID)), nil
}
