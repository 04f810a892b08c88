package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// v2Manager handles a pure cgroup v2 host: we create the directory and
// enable controllers; the library's fs2 manager writes the limits.
type v2Manager struct {
	cfg Config
	dir string
	fsm *fs2.Manager
}

func newV2Manager(cfg Config) (Manager, error) {
	inner := innerPath(cfg)
	own := ""
	if !filepath.IsAbs(inner) {
		cg, err := ownCgroups()
		if err != nil {
			return nil, fmt.Errorf("cgroups: relative linux.cgroupsPath: %w", err)
		}
		// Our own cgroup holds processes, so it cannot have children
		// with domain controllers: go next to it, as runc does.
		own = filepath.Dir(cg[""])
	}
	dir := resolve(cgroupRoot, own, inner)
	if err := checkWithin(dir, cgroupRoot); err != nil {
		return nil, err
	}
	if cfg.Rootless {
		if why := notDelegated(dir); why != "" {
			return newSkipManager(cfg, why), nil
		}
	}
	// The library refuses a nil Resources for Freeze; limits come via Set.
	fsm, err := fs2.NewManager(&lib.Cgroup{Path: inner, Rootless: cfg.Rootless, Resources: &lib.Resources{}}, dir)
	if err != nil {
		return nil, err
	}
	return &v2Manager{cfg: cfg, dir: dir, fsm: fsm}, nil
}

// notDelegated says why a rootless caller may not use dir: its nearest
// existing ancestor (or itself) must be owned by us and writable.
func notDelegated(dir string) string {
	for d := dir; within(d, cgroupRoot); d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			continue
		}
		if int(st.Uid) != os.Geteuid() || unix.Access(filepath.Join(d, "cgroup.procs"), unix.W_OK) != nil {
			return fmt.Sprintf("%s is not a cgroup subtree delegated to uid %d", d, os.Geteuid())
		}
		return ""
	}
	return "no cgroup2 directory found"
}

func (m *v2Manager) warn(msg string) { m.cfg.Logger.Warn(msg) }

func (m *v2Manager) Apply(pid int) (retErr error) {
	need := v2Needs(m.cfg.Resources)
	if r := m.cfg.Resources; r != nil {
		maps.Copy(need, unifiedNeeds(r.Unified))
	}
	dir := cgroup2Dir{base: cgroupRoot, dir: m.dir, need: need, enableAll: true, rootless: m.cfg.Rootless}
	created, err := dir.create()
	defer func() {
		if retErr != nil && len(created) > 0 {
			_ = removePath(created[0])
		}
	}()
	if err != nil {
		return fmt.Errorf("cgroups: create %s: %w", m.dir, err)
	}
	res, err := toLib(m.cfg.Resources, m.cfg.Devices, true)
	if err != nil {
		return err
	}
	// The device filter goes in before the process does.
	if err := lib.DevicesSetV2(m.dir, res); err != nil {
		if !m.cfg.Rootless {
			return fmt.Errorf("cgroups: linux.resources.devices: %w", err)
		}
		m.warn("linux.resources.devices: not enforced (rootless cannot load an eBPF device filter): " + err.Error())
	}
	if pid > 0 {
		if err := lib.WriteCgroupProc(m.dir, pid); err != nil {
			return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
		}
	}
	return nil
}

func (m *v2Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	warnSkipped(r, m.warn)
	if err := checkV2(r, m.warn); err != nil {
		return err
	}
	if err := m.checkControllers(r); err != nil {
		return err
	}
	res, err := toLib(r, m.cfg.Devices, r.Devices != nil)
	if err != nil {
		return err
	}
	toV2(res)
	if err := checkMemoryUsage(m.dir, true, res); err != nil {
		return err
	}
	if err := m.fsm.Set(res); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	return nil
}

// toV2 converts the v1-style values the library leaves to its caller:
// cpu shares become cpu.weight with the crun formula. (memory+swap ->
// memory.swap.max and blkio weight -> io.weight happen in the library.)
func toV2(res *lib.Resources) {
	if res.CpuShares != 0 {
		res.CpuWeight = lib.ConvertCPUSharesToCgroupV2Value(res.CpuShares)
	}
}

// checkControllers makes sure each requested field's controller is
// enabled for the container, enabling it in parents when allowed.
func (m *v2Manager) checkControllers(r *specs.LinuxResources) error {
	for field, ctrl := range v2Needs(r) {
		if hasV2Controller(m.dir, ctrl) {
			continue
		}
		_ = enableControllers(cgroupRoot, m.dir, []string{ctrl}, m.cfg.Rootless)
		if !hasV2Controller(m.dir, ctrl) {
			return unsupported(field, fmt.Sprintf("controller %q not available in %s/cgroup.controllers", ctrl, m.dir))
		}
	}
	if b := r.BlockIO; b != nil && !fileIn(m.dir, "io.bfq.weight") {
		// The library drops per-device weights without BFQ: say so.
		for i, wd := range b.WeightDevice {
			if weightSet(wd.Weight) {
				return unsupported(fmt.Sprintf("blockIO.weightDevice[%d].weight", i), "no io.bfq.weight")
			}
		}
	}
	for i, h := range r.HugepageLimits {
		if !hasHugePageSize(h.Pagesize) {
			return unsupported(fmt.Sprintf("hugepageLimits[%d].pageSize", i), "no huge page size "+h.Pagesize)
		}
	}
	return nil
}

func (m *v2Manager) Freeze() error { return m.fsm.Freeze(lib.Frozen) }
func (m *v2Manager) Thaw() error   { return m.fsm.Freeze(lib.Thawed) }

func (m *v2Manager) FreezerState() (string, error) {
	st, err := m.fsm.GetFreezerState()
	return freezerString(st), err
}

func (m *v2Manager) Pids() ([]int, error) { return lib.GetAllPids(m.dir) }

func (m *v2Manager) Stats() (*Stats, error) {
	st, err := m.fsm.Stats(nil)
	if err != nil && st == nil {
		return nil, err
	}
	// Missing controllers only leave their part empty.
	return convertStats(st), nil
}

func (m *v2Manager) Destroy() error { return removeCgroup(cgroupRoot, m.dir) }

func (m *v2Manager) RemoveIfEmpty() error { return removeIfEmpty(cgroupRoot, m.dir) }

func (m *v2Manager) Paths() map[string]string { return map[string]string{"": m.dir} }

func (m *v2Manager) Join(pid int) error {
	if err := lib.WriteCgroupProc(m.dir, pid); err != nil {
		return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
	}
	return nil
}

func (m *v2Manager) Missing() []string { return missingDirs(cgroupRoot, m.dir) }

func (m *v2Manager) Exists() bool { return lib.PathExists(m.dir) }

func (m *v2Manager) CgroupFD() (int, error) { return openCgroupFD(m.dir) }
