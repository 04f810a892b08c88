package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/resctrl"
	"github.com/myrun-org/myrun/libcontainer/state"
	"github.com/myrun-org/myrun/specs"
)

// rdtFile, beside state.json, is the container's resctrl group
// (linux.intelRdt), for exec, update and delete.
const rdtFile = "resctrl.json"

// setupRdt makes the container's resctrl group and records it; nil when
// the config has no intelRdt. Validation refused intelRdt already where
// resctrl is not mounted.
func setupRdt(h *state.Handle, id string, spec *rspec.Spec) (*resctrl.Group, error) {
	if spec.Linux == nil || spec.Linux.IntelRdt == nil {
		return nil, nil
	}
	g, err := resctrl.Setup(specs.ResctrlRoot, id, spec.Linux.IntelRdt)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(g)
	if err == nil {
		err = os.WriteFile(filepath.Join(h.Dir, rdtFile), b, 0o600)
	}
	if err != nil {
		g.Destroy()
		return nil, fmt.Errorf("linux.intelRdt: recording the resctrl group: %w", err)
	}
	return g, nil
}

// rdtOf is the container's recorded resctrl group, nil without one.
func rdtOf(h *state.Handle) (*resctrl.Group, error) {
	b, err := os.ReadFile(filepath.Join(h.Dir, rdtFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var g resctrl.Group
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("%s: %w", rdtFile, err)
	}
	return &g, nil
}

// destroyRdt removes what create made in resctrl; best effort, as for
// cgroups.
func (r *Runtime) destroyRdt(h *state.Handle) {
	g, err := rdtOf(h)
	if err != nil {
		r.Log.Warn("resctrl group", "id", h.ID, "error", err)
		return
	}
	if g != nil {
		if err := g.Destroy(); err != nil {
			r.Log.Warn("removing resctrl group", "id", h.ID, "error", err)
		}
	}
}

// UpdateIntelRdt writes new L3 cache and memory bandwidth schemas to the
// container's resctrl group (`update --l3-cache-schema/--mem-bw-schema`)
// and records them in its config.
func (r *Runtime) UpdateIntelRdt(id, l3, mb string) error {
	c, err := r.open(id)
	if err != nil {
		return err
	}
	defer c.close()
	if r.status(c) == Stopped {
		return errNotRunning
	}
	g, err := rdtOf(c.h)
	if err != nil {
		return err
	}
	if g == nil {
		return errors.New("--l3-cache-schema, --mem-bw-schema: the container has no linux.intelRdt (no resctrl group to update)")
	}
	probe := &rspec.LinuxIntelRdt{L3CacheSchema: l3, MemBwSchema: mb}
	if err := specs.ValidateIntelRdtSchemas(probe); err != nil {
		return err
	}
	if err := g.Update(l3, mb); err != nil {
		return err
	}
	spec, err := c.st.Spec()
	if err != nil {
		return err
	}
	if spec.Linux != nil && spec.Linux.IntelRdt != nil {
		if l3 != "" {
			spec.Linux.IntelRdt.L3CacheSchema = l3
		}
		if mb != "" {
			spec.Linux.IntelRdt.MemBwSchema = mb
		}
		c.st.ConfigChanged()
	}
	return c.h.Save(c.st)
}
