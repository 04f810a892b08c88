package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// v1Manager drives the v1 hierarchies through the library's fs manager
// and, on hybrid hosts, also places the container in the cgroup2 mount at
// /sys/fs/cgroup/unified. The library joins that mount too but cannot set
// anything there; here hugetlb/rdma served only by cgroup2 and the
// spec's unified map go to it.
type v1Manager struct {
	cfg     Config
	hybrid  bool
	mounts  map[string]string // subsystem -> hierarchy mount dir
	paths   map[string]string // subsystem -> container dir
	unified string            // hybrid: container dir in the cgroup2 mount
	fsm     *fs.Manager
}

func newV1Manager(cfg Config, hybrid bool, mounts map[string]string) (Manager, error) {
	if cfg.Rootless {
		return newSkipManager(cfg, "cgroup v1 has no delegation to unprivileged users"), nil
	}
	if _, ok := mounts["devices"]; !ok {
		// Without it the device allow list cannot be enforced.
		return nil, errors.New("cgroups: the devices cgroup hierarchy is not mounted")
	}
	inner := innerPath(cfg)
	var own map[string]string
	if !filepath.IsAbs(inner) {
		var err error
		if own, err = ownCgroups(); err != nil {
			return nil, fmt.Errorf("cgroups: relative linux.cgroupsPath: %w", err)
		}
	}
	m := &v1Manager{cfg: cfg, hybrid: hybrid, mounts: mounts, paths: map[string]string{}}
	for s, mnt := range mounts {
		p := resolve(mnt, own[s], inner)
		if err := checkWithin(p, mnt); err != nil {
			return nil, err
		}
		m.paths[s] = p
	}
	if hybrid {
		m.unified = resolve(unifiedDir(), own[""], inner)
		if err := checkWithin(m.unified, unifiedDir()); err != nil {
			return nil, err
		}
	}
	res, err := toLib(cfg.Resources, cfg.Devices, true)
	if err != nil {
		return nil, err
	}
	m.stripUnified(res)
	m.fsm, err = fs.NewManager(&lib.Cgroup{Path: inner, Resources: res}, maps.Clone(m.paths))
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *v1Manager) warn(msg string) { m.cfg.Logger.Warn(msg) }

// stripUnified removes what the fs manager must not see: the v2 map, and
// hugetlb/rdma when no v1 hierarchy serves them (cgroup2 does, see setUnified).
func (m *v1Manager) stripUnified(res *lib.Resources) (hugetlb []*lib.HugepageLimit, rdma map[string]lib.LinuxRdma, unified map[string]string) {
	unified, res.Unified = res.Unified, nil
	if _, ok := m.paths["hugetlb"]; !ok {
		hugetlb, res.HugetlbLimit = res.HugetlbLimit, nil
	}
	if _, ok := m.paths["rdma"]; !ok {
		rdma, res.Rdma = res.Rdma, nil
	}
	return
}

// unifiedSide is the container's cgroup2 directory of a hybrid host. What
// goes there (see stripUnified) must not need a domain controller in a
// thread subtree. It strips res.
func (m *v1Manager) unifiedSide(res *lib.Resources) cgroup2Dir {
	hugetlb, _, unified := m.stripUnified(res)
	need := unifiedNeeds(unified)
	if len(hugetlb) > 0 {
		need["hugepageLimits"] = "hugetlb"
	}
	return cgroup2Dir{base: unifiedDir(), dir: m.unified, need: need}
}

