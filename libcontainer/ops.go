package libcontainer

import (
	"errors"
	"fmt"
	"reflect"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// Config returns the spec a container was created with.
func (r *Runtime) Config(id string) (*rspec.Spec, error) {
	return r.config(id, (*state.State).Spec)
}

// config opens container id and decodes its config with decode; the
// config must have a process.
func (r *Runtime) config(id string, decode func(*state.State) (*rspec.Spec, error)) (*rspec.Spec, error) {
	c, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer c.close()
	spec, err := decode(c.st)
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("container %s has no process in its config", id)
	}
	return spec, nil
}

// withCgroup opens a container and its cgroup for the cgroup-based verbs.
func (r *Runtime) withCgroup(id string, fn func(c *container, cg cgroups.Manager) error) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.close()
	cg := r.cgroupOf(c)
	if cg == nil || !cg.Exists() {
		if r.status(c) == Stopped {
			return errNotRunning
		}
		return fmt.Errorf("container %s has no cgroup (rootless without a delegated cgroup?)", id)
	}
	return fn(c, cg)
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	return r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		switch s := r.status(c); s {
		case Running:
		default:
			return fmt.Errorf("%w: %s", ErrNotRunning, s)
		}
		return cg.Freeze()
	})
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	return r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		if s := r.status(c); s != Paused {
			return fmt.Errorf("%w: %s", ErrNotPaused, s)
		}
		return cg.Thaw()
	})
}

// Pids lists the processes in the container's cgroup; a stopped
// container has none (runc's ps prints just the header for it).
func (r *Runtime) Pids(id string) ([]int, error) {
	var pids []int
	err := r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		if r.status(c) == Stopped {
			return nil
		}
		var err error
		pids, err = cg.Pids()
		return err
	})
	if errors.Is(err, errNotRunning) {
		return nil, nil
	}
	return pids, err
}

// Update applies new resource limits to a container and records them.
func (r *Runtime) Update(id string, res *rspec.LinuxResources) error {
	return r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		if r.status(c) == Stopped {
			return errNotRunning
		}
		spec, err := c.st.Spec()
		if err != nil {
			return err
		}
		// Device rules stay as created: update never widens (or
		// narrows) device access. runc drops them from update; an
		// engine resending the container's own rules is fine, other
		// rules are refused rather than dropped.
		var recorded []rspec.LinuxDeviceCgroup
		if spec.Linux != nil && spec.Linux.Resources != nil {
			recorded = spec.Linux.Resources.Devices
		}
		if len(res.Devices) > 0 && !reflect.DeepEqual(res.Devices, recorded) {
			return errors.New("linux.resources.devices: update cannot change the device rules of a container")
		}
		set := *res
		set.Devices = nil
		if err := cg.Set(&set); err != nil {
			return err
		}
		res.Devices = recorded
		if spec.Linux == nil {
			spec.Linux = &rspec.Linux{}
		}
		spec.Linux.Resources = res
		c.st.ConfigChanged()
		return c.h.Save(c.st)
	})
}

// Stats returns the cgroup statistics of a container.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	var st *cgroups.Stats
	err := r.withCgroup(id, func(c *container, cg cgroups.Manager) error {
		if r.status(c) == Stopped {
			return errNotRunning
		}
		var err error
		st, err = cg.Stats()
		return err
	})
	return st, err
}

// Process returns the container's process as configured, for `exec` to
// start from; it decodes only what exec reads (state.ExecSpec).
func (r *Runtime) Process(id string) (*rspec.Process, error) {
	spec, err := r.config(id, (*state.State).ExecSpec)
	if err != nil {
		return nil, err
	}
	return spec.Process, nil
}
