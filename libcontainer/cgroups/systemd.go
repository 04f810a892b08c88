package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Where systemdRunning looks (tests point these into a temp dir).
var (
	pid1Comm      = "/proc/1/comm"
	systemdRunDir = "/run/systemd/system"
)

// defaultScopePrefix names our scopes "myrun-<id>.scope" when
// linux.cgroupsPath is empty (runc uses "runc").
const defaultScopePrefix = "myrun"

// systemdRunning is true when systemd is PID 1 and says so in /run
// (the library only checks /run/systemd/system).
func systemdRunning() bool {
	comm, err := os.ReadFile(pid1Comm)
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		return false
	}
	fi, err := os.Stat(systemdRunDir)
	return err == nil && fi.IsDir()
}

// SystemdPath is a parsed --systemd-cgroup cgroupsPath "slice:prefix:name".
type SystemdPath struct {
	Slice  string // e.g. "system.slice"
	Prefix string // scope name prefix, e.g. "docker"
	Name   string // e.g. the container id
}

// ParseSystemdPath parses "slice:prefix:name" as runc does; an empty path
// means system.slice (user.slice rootless), prefix "myrun", name id.
// An empty slice part also means the default slice.
func ParseSystemdPath(path, id string, rootless bool) (SystemdPath, error) {
	def := "system.slice"
	if rootless {
		def = "user.slice"
	}
	if path == "" {
		if id == "" {
			return SystemdPath{}, fmt.Errorf("linux.cgroupsPath: empty and no container id")
		}
		return SystemdPath{Slice: def, Prefix: defaultScopePrefix, Name: id}, nil
	}
	parts := strings.Split(path, ":")
	if len(parts) != 3 {
		return SystemdPath{}, fmt.Errorf("linux.cgroupsPath: expected \"slice:prefix:name\" for systemd cgroups, got %q", path)
	}
	p := SystemdPath{Slice: parts[0], Prefix: parts[1], Name: parts[2]}
	if p.Slice == "" {
		p.Slice = def
	}
	if p.Name == "" {
		return SystemdPath{}, fmt.Errorf("linux.cgroupsPath: %q has an empty name", path)
	}
	if strings.Contains(p.Name, "/") || strings.Contains(p.Prefix, "/") {
		return SystemdPath{}, fmt.Errorf("linux.cgroupsPath: %q: prefix and name must not contain '/'", path)
	}
	if _, err := systemd.ExpandSlice(p.Slice); err != nil {
		return SystemdPath{}, fmt.Errorf("linux.cgroupsPath: %w", err)
	}
	return p, nil
}

// Unit is the systemd unit: a scope, or the slice itself when the name
// ends in ".slice" (as runc and the library do).
func (p SystemdPath) Unit() string {
	if strings.HasSuffix(p.Name, ".slice") {
		return p.Name
	}
	return p.Prefix + "-" + p.Name + ".scope"
}

// Expand returns the cgroup path below a hierarchy root, e.g.
// "system.slice:docker:abc" -> "/system.slice/docker-abc.scope" and
// "a-b.slice:p:n" -> "/a.slice/a-b.slice/p-n.scope".
func (p SystemdPath) Expand() (string, error) {
	slice, err := systemd.ExpandSlice(p.Slice)
	if err != nil {
		return "", err
	}
	if strings.HasSuffix(p.Name, ".slice") {
		sub, err := systemd.ExpandSlice(p.Name)
		if err != nil {
			return "", err
		}
		return filepath.Join(slice, filepath.Base(sub)), nil
	}
	return filepath.Join(slice, p.Unit()), nil
}

// sdManager wraps the library's systemd managers (transient units over
// D-Bus; the library writes what systemd cannot express to cgroupfs).
type sdManager struct {
	cfg  Config
	v2   bool
	unit string // for errors
	m    lib.Manager
}

