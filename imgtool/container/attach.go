package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
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
	// for it (nil: not read). A detached container has no stdin of its
	// own, so other input goes nowhere.
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
	if o.Input != nil && len(o.Keys) > 0 {
		go watchKeys(o.Input, o.Keys, detach)
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

// watchKeys closes detach once keys arrive in a row on in.
func watchKeys(in io.Reader, keys []byte, detach chan<- struct{}) {
	buf := make([]byte, 256)
	matched := 0
	for {
		n, err := in.Read(buf)
		for _, b := range buf[:n] {
			switch {
			case b == keys[matched]:
				matched++
			case b == keys[0]:
				matched = 1
			default:
				matched = 0
			}
			if matched == len(keys) {
				close(detach)
				return
			}
		}
		if err != nil {
			return
		}
	}
}
