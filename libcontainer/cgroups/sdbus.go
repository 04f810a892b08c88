package cgroups

import (
	"fmt"
	"time"
)

// Bounds of the systemd driver's D-Bus steps. The library calls systemd
// with context.TODO(), so a manager that never answers (hung, or a user
// manager stuck in its own shutdown) would keep create, exec or delete
// waiting forever. Each step is awaited this long (sd-bus's own default
// method timeout, what systemctl waits); starting and stopping a unit also
// wait for systemd's job, which the library bounds itself at 30 s.
// Tests shorten them.
var (
	dbusCallTimeout = 25 * time.Second
	dbusJobTimeout  = 30 * time.Second
)

// bus runs a step of the library that talks to systemd, waiting at most
// limit for it; its error names the unit and the step. On timeout the step
// is left running (it holds nothing of ours; the library's own lock makes
// a later step on this unit wait, and time out, too).
func (m *sdManager) bus(step string, limit time.Duration, f func() error) error {
	if err := onBus(limit, f); err != nil {
		return fmt.Errorf("systemd unit %s: %s: %w", m.unit, step, err)
	}
	return nil
}

func onBus(limit time.Duration, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("no answer over D-Bus within %s", limit)
	}
}
