package cgroups

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/opencontainers/runtime-spec/specs-go"

	// Registers the v1 devices-list and v2 eBPF device filter writers
	// with the library (cgroups.DevicesSetV1/V2).
	_ "github.com/opencontainers/cgroups/devices"
)

// Config says where the container's cgroup is and what goes into it.
type Config struct {
	Path      string                // linux.cgroupsPath ("" => <own cgroup>/<Name>, as runc)
	Name      string                // container id
	Systemd   bool                  // --systemd-cgroup: Path is "slice:prefix:name"
	Rootless  bool                  // only a delegated v2 subtree owned by us
	Resources *specs.LinuxResources // may be nil

	// Devices are the spec's linux.devices: checked, but they get no
	// allow rule (runc adds none either): access is resources.devices'.
	Devices []specs.LinuxDevice
	// Logger receives warnings about skipped settings (nil: slog.Default()).
	Logger *slog.Logger
	// Paths are the dirs a created container's manager reported (state's
	// cgroup_paths). The systemd v2 manager takes its dir from them: found
	// afresh, a rootless scope's dir needs the user manager's cgroup over
	// D-Bus, which engines' environments for pause/resume/ps (podman sets
	// only XDG_RUNTIME_DIR) cannot always reach. nil: derive as at create.
	Paths map[string]string
}

// Manager controls one container's cgroup(s).
type Manager interface {
	Apply(pid int) error               // create the dirs and move pid in (pid <= 0: create only)
	Joiner                             // Join moves pid into the existing dirs, changing nothing else (exec)
	Set(r *specs.LinuxResources) error // apply limits (create and update)
	Freeze() error                     // pause
	Thaw() error                       // resume
	FreezerState() (string, error)     // "frozen", "thawed" or "" (no freezer)
	Pids() ([]int, error)              // all pids, recursive
	Stats() (*Stats, error)            // runc events --stats shape
	Destroy() error                    // remove the dirs we created; kills nothing
	// RemoveIfEmpty is Destroy with one rmdir per directory and no
	// retries, killing nothing: nil proves the cgroups held no process
	// (the kernel refuses rmdir of a populated cgroup), so a delete needs
	// no kill walk. An error (EBUSY, or a cgroup it may not remove) says
	// nothing was proven: kill, then Destroy. As Destroy, it may have
	// removed empty sub-cgroups or hierarchies' directories by then.
	RemoveIfEmpty() error
	Exists() bool // the container's cgroup exists

	// Missing lists the directories Apply would create, parents first.
	// create records them before Apply: a runtime killed between a mkdir
	// and its marker would otherwise leave a directory Destroy refuses.
	Missing() []string
}

// Freezer states returned by FreezerState.
const (
	StateFrozen = "frozen"
	StateThawed = "thawed"
)

// ErrSystemdNotRunning is returned by New for --systemd-cgroup on a host
// without systemd as init.
var ErrSystemdNotRunning = errors.New("systemd cgroup driver requested but systemd is not running (PID 1 is not systemd)")

// New returns the manager for cfg. It is deterministic: the same Config
// gives a manager for the same cgroup in any process; only a rootless
// systemd scope's dir depends on the user manager, which Paths (saved at
// create) answers without asking it.
func New(cfg Config) (Manager, error) {
	if cfg.Name == "" && cfg.Path == "" {
		return nil, errors.New("cgroups: container name or linux.cgroupsPath is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Systemd {
		return newSystemdManager(cfg)
	}
	mode, mounts := detect()
	switch mode {
	case ModeV2:
		return newV2Manager(cfg)
	case ModeV1, ModeHybrid:
		return newV1Manager(cfg, mode == ModeHybrid, mounts)
	}
	return nil, fmt.Errorf("cgroups: no cgroup filesystem found under %s", cgroupRoot)
}
