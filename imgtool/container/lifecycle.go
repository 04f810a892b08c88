package container

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
	"github.com/myrun-org/myrun/imgtool/runner"
	"github.com/myrun-org/myrun/imgtool/unpack"
)

// monitorAlive reports whether the container's monitor still runs.
// Our own pid is never "the monitor" here: a monitor removing its own
// container (--rm) must not wait for or kill itself.
func monitorAlive(r *Record) bool {
	return r.MonitorPid != os.Getpid() && alive(r.MonitorPid, r.MonitorTime)
}

// IsRunning is true while the container (or its monitor) is up.
func (cs *Manager) IsRunning(r *Record) bool {
	if r.Status == StatusExited {
		return false
	}
	if monitorAlive(r) {
		return true
	}
	st := cs.runtimeStatus(r)
	return st == "running" || st == "created" || st == "paused"
}

// Status is the human status for ps, as podman 4.3 words it: "Up 3
// minutes ago", "Exited (1) 2 seconds ago", "Created", or a note that
// the monitor is gone.
func (cs *Manager) Status(r *Record) string {
	switch {
	case r.Status == StatusExited:
		return fmt.Sprintf("Exited (%d) %s", r.ExitCode, since(r.FinishedAt))
	case r.Status == StatusRunning && monitorAlive(r):
		if h := HealthStatus(r); h != "" {
			return "Up " + since(r.StartedAt) + " (" + h + ")"
		}
		return "Up " + since(r.StartedAt)
	case r.Status == StatusCreating && monitorAlive(r):
		return "Starting"
	}
	if cs.runtimeStatus(r) == "running" {
		return "Up " + since(r.StartedAt) + " (monitor lost)"
	}
	if r.Status == StatusCreating {
		return "Created"
	}
	return "Exited (unknown: monitor lost)"
}

func since(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return HumanDuration(time.Since(t)) + " ago"
}

// HumanDuration words d as podman 4.3 does in ps, images and history
// (the Docker go-units rule): seconds under a minute, then minutes,
// hours (under 48), days (under two weeks), weeks (under two 30-day
// months), months (under two 365-day years), years.
func HumanDuration(d time.Duration) string {
	s, m, h := int(d.Seconds()), int(d.Minutes()), int(d.Hours()+0.5)
	switch {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 14*24:
		return fmt.Sprintf("%d days", h/24)
	case h < 60*24:
		return fmt.Sprintf("%d weeks", h/(7*24))
	case h < 730*24:
		return fmt.Sprintf("%d months", h/(30*24))
	}
	return fmt.Sprintf("%d years", int(d.Hours())/(365*24))
}

// signalName turns SIGTERM, TERM or 15 into what the runtime's kill takes.
func signalName(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "TERM"
	}
	return strings.TrimPrefix(s, "SIG")
}