func (m *v1Manager) Apply(pid int) (retErr error) {
	var created []string
	defer func() {
		if retErr != nil {
			for _, d := range slices.Backward(created) {
				_ = removePath(d)
			}
		}
	}()
	for _, s := range slices.Sorted(maps.Keys(m.paths)) {
		c, err := mkdirMarked(m.mounts[s], m.paths[s], nil)
		if len(c) > 0 {
			created = append(created, c[0])
		}
		if err != nil {
			return fmt.Errorf("cgroups: create %s: %w", m.paths[s], err)
		}
	}
	// The device allow list goes in before the process does.
	res, err := toLib(m.cfg.Resources, m.cfg.Devices, true)
	if err != nil {
		return err
	}
	if m.hybrid {
		c, err := m.unifiedSide(res).create()
		if len(c) > 0 {
			created = append(created, c[0])
		}
		if err != nil {
			return fmt.Errorf("cgroups: create %s: %w", m.unified, err)
		}
	}
	if err := writeDevicesV1(m.paths["devices"], res.Devices); err != nil {
		return fmt.Errorf("cgroups: linux.resources.devices: %w", err)
	}
	if pid <= 0 {
		pid = -1 // the library's "create only"
	}
	if err := m.fsm.Apply(pid); err != nil {
		return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
	}
	if m.hybrid && pid > 0 {
		if err := lib.WriteCgroupProc(m.unified, pid); err != nil {
			return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
		}
	}
	return nil
}

// Join writes only cgroup.procs: rewriting the device list, as Apply
// does, fails once the container has made sub-cgroups of its own.
func (m *v1Manager) Join(pid int) error {
	for _, s := range slices.Sorted(maps.Keys(m.paths)) {
		if err := lib.WriteCgroupProc(m.paths[s], pid); err != nil {
			return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
		}
	}
	if m.hybrid && lib.PathExists(m.unified) {
		if err := lib.WriteCgroupProc(m.unified, pid); err != nil {
			return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
		}
	}
	return nil
}

func (m *v1Manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	warnSkipped(r, m.warn)
	if err := checkV1(r, m.paths); err != nil {
		return err
	}
	res, err := toLib(r, m.cfg.Devices, r.Devices != nil)
	if err != nil {
		return err
	}
	hugetlb, rdma, unified := m.stripUnified(res)
	if err := m.checkUnifiedSide(r, hugetlb, rdma, unified); err != nil {
		return err
	}
	if err := checkMemoryUsage(m.paths["memory"], false, res); err != nil {
		return err
	}
	if err := m.fsm.Set(res); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	if len(hugetlb) == 0 && len(rdma) == 0 && len(unified) == 0 {
		return nil
	}
	return m.setUnified(hugetlb, rdma, unified)
}

// checkUnifiedSide makes sure settings only cgroup2 can serve here have
// somewhere to go, naming the field otherwise.
func (m *v1Manager) checkUnifiedSide(r *specs.LinuxResources, hugetlb []*lib.HugepageLimit, rdma map[string]lib.LinuxRdma, unified map[string]string) error {
	if len(unified) > 0 && !m.hybrid {
		return errors.New("invalid configuration: linux.resources.unified: cannot use unified on cgroup v1 (no cgroup2 mount on this host)")
	}
	if len(hugetlb) > 0 && !(m.hybrid && hasV2Controller(unifiedDir(), "hugetlb")) {
		return unsupported("hugepageLimits", "no hugetlb controller")
	}
	if len(rdma) > 0 && !(m.hybrid && hasV2Controller(unifiedDir(), "rdma")) {
		return unsupported("rdma", "no rdma controller")
	}
	if dir, ok := m.paths["hugetlb"]; ok {
		for i, h := range r.HugepageLimits {
			if !fileIn(dir, "hugetlb."+h.Pagesize+".limit_in_bytes") {
				return unsupported(fmt.Sprintf("hugepageLimits[%d].pageSize", i), "no hugetlb."+h.Pagesize+".limit_in_bytes")
			}
		}
	}
	for i, h := range hugetlb {
		if !hasHugePageSize(h.Pagesize) {
			return unsupported(fmt.Sprintf("hugepageLimits[%d].pageSize", i), "no huge page size "+h.Pagesize)
		}
	}
	return nil
}

func hasHugePageSize(size string) bool {
	return slices.Contains(lib.HugePageSizes(), size)
}

