package cgroups

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Host cgroup layouts reported by Mode.
const (
	ModeV1     = "v1"
	ModeV2     = "v2"
	ModeHybrid = "hybrid"
)

// Indirections so unit tests can run over a fake cgroupfs in a temp dir.
var (
	cgroupRoot     = "/sys/fs/cgroup"
	procSelfCgroup = "/proc/self/cgroup"
	fsMagic        = statfsMagic
)

func statfsMagic(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Type), nil
}

func isFS(path string, magic int64) bool {
	m, err := fsMagic(path)
	return err == nil && m == magic
}

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
// walk /sys/fs/cgroup twice.
func detect() (string, map[string]string) {
	if isFS(cgroupRoot, unix.CGROUP2_SUPER_MAGIC) {
		return ModeV2, nil
	}
	mounts := v1Mounts()
	if len(mounts) == 0 {
		return "", nil
	}
	if isFS(unifiedDir(), unix.CGROUP2_SUPER_MAGIC) {
		return ModeHybrid, mounts
	}
	return ModeV1, mounts
}
