package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/myrun-org/myrun/imgtool/store"
)

// Health statuses, as podman shows them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Defaults of docker and podman for fields the image or flags leave 0.
const (
	healthInterval = 30 * time.Second
	healthTimeout  = 30 * time.Second
	healthRetries  = 3
	// healthLogs checks are kept, their output cut to healthOutput bytes.
	healthLogs   = 5
	healthOutput = 500
)

// HealthLog is one check, in podman's keys.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Health is the health state podman's inspect shows under State.Health.
type Health struct {
	Status        string      `json:"Status"`
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthFlags are run's --health-* flags; "" (nil for Retries) is unset.
type HealthFlags struct {
	Cmd, Interval, Timeout, StartPeriod string
	Retries                             *int
	Disable                             bool   // --no-healthcheck
	OnFailure                           string // --health-on-failure
}

// Actions of --health-on-failure (podman 4.3's), taken when a failed
// check leaves the container unhealthy.
const (
	HealthActionNone    = "none"
	HealthActionKill    = "kill"
	HealthActionStop    = "stop"
	HealthActionRestart = "restart"
)

// checkOnFailure validates --health-on-failure; restart needs the
// detached monitor, which does restarts.
func (h HealthFlags) checkOnFailure(hc bool, detach bool) (string, error) {
	switch h.OnFailure {
	case "", HealthActionNone:
		return "", nil
	case HealthActionKill, HealthActionStop, HealthActionRestart:
	default:
		return "", fmt.Errorf("--health-on-failure %q: want none, kill, restart or stop", h.OnFailure)
	}
	if !hc {
		return "", fmt.Errorf("--health-on-failure %s: the container has no healthcheck", h.OnFailure)
	}
	if h.OnFailure == HealthActionRestart && !detach {
		return "", fmt.Errorf("--health-on-failure restart needs -d: restarts are done by the detached container's monitor")
	}
	return h.OnFailure, nil
}

func (h HealthFlags) tuned() []string {
	var set []string
	for _, f := range [][2]string{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}, {"--health-start-period", h.StartPeriod}} {
		if f[1] != "" {
			set = append(set, f[0])
		}
	}
	if h.Retries != nil {
		set = append(set, "--health-retries")
	}
	return set
}

// ParseHealthCmd reads --health-cmd as podman: "none" disables, a JSON
// array is a command (CMD or CMD-SHELL first, else CMD is implied), any
// other string runs through /bin/sh -c.
func ParseHealthCmd(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--health-cmd: empty command")
	}
	if strings.EqualFold(s, "none") {
		return []string{"NONE"}, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var a []string
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return nil, fmt.Errorf("--health-cmd %q: not a JSON array of strings: %v", s, err)
		}
		if len(a) == 0 {
			return nil, fmt.Errorf("--health-cmd %q: empty command", s)
		}
		switch a[0] {
		case "CMD", "CMD-SHELL", "NONE":
		default:
			a = append([]string{"CMD"}, a...)
		}
		return a, checkTest(a, "--health-cmd")
	}
	return []string{"CMD-SHELL", s}, nil
}

// checkTest checks a Test array (the image's or --health-cmd's).
func checkTest(t []string, what string) error {
	switch {
	case len(t) == 0:
		return nil
	case t[0] == "NONE":
		return nil
	case t[0] == "CMD" && len(t) > 1:
		return nil
	case t[0] == "CMD-SHELL" && len(t) == 2:
		return nil
	}
	return fmt.Errorf("%s: healthcheck test %q: want [\"CMD\", ARGS...], [\"CMD-SHELL\", COMMAND] or [\"NONE\"]", what, t)
}

func parseHealthDuration(flag, v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q: not a duration (e.g. 30s, 1m)", flag, v)
	}
	if d < min {
		if min == 0 {
			return 0, fmt.Errorf("%s %q: must not be negative", flag, v)
		}
		return 0, fmt.Errorf("%s %q: must be at least %s", flag, v, min)
	}
	return d, nil
}