// setUnified writes the cgroup2-only settings of a hybrid host into the
// container's dir on the unified mount, enabling the controllers they
// need in the parents first (as runc does on v2 hosts).
func (m *v1Manager) setUnified(hugetlb []*lib.HugepageLimit, rdma map[string]lib.LinuxRdma, unified map[string]string) error {
	var ctrls []string
	if len(hugetlb) > 0 {
		ctrls = append(ctrls, "hugetlb")
	}
	if len(rdma) > 0 {
		ctrls = append(ctrls, "rdma")
	}
	for k := range unified {
		if c, _, ok := strings.Cut(k, "."); ok && c != "cgroup" && hasV2Controller(unifiedDir(), c) {
			ctrls = append(ctrls, c)
		}
	}
	if len(ctrls) > 0 {
		if err := enableControllers(unifiedDir(), m.unified, ctrls, false); err != nil {
			return err
		}
	}
	res := &lib.Resources{SkipDevices: true, HugetlbLimit: hugetlb, Rdma: rdma, Unified: unified}
	u, err := fs2.NewManager(&lib.Cgroup{Resources: res}, m.unified)
	if err != nil {
		return err
	}
	if err := u.Set(res); err != nil {
		return fmt.Errorf("cgroups: %s: %w", m.unified, err)
	}
	return nil
}

func (m *v1Manager) freeze(state lib.FreezerState) error {
	if _, ok := m.paths["freezer"]; !ok {
		return errors.New("cgroups: no freezer cgroup hierarchy on this host")
	}
	return m.fsm.Freeze(state)
}

func (m *v1Manager) Freeze() error { return m.freeze(lib.Frozen) }
func (m *v1Manager) Thaw() error   { return m.freeze(lib.Thawed) }

func (m *v1Manager) FreezerState() (string, error) {
	st, err := m.fsm.GetFreezerState()
	return freezerString(st), err
}

func freezerString(st lib.FreezerState) string {
	switch st {
	case lib.Frozen:
		return StateFrozen
	case lib.Thawed:
		return StateThawed
	}
	return ""
}

func (m *v1Manager) Pids() ([]int, error) { return m.fsm.GetAllPids() }

func (m *v1Manager) Stats() (*Stats, error) {
	st, err := m.fsm.Stats(nil)
	if err != nil {
		return nil, err
	}
	if m.hybrid && m.paths["hugetlb"] == "" && lib.PathExists(m.unified) {
		u, err := fs2.NewManager(&lib.Cgroup{Resources: &lib.Resources{}}, m.unified)
		if err == nil {
			if us, err := u.Stats(&lib.StatsOptions{Controllers: lib.HugeTLB}); err == nil {
				st.HugetlbStats = us.HugetlbStats
			}
		}
	}
	return convertStats(st), nil
}

func (m *v1Manager) Destroy() error {
	var errs []error
	for s, p := range m.paths {
		errs = append(errs, removeCgroup(m.mounts[s], p))
	}
	if m.hybrid {
		errs = append(errs, removeCgroup(unifiedDir(), m.unified))
	}
	return errors.Join(errs...)
}

// RemoveIfEmpty stops at the first hierarchy it cannot remove: a live
// container's cgroup costs one failed rmdir, not one per hierarchy.
func (m *v1Manager) RemoveIfEmpty() error {
	for _, s := range slices.Sorted(maps.Keys(m.paths)) {
		if err := removeIfEmpty(m.mounts[s], m.paths[s]); err != nil {
			return err
		}
	}
	if m.hybrid {
		return removeIfEmpty(unifiedDir(), m.unified)
	}
	return nil
}

func (m *v1Manager) Paths() map[string]string {
	out := maps.Clone(m.paths)
	if m.hybrid {
		out["unified"] = m.unified
	}
	return out
}

func (m *v1Manager) Missing() []string {
	var out []string
	for _, s := range slices.Sorted(maps.Keys(m.paths)) {
		out = append(out, missingDirs(m.mounts[s], m.paths[s])...)
	}
	if m.hybrid {
		out = append(out, missingDirs(unifiedDir(), m.unified)...)
	}
	return out
}

func (m *v1Manager) Exists() bool { return lib.PathExists(m.paths["devices"]) }

func (m *v1Manager) CgroupFD() (int, error) { return -1, nil }
