package cgroups

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// skipManager is used rootless when no cgroup is delegated to us: the
// container runs without a cgroup of its own (with a warning), and any
// limit is an error rather than silently dropped, as runc does.
type skipManager struct {
	cfg Config
	why string
}

// ErrRootlessNoCgroup: limits asked for where we may not make a cgroup.
// runc reports the EACCES/EPERM of its mkdir; callers match "permission
// denied".
var ErrRootlessNoCgroup = errors.New("cannot set limits rootless: permission denied: container could not join or create cgroup")

func newSkipManager(cfg Config, why string) *skipManager {
	return &skipManager{cfg: cfg, why: why}
}

func (m *skipManager) Join(int) error { return nil }

func (m *skipManager) Apply(int) error {
	m.cfg.Logger.Warn("rootless: running without a container cgroup: " + m.why)
	return nil
}

func (m *skipManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	// Device rules cannot be set rootless either; they are not limits
	// the user asked us to enforce on the host, so they are ignored.
	rest := *r
	rest.Devices = nil
	if !reflect.ValueOf(rest).IsZero() {
		return fmt.Errorf("linux.resources: %w: %s", ErrRootlessNoCgroup, m.why)
	}
	return nil
}

func (m *skipManager) Freeze() error {
	return errors.New("cgroups: cannot pause rootless without a cgroup: " + m.why)
}
func (m *skipManager) Thaw() error {
	return errors.New("cgroups: cannot resume rootless without a cgroup: " + m.why)
}
func (m *skipManager) FreezerState() (string, error) { return "", nil }
func (m *skipManager) Pids() ([]int, error) {
	return nil, errors.New("cgroups: no container cgroup: " + m.why)
}
func (m *skipManager) Stats() (*Stats, error)   { return &Stats{}, nil }
func (m *skipManager) Destroy() error           { return nil }
func (m *skipManager) RemoveIfEmpty() error     { return nil }
func (m *skipManager) Paths() map[string]string { return map[string]string{} }
func (m *skipManager) Missing() []string        { return nil }
func (m *skipManager) Exists() bool             { return false }
func (m *skipManager) CgroupFD() (int, error)   { return -1, nil }