// resolveHealth merges the image's HEALTHCHECK with the flags and fills
// the defaults; nil means the container has no healthcheck. Interval 0
// in the result means no timer (--health-interval disable): checks run
// only through `myimg healthcheck run`.
func (h HealthFlags) resolve(img *store.HealthConfig) (*store.HealthConfig, error) {
	if h.Disable {
		if h.Cmd != "" || len(h.tuned()) > 0 {
			return nil, fmt.Errorf("--no-healthcheck with --health-cmd or --health-*: the healthcheck is either disabled or set")
		}
		return nil, nil
	}
	var c store.HealthConfig
	if img != nil {
		c = *img
		if err := checkTest(c.Test, "image"); err != nil {
			return nil, err
		}
	}
	if h.Cmd != "" {
		t, err := ParseHealthCmd(h.Cmd)
		if err != nil {
			return nil, err
		}
		c.Test = t
	}
	if len(c.Test) == 0 || c.Test[0] == "NONE" {
		if set := h.tuned(); len(set) > 0 {
			return nil, fmt.Errorf("%s: the container has no healthcheck (the image defines none and --health-cmd is not set)", strings.Join(set, ", "))
		}
		return nil, nil
	}
	if c.Interval == 0 {
		c.Interval = healthInterval
	}
	if c.Timeout == 0 {
		c.Timeout = healthTimeout
	}
	if c.Retries == 0 {
		c.Retries = healthRetries
	}
	var err error
	if h.Interval == "disable" {
		c.Interval = 0
	} else if h.Interval != "" {
		if c.Interval, err = parseHealthDuration("--health-interval", h.Interval, time.Second); err != nil {
			return nil, err
		}
	}
	if h.Timeout != "" {
		if c.Timeout, err = parseHealthDuration("--health-timeout", h.Timeout, time.Second); err != nil {
			return nil, err
		}
	}
	if h.StartPeriod != "" {
		if c.StartPeriod, err = parseHealthDuration("--health-start-period", h.StartPeriod, 0); err != nil {
			return nil, err
		}
	}
	if h.Retries != nil {
		if *h.Retries < 1 {
			return nil, fmt.Errorf("--health-retries %d: must be at least 1", *h.Retries)
		}
		c.Retries = *h.Retries
	}
	return &c, nil
}

// resetHealth starts a (re)started container's health at "starting";
// the log of earlier checks stays.
func resetHealth(r *Record) {
	if r.Healthcheck == nil {
		return
	}
	if r.Health == nil {
		r.Health = &Health{}
	}
	r.Health.Status, r.Health.FailingStreak = HealthStarting, 0
}

// HealthStatus is the container's health for ps ("" without a check).
func HealthStatus(r *Record) string {
	if r.Healthcheck == nil || r.Health == nil || r.Status == StatusExited {
		return ""
	}
	return r.Health.Status
}

// ErrUnhealthy is returned by HealthCheck when the check failed.
var ErrUnhealthy = errors.New("unhealthy")

// HealthCheck runs the container's healthcheck once (`myimg healthcheck
// run`, and the monitor's timer through it) and records the result. It
// returns ErrUnhealthy when the check failed.
func (cs *Manager) HealthCheck(ref *Record) error {
	r, err := cs.Load(ref.ID)
	if err != nil {
		return err
	}
	if r.Healthcheck == nil {
		return fmt.Errorf("container %s has no defined healthcheck", r.Name)
	}
	if r.Status != StatusRunning || !cs.IsRunning(r) || cs.runtimeStatus(r) != "running" {
		return fmt.Errorf("container %s is not running", r.Name)
	}
	hl := cs.runCheck(r)
	started := r.StartedAt
	act := ""
	if _, err := cs.Update(r.ID, func(c *Record) {
		if c.StartedAt.Equal(started) && c.Status == StatusRunning {
			recordCheck(c, hl)
			if hl.ExitCode != 0 && c.Health.Status == HealthUnhealthy {
				act = c.HealthOnFailure
				if act == HealthActionStop {
					c.StopRequested = true // no restart by the policy
				}
				if act == HealthActionRestart {
					c.HealthRestart = true
				}
			}
		}
	}); err != nil {
		return err
	}
	switch act {
	case HealthActionKill, HealthActionRestart:
		cs.Kill(r, "KILL")
	case HealthActionStop:
		// The monitor records the exit; SIGKILL if the signal is ignored.
		cs.Kill(r, r.StopSignal)
		if !cs.waitExited(r.ID, 10*time.Second) {
			cs.Kill(r, "KILL")
		}
	}
	if hl.ExitCode != 0 {
		return ErrUnhealthy
	}
	return nil
}

