package container

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// MonitorCommand is the hidden myimg subcommand a detached monitor runs.
const MonitorCommand = "container-monitor"

// StartDetached starts the monitor of r as a new session (`self args...
// container-monitor ID`, self being our own executable) and waits until
// it reports the container running or failing.
func (cs *Manager) StartDetached(r *Record, self string, args []string) error {
	rp, wp, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rp.Close()
	logf, err := os.OpenFile(filepath.Join(cs.Dir(r.ID), "monitor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		wp.Close()
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, append(args, MonitorCommand, r.ID)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{wp}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		wp.Close()
		return fmt.Errorf("start monitor: %w", err)
	}
	wp.Close()
	done := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(rp).ReadString('\n')
		done <- strings.TrimSpace(line)
	}()
	var msg string
	select {
	case msg = <-done:
	case <-time.After(2 * time.Minute):
		msg = "error: monitor did not report within 2 minutes"
	}
	// The monitor outlives us: never wait for it.
	cmd.Process.Release()
	if msg == "ok" {
		return nil
	}
	if msg == "" {
		msg = "error: monitor exited without reporting (see " + filepath.Join(cs.Dir(r.ID), "monitor.log") + ")"
	}
	return fmt.Errorf("%s", strings.TrimPrefix(msg, "error: "))
}

// ServeMonitor is the body of the hidden monitor command: it runs the
// container, reporting "ok" or "error: ..." on ready, and removes the
// container at the end when it was started with --rm.
func (cs *Manager) ServeMonitor(id string, ready *os.File) error {
	report := func(err error) {
		if ready == nil {
			return
		}
		if err != nil {
			fmt.Fprintf(ready, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Fprintln(ready, "ok")
		}
		ready.Close()
		ready = nil
	}
	code, err := cs.Monitor(id, nil, report)
	for err == nil && cs.restartWanted(id, code) {
		code, err = cs.Monitor(id, nil, report)
	}
	r, lerr := cs.Load(id)
	if lerr == nil && (r.AutoRemove || err != nil) {
		// A container that never ran is removed as if it never was.
		cs.Remove(id, RemoveOptions{Force: true})
	}
	return err
}
