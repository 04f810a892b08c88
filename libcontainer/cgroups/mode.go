package cgroups

import (
	"path/filepath"
	"slices"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
)

// Host cgroup layouts reported by Mode.
const (
	ModeV1     = "v1"
	ModeV2     = "v2"
	ModeHybrid = "hybrid"
)

// What the package asks the host. The answers are the library's; unit
// tests replace these to run over a fake cgroupfs in a temp dir.
var (
	cgroupRoot     = fs2.UnifiedMountpoint // "/sys/fs/cgroup"
	procSelfCgroup = "/proc/self/cgroup"
	isUnified      = lib.IsCgroup2UnifiedMode // cgroupRoot is cgroup2
	isHybrid       = lib.IsCgroup2HybridMode  // cgroup2 at cgroupRoot/unified
	cgroupMounts   = lib.GetCgroupMounts      // the v1 mounts, from mountinfo
)

// unifiedDir is where the cgroup2 mount of a hybrid host lives.
func unifiedDir() string { return filepath.Join(cgroupRoot, "unified") }

// Mode detects the host's cgroup layout: "v2" when /sys/fs/cgroup is
// cgroup2, "hybrid" when it holds v1 controllers plus a cgroup2 mount at
// /sys/fs/cgroup/unified, "v1" otherwise ("" when nothing is mounted).
func Mode() string {
	mode, _ := detect()
	return mode
}

// detect is Mode plus the v1 mounts it had to look up, so New does not
// read mountinfo twice.
func detect() (string, map[string]string) {
	if isUnified() {
		return ModeV2, nil
	}
	mounts := v1Mounts()
	if len(mounts) == 0 {
		return "", nil
	}
	if isHybrid() {
		return ModeHybrid, mounts
	}
	return ModeV1, mounts
}

// v1Subsystems are the v1 hierarchies a container is placed in when the
// host mounts them (name=systemd is systemd's business, not ours).
var v1Subsystems = []string{
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
	"pids", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc",
}

// v1Mounts maps each mounted v1 subsystem we use to its mount dir below
// the cgroup root (co-mounted ones share a dir, e.g. "cpu,cpuacct").
// Mounts elsewhere (bind mounts of a hierarchy) are not ours to use.
func v1Mounts() map[string]string {
	all, err := cgroupMounts(true)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, m := range all {
		if filepath.Dir(m.Mountpoint) != cgroupRoot {
			continue
		}
		for _, s := range m.Subsystems {
			if _, dup := out[s]; !dup && slices.Contains(v1Subsystems, s) {
				out[s] = m.Mountpoint
			}
		}
	}
	return out
}
