package cgroups

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	for _, k := range order(r.paths) {
		if k == "unified" && !lib.PathExists(r.paths[k]) {
			continue
		}
		if err := r.write(r.paths[k], pid); err != nil {
			return err
		}
	}
	return nil
}

// order is the v1 manager's order of paths' keys: the hierarchies sorted,
// a hybrid host's cgroup2 side ("unified") last.
func order(paths map[string]string) []string {
	keys := slices.Sorted(maps.Keys(paths))
	if i := slices.Index(keys, "unified"); i >= 0 {
		keys = append(slices.Delete(keys, i, i+1), "unified")
	}
	return keys
}

// RemoveIfEmptyAt is the cgroupfs drivers' RemoveIfEmpty (v1, hybrid, v2)
// over the dirs a manager's Paths reported, each hierarchy's mount found
// from its dir: delete of a stopped container needs no manager build or
// mountinfo parse. Not for the systemd driver, whose cgroups systemd
// removes with the unit. A dir whose mount is not found (gone already,
// say) proves nothing: the caller goes on with a manager.
func RemoveIfEmptyAt(paths map[string]string) error {
	if len(paths) == 0 {
		return errNotProven
	}
	var below string // the dirs' part below their mount, from the first
	for _, k := range order(paths) {
		dir := paths[k]
		// v1 hierarchies hold the container at the same path below each
		// mount (unless linux.cgroupsPath is relative to different own
		// cgroups): one statx confirms the mount there, where finding it
		// costs one per level.
		base, ok := strings.TrimSuffix(dir, below), false
		if below != "" && strings.HasSuffix(dir, below) {
			root, known := isMountRoot(base)
			ok = root && known
		}
		if !ok {
			if base, ok = mountOf(dir); !ok {
				return errNotProven
			}
		}
		if err := removeIfEmpty(base, dir); err != nil {
			return err
		}
		below = strings.TrimPrefix(dir, base)
	}
	return nil
}

// mountOf finds a cgroup dir's hierarchy mount (tests replace it).
var mountOf = hierarchyMount

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
	return openCgroupFD(dir)
}

// openCgroupFD is the O_PATH directory fd of a cgroup2 dir that
// CLONE_INTO_CGROUP takes (every driver's CgroupFD on pure v2).
func openCgroupFD(dir string) (int, error) {
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
		if mnt, ok := mountOf(dir); ok {
			prewarmIn(mnt, "devices")
		}
	}
}

// hierarchyMount is the mount dir of the filesystem dir lies on: the
// nearest of dir and its ancestors that is the root of a mount (statx's
// STATX_ATTR_MOUNT_ROOT, Linux 5.8; older kernels report no mount).
func hierarchyMount(dir string) (string, bool) {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		root, ok := isMountRoot(d)
		if !ok {
			return "", false
		}
		if root {
			return d, true
		}
		if d == "/" {
			return "", false
		}
	}
}

// isMountRoot says whether dir is the root of a mount; ok is false when
// that is not known (no such dir, or a kernel without the attribute).
func isMountRoot(dir string) (root, ok bool) {
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, dir, unix.AT_STATX_DONT_SYNC|unix.AT_NO_AUTOMOUNT, 0, &stx) != nil ||
		stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, false
	}
	return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, true
}
