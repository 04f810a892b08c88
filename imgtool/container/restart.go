package container

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/myrun-org/myrun/imgtool/network"
)

// Restart policies of --restart. unless-stopped behaves as always: with
// no daemon there is no reboot or daemon restart to tell them apart.
const (
	RestartNo            = "no"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
)

// restartBackoff doubles from the first delay up to the cap.
var restartBackoff = [2]time.Duration{100 * time.Millisecond, 10 * time.Second}

// checkRestart parses --restart: no, on-failure[:N], always,
// unless-stopped. It needs -d (the monitor carries it out) and conflicts
// with --rm, as in podman.
func (o *Options) checkRestart() (string, int, error) {
	if o.Restart == "" || o.Restart == RestartNo {
		return "", 0, nil
	}
	policy, n, hasN := strings.Cut(o.Restart, ":")
	maxRestarts := 0
	switch policy {
	case RestartOnFailure:
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return "", 0, fmt.Errorf("--restart %q: the retry count must be a number >= 0", o.Restart)
			}
			maxRestarts = v
		}
	case RestartAlways, RestartUnlessStopped:
		if hasN {
			return "", 0, fmt.Errorf("--restart %q: a retry count goes only with on-failure", o.Restart)
		}
	default:
		return "", 0, fmt.Errorf("--restart %q: want no, on-failure[:N], always or unless-stopped", o.Restart)
	}
	if o.AutoRemove {
		return "", 0, fmt.Errorf("--restart %s with --rm: a container removed at exit cannot be restarted", o.Restart)
	}
	if !o.Detach {
		return "", 0, fmt.Errorf("--restart %s needs -d: the restarts are done by the detached container's monitor", o.Restart)
	}
	return policy, maxRestarts, nil
}

// restartWanted is asked by the monitor after the container exited with
// code: it decides by the policy, waits the backoff (watching for stop
// and rm), and makes the network again. True means run it again.
func (cs *Manager) restartWanted(id string, code int) bool {
	r, err := cs.Load(id)
	if err != nil || r.StopRequested {
		return false
	}
	if r.HealthRestart {
		// --health-on-failure restart: once, whatever the policy.
		if _, err := cs.Update(id, func(r *Record) { r.HealthRestart = false }); err != nil {
			return false
		}
	} else if r.Restart == "" {
		return false
	} else if r.Restart == RestartOnFailure {
		if code == 0 {
			return false
		}
		if r.RestartMax > 0 && r.RestartCount >= r.RestartMax {
			cs.Update(id, func(r *Record) {
				r.Error = fmt.Sprintf("restart policy on-failure:%d: gave up after %d restarts (exit code %d)", r.RestartMax, r.RestartCount, code)
			})
			return false
		}
	}
	delay := restartBackoff[0] << min(r.RestartCount, 16)
	if delay > restartBackoff[1] {
		delay = restartBackoff[1]
	}
	// Restarting counts as running for wait, stop and ps.
	if _, err := cs.Update(id, func(r *Record) { r.Status = StatusCreating; r.RestartCount++ }); err != nil {
		return false
	}
	for end := time.Now().Add(delay); time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
		if cur, err := cs.Load(id); err != nil || cur.StopRequested {
			cs.Update(id, func(r *Record) { r.Status = StatusExited })
			return false
		}
	}
	err = cs.renewNetwork(id)
	if err == nil {
		err = cs.reconnect(id)
	}
	if err != nil {
		cs.Update(id, func(r *Record) {
			r.Status, r.Error = StatusExited, fmt.Sprintf("restart: network: %v", err)
		})
		return false
	}
	return true
}

// renewNetwork makes again what finish released: the bridge attachment
// (lease, netns, veth, port rules) or root's own network namespace.
func (cs *Manager) renewNetwork(id string) error {
	r, err := cs.Load(id)
	if err != nil {
		return err
	}
	persist := func() error { return cs.Save(r) }
	switch {
	case r.Network.Mode == network.ModeBridge:
		r.Network.Rules, r.Network.IP = nil, ""
		if err := network.SetupBridge(&r.Network, id, persist); err != nil {
			return err
		}
		return cs.syncNetworkHosts(r.Network)
	case (r.Network.Mode == network.ModeNone || r.Network.Mode == network.ModeSlirp || r.Network.Mode == network.ModePasta) && !r.Rootless:
		return network.SetupNone(&r.Network, id, persist)
	}
	return nil
}
