package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	lib "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// Joiner is what entering a container's existing cgroup takes, as exec
// does. Every Manager is one.
type Joiner interface {
	Join(pid int) error       // move pid into the dirs
	CgroupFD() (int, error)   // O_PATH dir fd on pure v2 (CLONE_INTO_CGROUP), else -1
	Paths() map[string]string // subsystem -> absolute dir ("" on v2, "unified" on hybrid)
}

// Recorded is the Joiner of a created container's cgroup, working from the
// directories its manager's Paths reported at create (state.json's
// cgroup_paths) without building a manager: that costs a decode of the
// config's resources and devices and, for cgroupfs, a mountinfo parse,
// while exec only writes cgroup.procs. It also uses the dirs the container
// was created in, where a manager built afresh would resolve a relative
// linux.cgroupsPath against the exec caller's own cgroup.
//
// build makes the full manager for the one case the paths cannot serve: a
// cgroup.procs write refused for permission, where the systemd driver asks
// systemd to attach the process (a rootless scope).
func Recorded(paths map[string]string, build func() (Manager, error)) Joiner {
	return &recorded{paths: paths, build: build}
}

type recorded struct {
	paths map[string]string
	build func() (Manager, error)
}

func (r *recorded) Paths() map[string]string { return maps.Clone(r.paths) }

// Join writes what the managers' Join write: every hierarchy's dir in
// order, a hybrid host's cgroup2 side ("unified") last and only if it
// exists.
func (r *recorded) Join(pid int) error {
	for _, k := range slices.Sorted(maps.Keys(r.paths)) {
		if k == "unified" {
			continue
		}
		if err := r.write(r.paths[k], pid); err != nil {
			return err
		}
	}
	if d := r.paths["unified"]; d != "" && lib.PathExists(d) {
		return r.write(d, pid)
	}
	return nil
}

func (r *recorded) write(dir string, pid int) error {
	err := writeCgroupProc(dir, pid)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		m, berr := r.build()
		if berr != nil {
			return fmt.Errorf("cgroups: join pid %d: %w; %w", pid, err, berr)
		}
		return m.Join(pid)
	}
	return fmt.Errorf("cgroups: join pid %d: %w", pid, err)
}

// CgroupFD opens the cgroup2 dir of a pure v2 host (the "" key; a hybrid
// host's cgroup2 side is "unified", where v1 hierarchies need writes too).
func (r *recorded) CgroupFD() (int, error) {
	dir := r.paths[""]
	if dir == "" {
		return -1, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// PrewarmMigration is the v1 manager's, with the devices hierarchy's mount
// found from the recorded dir (hierarchyMount) instead of mountinfo.
func (r *recorded) PrewarmMigration() {
	if dir := r.paths["devices"]; dir != "" {
		if mnt, ok := hierarchyMount(dir); ok {
			prewarmIn(mnt, "devices")
		}
	}
}

// hierarchyMount is the mount dir of the filesystem dir lies on: its
// highest ancestor with dir's device number. Every cgroup v1 hierarchy is
// a filesystem of its own, mounted on the tmpfs at /sys/fs/cgroup.
func hierarchyMount(dir string) (string, bool) {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return "", false
	}
	for {
		parent := filepath.Dir(dir)
		var pst unix.Stat_t
		if parent == dir || unix.Stat(parent, &pst) != nil {
			return "", false
		}
		if pst.Dev != st.Dev {
			return dir, true
		}
		dir = parent
	}
}
