package container

import (
	"fmt"

	"github.com/myrun-org/myrun/imgtool/runner"
)

// runtime is the container's runtime with our own state root.
func (cs *Manager) runtime(r *Record) runner.Runtime {
	return runner.Runtime{Path: r.Runtime, Root: cs.StateRoot(), Systemd: r.SystemdCgroup != ""}
}

// runtimeStatus is the runtime's view of the container ("created",
// "running", "stopped", ...) or "" when it does not know it.
func (cs *Manager) runtimeStatus(r *Record) string { return cs.runtime(r).Status(r.ID) }

// withRuntimeError adds to err the last error rt logged, if any.
func withRuntimeError(err error, rt runner.Runtime) error {
	if m := rt.LogError(); m != "" {
		return fmt.Errorf("%w: %s", err, m)
	}
	return err
}

// removeCgroup removes the container's cgroup directories in every
// hierarchy (only ours: a path below CgroupParent).
func removeCgroup(p string) { runner.RemoveCgroup(CgroupParent, p) }