func newSystemdManager(cfg Config) (Manager, error) {
	if !systemdRunning() {
		return nil, ErrSystemdNotRunning
	}
	p, err := ParseSystemdPath(cfg.Path, cfg.Name, cfg.Rootless)
	if err != nil {
		return nil, err
	}
	res, err := toLib(cfg.Resources, cfg.Devices, true)
	if err != nil {
		return nil, err
	}
	cg := &lib.Cgroup{Parent: p.Slice, ScopePrefix: p.Prefix, Name: p.Name, Systemd: true, Rootless: cfg.Rootless, Resources: res}
	m := &sdManager{cfg: cfg, v2: Mode() == ModeV2, unit: p.Unit()}
	if m.v2 {
		toV2(res)
		newUnified := func() (err error) {
			m.m, err = systemd.NewUnifiedManager(cg, cfg.Paths[""])
			return err
		}
		if cfg.Rootless && cfg.Paths[""] == "" {
			// The library asks the user manager for its cgroup.
			err = m.bus("GetManagerProperty ControlGroup", dbusCallTimeout, newUnified)
		} else {
			err = newUnified()
		}
	} else {
		res.Unified = nil // the legacy manager refuses it; Set reports it
		m.m, err = systemd.NewLegacyManager(cg, nil)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (m *sdManager) Apply(pid int) error {
	if pid <= 0 {
		pid = -1
	}
	return m.bus("StartTransientUnit", dbusCallTimeout+dbusJobTimeout, func() error { return m.m.Apply(pid) })
}

// writeCgroupProc is the library's cgroup.procs write (tests replace it).
var writeCgroupProc = lib.WriteCgroupProc

// Join moves pid into the scope's existing directories (systemd already
// knows the scope; exec'd processes need no new unit). Where the write is
// refused (EACCES/EPERM: a rootless caller outside user@UID.service does
// not own the common ancestor), systemd is asked to move it
// (AttachProcessesToUnit; the user manager hands it to the system one), as
// runc and crun do.
func (m *sdManager) Join(pid int) error {
	for _, d := range m.m.GetPaths() {
		err := writeCgroupProc(d, pid)
		if err == nil {
			continue
		}
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
		}
		if aerr := m.bus("AttachProcessesToUnit", dbusCallTimeout, func() error { return m.m.AddPid("", pid) }); aerr != nil {
			return fmt.Errorf("cgroups: join pid %d: %w; asking systemd instead: %w", pid, err, aerr)
		}
		m.cfg.Logger.Debug("cgroup.procs refused; systemd attached the process", "pid", pid, "dir", d)
		return nil
	}
	return nil
}

func (m *sdManager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	warn := func(msg string) { m.cfg.Logger.Warn(msg) }
	warnSkipped(r, warn)
	if m.v2 {
		if err := checkV2(r, warn); err != nil {
			return err
		}
	} else {
		if err := checkV1(r, m.m.GetPaths()); err != nil {
			return err
		}
		if len(r.Unified) > 0 {
			return unsupported("unified", "the systemd driver on cgroup v1 cannot set cgroup v2 files")
		}
	}
	res, err := toLib(r, m.cfg.Devices, r.Devices != nil)
	if err != nil {
		return err
	}
	dir := m.m.Path("memory")
	if m.v2 {
		toV2(res)
		dir = m.m.Path("")
	}
	// Before any unit property changes: systemd would apply a limit
	// below the usage at once (the library checks only on v2, without
	// naming the field).
	if err := checkMemoryUsage(dir, m.v2, res); err != nil {
		return err
	}
	return m.bus("SetUnitProperties", dbusCallTimeout, func() error { return m.m.Set(res) })
}

func (m *sdManager) Freeze() error { return m.m.Freeze(lib.Frozen) }
func (m *sdManager) Thaw() error   { return m.m.Freeze(lib.Thawed) }

func (m *sdManager) FreezerState() (string, error) {
	st, err := m.m.GetFreezerState()
	return freezerString(st), err
}

func (m *sdManager) Pids() ([]int, error) { return m.m.GetAllPids() }

func (m *sdManager) Stats() (*Stats, error) {
	st, err := m.m.GetStats()
	if err != nil && st == nil {
		return nil, err
	}
	return convertStats(st), nil
}

func (m *sdManager) Destroy() error {
	return m.bus("StopUnit", dbusCallTimeout+dbusJobTimeout, m.m.Destroy)
}

// RemoveIfEmpty proves nothing: systemd owns the scope's directories,
// and only stopping the unit (Destroy) removes them.
func (m *sdManager) RemoveIfEmpty() error {
	return errors.New("cgroups: systemd removes a scope when its unit is stopped")
}

func (m *sdManager) Paths() map[string]string { return m.m.GetPaths() }

// Missing is nil: systemd creates and removes the scope's directories.
func (m *sdManager) Missing() []string { return nil }

func (m *sdManager) Exists() bool { return m.m.Exists() }

func (m *sdManager) CgroupFD() (int, error) {
	if !m.v2 {
		return -1, nil
	}
	return openCgroupFD(m.m.Path(""))
}
