package cgroups

import (
	"os"
	"path/filepath"
	"strconv"
)

// Prewarmer is implemented by managers whose Apply migrates the process
// with cgroup.procs writes (cgroup v1 and hybrid).
type Prewarmer interface {
	// PrewarmMigration writes our own pid into the cgroup we are already
	// in: a no-op move that still takes the kernel's global threadgroup
	// lock for writing. The first writer waits for an RCU grace period
	// (milliseconds, more under load); writers that follow within about
	// one grace period do not. Run it in the background early, and the
	// container's Apply later finds the lock warm. Errors are ignored:
	// it only saves time.
	PrewarmMigration()
}

func (m *v1Manager) PrewarmMigration() {
	if mnt, ok := m.mounts["devices"]; ok {
		prewarmIn(mnt, "devices")
	}
}

// prewarmIn writes our pid into our own cgroup of the hierarchy of
// subsystem mounted at mnt.
func prewarmIn(mnt, subsystem string) {
	own, err := ownCgroups()
	if err != nil {
		return
	}
	p, ok := own[subsystem]
	if !ok {
		return
	}
	f, err := os.OpenFile(filepath.Join(mnt, p, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()))
}
