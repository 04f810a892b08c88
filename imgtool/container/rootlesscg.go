package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Rootless limits (-m, --cpus, --pids-limit) where systemd delegates a
// cgroup to the user: on a pure cgroup v2 host whose user manager
// (user@UID.service) has Delegate= for the controllers, the container
// gets a scope of that manager, made by the runtime's systemd driver
// (--systemd-cgroup with cgroupsPath user.slice:myimg:ID). Without such
// a delegation the limits are refused, naming what is missing.

// cgroupFS is the cgroup2 mount (a variable for the tests).
var cgroupFS = "/sys/fs/cgroup"

// rootlessSlice is the user manager's slice the scopes go in.
const rootlessSlice = "user.slice"

// userDelegation checks that uid's systemd user manager is reachable and
// has the controllers in need delegated.
func userDelegation(uid int, need []string) error {
	if _, err := os.Stat(filepath.Join(cgroupFS, "cgroup.controllers")); err != nil {
		return errors.New("this host has no pure cgroup v2 hierarchy (cgroup v1 delegates nothing to users)")
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		rd := os.Getenv("XDG_RUNTIME_DIR")
		if rd == "" {
			return errors.New("no systemd user manager: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")
		}
		if _, err := os.Stat(filepath.Join(rd, "bus")); err != nil {
			return fmt.Errorf("no systemd user manager bus: %w", err)
		}
	}
	mgr := filepath.Join(cgroupFS, "user.slice", fmt.Sprintf("user-%d.slice", uid), fmt.Sprintf("user@%d.service", uid))
	raw, err := os.ReadFile(filepath.Join(mgr, "cgroup.controllers"))
	if err != nil {
		return fmt.Errorf("no cgroup of the systemd user manager of uid %d: %w", uid, err)
	}
	have := strings.Fields(string(raw))
	for _, c := range need {
		if !slices.Contains(have, c) {
			return fmt.Errorf("systemd delegates no %s controller to uid %d (%s/cgroup.controllers: %q; Delegate= of user@.service)",
				c, uid, mgr, strings.TrimSpace(string(raw)))
		}
	}
	return nil
}

// limitControllers are the controllers the limits of p and o need.
func limitControllers(o *Options, p *parsed) []string {
	var need []string
	if p.memory > 0 {
		need = append(need, "memory")
	}
	if p.quota > 0 {
		need = append(need, "cpu")
	}
	if o.PidsLimit > 0 {
		need = append(need, "pids")
	}
	return need
}

// rootlessCgroup gives a rootless container with limits its systemd
// scope of the user manager, or refuses the limits.
func rootlessCgroup(r *Record, o *Options, p *parsed) error {
	need := limitControllers(o, p)
	if !r.Rootless || len(need) == 0 {
		return nil
	}
	if err := userDelegation(os.Getuid(), need); err != nil {
		return fmt.Errorf("--memory, --cpus and --pids-limit rootless need a cgroup systemd delegates to the user: %w", err)
	}
	r.SystemdCgroup = rootlessSlice + ":myimg:" + r.ID
	return nil
}