// recordCheck applies one result as podman: a success makes the
// container healthy; a failure counts only after the start period, and
// Retries failures in a row make it unhealthy.
func recordCheck(r *Record, hl HealthLog) {
	if r.Health == nil {
		r.Health = &Health{Status: HealthStarting}
	}
	h := r.Health
	if hl.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
	} else if hl.Start.Sub(r.StartedAt) >= r.Healthcheck.StartPeriod {
		h.FailingStreak++
		if h.FailingStreak >= r.Healthcheck.Retries {
			h.Status = HealthUnhealthy
		}
	}
	h.Log = append(h.Log, hl)
	if len(h.Log) > healthLogs {
		h.Log = h.Log[len(h.Log)-healthLogs:]
	}
}

// cappedBuffer keeps the first n bytes written to it.
type cappedBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// runCheck runs the test through the runtime's exec. On timeout the
// checked process is killed (by the pid the runtime wrote), then the
// exec itself if it does not return.
func (cs *Manager) runCheck(r *Record) HealthLog {
	hc := r.Healthcheck
	args := hc.Test[1:]
	if hc.Test[0] == "CMD-SHELL" {
		args = []string{"/bin/sh", "-c", hc.Test[1]}
	}
	pidFile := filepath.Join(cs.Dir(r.ID), fmt.Sprintf("health-%d.pid", os.Getpid()))
	defer os.Remove(pidFile)
	out := &cappedBuffer{max: healthOutput}
	cmd := cs.runtime(r).Command(append([]string{"exec", "--pid-file", pidFile, r.ID}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	hl := HealthLog{Start: time.Now().UTC()}
	if err := cmd.Start(); err != nil {
		hl.End, hl.ExitCode, hl.Output = time.Now().UTC(), -1, err.Error()
		return hl
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timedOut := false
	var err error
	select {
	case err = <-done:
	case <-time.After(hc.Timeout):
		timedOut = true
		if pid, perr := readPid(pidFile); perr == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			err = <-done
		}
	}
	hl.End = time.Now().UTC()
	var ee *exec.ExitError
	switch {
	case timedOut:
		hl.ExitCode = -1
		out.Write([]byte(fmt.Sprintf("healthcheck command exceeded timeout of %s", hc.Timeout)))
	case errors.As(err, &ee):
		hl.ExitCode = ee.ExitCode()
	case err != nil:
		hl.ExitCode = -1
		out.Write([]byte(err.Error()))
	}
	hl.Output = out.b.String()
	return hl
}

// healthTimer runs `self healthcheck run ID` every interval while the
// container runs (a process of its own: the monitor reaps every child,
// so it cannot wait for an exec of its own). stop ends the timer and
// waits for a check in progress.
func (cs *Manager) healthTimer(r *Record) (stop func()) {
	if r == nil || r.Healthcheck == nil || r.Healthcheck.Interval <= 0 {
		return func() {}
	}
	hc := r.Healthcheck
	self, err := os.Executable()
	if err != nil {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTimer(hc.Interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			cmd := exec.Command(self, "--root", cs.Images.Root, "healthcheck", "run", r.ID)
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if cmd.Start() == nil {
				st, _ := procStartTime(cmd.Process.Pid)
				waited := make(chan struct{})
				// Wait may find the child reaped by the monitor's wait loop:
				// only the end matters, the check recorded its result.
				go func() { cmd.Wait(); close(waited) }()
				select {
				case <-waited:
				case <-time.After(hc.Timeout + 30*time.Second):
					killVerified(cmd.Process.Pid, st, syscall.SIGKILL)
					<-waited
				}
			}
			t.Reset(hc.Interval)
		}
	}()
	return func() {
		close(quit)
		// A check in progress may be acting on the container (stop waits
		// for its exit, which we record after this): give it a moment,
		// never wait for it.
		select {
		case <-finished:
		case <-time.After(time.Second):
		}
	}
}
