package overlay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/internal/procstat"
)

// StartFuse mounts lowers (bottom-first) with upper and work at target
// with the fuse-overlayfs program kept in the foreground (-f) in a
// session of its own, so that its pid is known: pidFile gets "PID
// START PROGRAM" (start time in clock ticks) as soon as it runs, before the
// mount is there, and StopFuse ends that process. Its output goes to
// logFile. opt is storage.conf's mountopt, given after the directories;
// one fuse-overlayfs says it ignored is an *OptError. On error nothing
// is left running or mounted.
func StartFuse(program string, lowers []string, upper, work, target, opt, pidFile, logFile string) error {
	opts, err := fuseOpts(lowers, upper, work, target, opt)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(program, "-f", "-o", opts, target)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, log, log
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", program, err)
	}
	// Its start time is read before anything reaps it: a program that
	// exits at once is a zombie then, whose stat is still there.
	pid := cmd.Process.Pid
	start, _, serr := procstat.StartTime(pid)
	// exited is closed once the program is reaped, waitErr set before.
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	if serr == nil {
		serr = os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %d %s", pid, start, program)), 0o600)
	}
	if serr == nil {
		serr = waitMounted(target, exited, &waitErr)
	}
	var optErr error
	if serr == nil {
		out, _ := os.ReadFile(logFile)
		serr = fuseOptsIgnored(opt, string(out))
		optErr = serr
	}
	if serr != nil {
		cmd.Process.Kill()
		<-exited
		Unmount(target)
		os.Remove(pidFile)
		if optErr != nil {
			return optErr
		}
		if out, _ := os.ReadFile(logFile); len(strings.TrimSpace(string(out))) > 0 {
			serr = fmt.Errorf("%w: %s", serr, strings.TrimSpace(string(out)))
		}
		return fmt.Errorf("%s on %s: %w", filepath.Base(program), target, serr)
	}
	return nil
}

// waitMounted polls until target is a mount point, the program exits,
// or 30 s pass.
func waitMounted(target string, exited <-chan struct{}, waitErr *error) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if IsMounted(target) {
			return nil
		}
		select {
		case <-exited:
			if IsMounted(target) {
				return errors.New("it exited after mounting (daemonized?)")
			}
			return fmt.Errorf("exited without mounting: %v", *waitErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return errors.New("no mount after 30s")
}

// StopFuse unmounts target and ends the fuse-overlayfs process pidFile
// names (only if it is still that process: pid and start time), waiting
// for it to go; then pidFile is removed. No pidFile: only the unmount.
func StopFuse(target, pidFile string) error {
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return Unmount(target)
	}
	if err != nil {
		return err
	}
	uerr := Unmount(target)
	pid, start, _, err := ReadFusePid(b)
	if err != nil {
		return fmt.Errorf("%s: %w", pidFile, err)
	}
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if !procstat.Alive(pid, start) {
			break
		}
		syscall.Kill(pid, sig)
		for j := 0; j < 500 && procstat.Alive(pid, start); j++ {
			time.Sleep(10 * time.Millisecond)
		}
		if i == 1 && procstat.Alive(pid, start) {
			return fmt.Errorf("fuse-overlayfs (pid %d) did not exit on SIGKILL", pid)
		}
	}
	if uerr != nil {
		return uerr
	}
	return os.Remove(pidFile)
}

// ReadFusePid parses a pid file StartFuse wrote.
func ReadFusePid(b []byte) (pid int, start uint64, program string, err error) {
	f := strings.SplitN(strings.TrimSpace(string(b)), " ", 3)
	if len(f) < 2 {
		return 0, 0, "", fmt.Errorf("bad contents %q", b)
	}
	pid, perr := strconv.Atoi(f[0])
	start, serr := strconv.ParseUint(f[1], 10, 64)
	if perr != nil || serr != nil || pid <= 0 {
		return 0, 0, "", fmt.Errorf("bad contents %q", b)
	}
	if len(f) == 3 {
		program = f[2]
	}
	return pid, start, program, nil
}