// Kill sends a signal to the container's init through the runtime.
func (cs *Manager) Kill(r *Record, sig string) error {
	out, err := cs.runtime(r).Command("kill", r.ID, signalName(sig)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kill %s: %v: %s", signalName(sig), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitExited polls until the container is no longer running.
func (cs *Manager) waitExited(id string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		r, err := cs.Load(id)
		if err != nil || !cs.IsRunning(r) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends the image's stop signal, then SIGKILL after timeout, and
// waits for the exit to be recorded. Stopping a stopped container is
// not an error.
func (cs *Manager) Stop(r *Record, timeout time.Duration) error {
	// Before anything: the monitor must not restart what we stop.
	cs.Update(r.ID, func(r *Record) { r.StopRequested = true })
	if !cs.IsRunning(r) {
		return nil
	}
	if err := cs.Kill(r, r.StopSignal); err != nil && cs.IsRunning(r) && cs.runtimeStatus(r) != "" {
		return err
	}
	if !cs.waitExited(r.ID, timeout) {
		cs.Kill(r, "KILL")
		if !cs.waitExited(r.ID, 10*time.Second) {
			return fmt.Errorf("container %s did not exit after SIGKILL", ShortID(r.ID))
		}
	}
	// Without a monitor nobody recorded the exit: do it here.
	if cur, err := cs.Load(r.ID); err == nil && cur.Status != StatusExited {
		cs.runtime(r).Delete(r.ID)
		cs.finish(cur, -1, "monitor lost: exit code unknown")
	}
	return nil
}

// RemoveOptions for Remove.
type RemoveOptions struct {
	Force    bool // kill a running container first
	KeepLogs bool
}

// Remove deletes every trace of a container: runtime state, monitor and
// slirp4netns processes, network (veth, netns, iptables rules, lease),
// cgroups, overlay mount and bundle, log and record. It works from the
// record and from what exists, so it also cleans up after a crash, and
// running it twice is fine.
func (cs *Manager) Remove(id string, o RemoveOptions) error {
	r, err := cs.quiesce(id, o)
	if err != nil {
		return err
	}
	errs := cs.removeTraces(id, r)
	if !o.KeepLogs {
		lp := r.LogPath
		if lp == "" {
			lp = filepath.Join(cs.LogDir, id+".log")
		}
		if err := os.Remove(lp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Keep the record so a second rm can retry.
		return fmt.Errorf("removing container %s: %w", ShortID(id), errors.Join(errs...))
	}
	return os.RemoveAll(cs.Dir(id))
}

// quiesce loads what is known of the container and stops what runs of
// it: the container (only with Force) and its monitor, which may first
// record the exit.
func (cs *Manager) quiesce(id string, o RemoveOptions) (*Record, error) {
	r, err := cs.Load(id)
	if err != nil {
		if _, serr := os.Stat(cs.Dir(id)); serr != nil {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		r = &Record{ID: id} // a crash before the first save
	} else {
		cs.Update(id, func(r *Record) { r.StopRequested = true }) // no restart
	}
	if r.Runtime == "" {
		r.Runtime = findRuntimeFallback()
	}
	if cs.IsRunning(r) {
		if !o.Force {
			return nil, fmt.Errorf("container %s is running: stop it first or use rm -f", ShortID(id))
		}
		cs.Kill(r, "KILL")
		// Give the monitor the chance to record the exit and clean up.
		if monitorAlive(r) && !cs.waitExited(id, 5*time.Second) {
			killVerified(r.MonitorPid, r.MonitorTime, syscall.SIGKILL)
		}
	}
	if cur, err := cs.Load(id); err == nil {
		r = cur
		if r.Runtime == "" {
			r.Runtime = findRuntimeFallback()
		}
	}
	if r.MonitorPid != os.Getpid() {
		// A monitor that recorded the exit is about to leave by itself.
		for i := 0; i < 40 && r.Status == StatusExited && monitorAlive(r); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		killVerified(r.MonitorPid, r.MonitorTime, syscall.SIGKILL)
	}
	return r, nil
}

// removeTraces removes the container's runtime state, helper processes,
// network, cgroup and bundle; the errors are the caller's to report.
func (cs *Manager) removeTraces(id string, r *Record) []error {
	var errs []error
	if r.Runtime != "" {
		cs.runtime(r).Delete(id)
	}
	if err := os.RemoveAll(filepath.Join(cs.StateRoot(), id)); err != nil {
		errs = append(errs, err)
	}
	if r.Network.SlirpPid > 0 {
		killVerified(r.Network.SlirpPid, r.Network.SlirpTime, syscall.SIGKILL)
	}
	if r.PausePid > 0 {
		killVerified(r.PausePid, r.PauseTime, syscall.SIGKILL)
	}
	if r.Network.APISocket != "" {
		os.Remove(r.Network.APISocket)
	}
	if r.Network.IPAMDir == "" {
		r.Network.IPAMDir = cs.IPAMDir()
	}
	if err := r.Network.ReleaseBridge(id); err != nil {
		errs = append(errs, fmt.Errorf("network: %w", err))
	}
	if err := cs.syncNetworkHosts(r.Network); err != nil {
		errs = append(errs, fmt.Errorf("network %s: hosts files: %w", r.Network.Name, err))
	}
	for _, a := range r.Connected {
		if a.IPAMDir == "" {
			a.IPAMDir = cs.IPAMDir()
		}
		if err := errors.Join(a.ReleaseConnected(id), cs.syncNetworkHosts(a)); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", a.Name, err))
		}
	}
	cg := r.CgroupsPath
	if cg == "" {
		cg = CgroupParent + "/" + id
	}
	removeCgroup(cg)
	bundle := r.Bundle
	if bundle == "" {
		bundle = filepath.Join(cs.Dir(id), "bundle")
	}
	if err := removeInNS(r, filepath.Join(bundle, "rootfs")); err != nil {
		errs = append(errs, err)
	}
	if err := unpack.RemoveForce(cs.Images, bundle); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// RuntimeFallback is used when a record lost its runtime path; set by
// the CLI to its runtime discovery.
var RuntimeFallback func() string

func findRuntimeFallback() string {
	if RuntimeFallback != nil {
		return RuntimeFallback()
	}
	return ""
}

// Exec runs args in the running container with our stdio and returns
// its exit code.
func (cs *Manager) Exec(r *Record, args []string, tty bool, env []string, user, cwd string) (int, error) {
	if !cs.IsRunning(r) || cs.runtimeStatus(r) != "running" {
		return -1, fmt.Errorf("container %s is not running", ShortID(r.ID))
	}
	a := []string{"exec"}
	if tty {
		a = append(a, "--tty")
	}
	for _, e := range env {
		a = append(a, "--env", e)
	}
	if user != "" {
		a = append(a, "--user", user)
	}
	if cwd != "" {
		a = append(a, "--cwd", cwd)
	}
	a = append(append(a, r.ID), args...)
	cmd := cs.runtime(r).Command(a...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Leftovers lists what of container id still exists on the host (for
// tests and `rm` diagnostics): veth, netns, iptables rules, cgroup dirs,
// mounts, runtime state, lease, directory.
func (cs *Manager) Leftovers(id string) []string {
	var out []string
	if network.LinkExists(network.VethName(id)) {
		out = append(out, "veth "+network.VethName(id))
	}
	for k := 1; k <= maxConnected; k++ {
		if v := network.ConnectedVethName(id, k); network.LinkExists(v) {
			out = append(out, "veth "+v)
		}
	}
	if _, err := os.Stat(filepath.Join(network.NetnsDir, id)); err == nil {
		out = append(out, "netns "+filepath.Join(network.NetnsDir, id))
	}
	if os.Geteuid() == 0 {
		for _, t := range []string{"nat", "filter"} {
			rules, _ := network.RulesWithComment(t, network.Comment(id))
			for _, l := range rules {
				out = append(out, "iptables -t "+t+" "+l)
			}
		}
	}
	for _, d := range runner.CgroupDirs(CgroupParent + "/" + id) {
		out = append(out, "cgroup "+d)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, id) {
				out = append(out, "mount "+l)
			}
		}
	}
	for _, p := range []string{filepath.Join(cs.StateRoot(), id), cs.Dir(id), filepath.Join(cs.LogDir, id+".log")} {
		if _, err := os.Stat(p); err == nil {
			out = append(out, "path "+p)
		}
	}
	files, _ := filepath.Glob(filepath.Join(cs.IPAMDir(), "ipam-*.json"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), id) {
			out = append(out, "lease in "+f)
		}
	}
	return out
}
