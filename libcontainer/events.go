package libcontainer

import (
	"github.com/myrun-org/myrun/libcontainer/cgroups"
)

// OOMKills returns the container's OOM kill counter (see cgroups.OOMKills).
func (r *Runtime) OOMKills(id string) (uint64, error) {
	var n uint64
	err := r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		var err error
		n, err = cgroups.OOMKills(cg.Paths())
		return err
	})
	return n, err
}

// NotifyOOM wakes the caller on the container's OOM events (see
// cgroups.NotifyOOM); the channel closes when its cgroup goes away.
func (r *Runtime) NotifyOOM(id string) (wake <-chan struct{}, stop func(), err error) {
	err = r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		var err error
		wake, stop, err = cgroups.NotifyOOM(cg.Paths())
		return err
	})
	return wake, stop, err
}
