package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
)

// ErrFrozen is returned by CheckBeforeStart. The text is runc's: engines
// and scripts match on it.
var ErrFrozen = errors.New("container's cgroup unexpectedly frozen")

// CheckBeforeStart looks at a container's cgroup before init is placed in
// it. A frozen cgroup (a leftover of a paused container, or one frozen by
// hand) would stop init on its way in, and create would wait for it
// forever: refuse it. It also returns how many processes are in the cgroup
// already (runc warns about those and carries on).
func CheckBeforeStart(m Manager) (int, error) {
	st, err := m.FreezerState()
	if err != nil {
		return 0, fmt.Errorf("unable to get cgroup freezer state: %w", err)
	}
	if st == StateFrozen {
		return 0, ErrFrozen
	}
	if v1, ok := m.(*v1Manager); ok && v1.unified != "" && cgroup2Frozen(v1.unified) {
		// Hybrid: the cgroup2 side has a freezer of its own.
		return 0, ErrFrozen
	}
	if !m.Exists() {
		return 0, nil
	}
	pids, err := m.Pids()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("unable to get cgroup PIDs: %w", err)
	}
	return len(pids), nil
}

// cgroup2Frozen reads cgroup.freeze of dir; a missing dir is not frozen.
func cgroup2Frozen(dir string) bool {
	b, err := smallfile.Read(filepath.Join(dir, "cgroup.freeze"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// CheckUnified refuses linux.resources.unified where no cgroup2 hierarchy
// can take it, before anything is created. The "invalid configuration"
// prefix is runc's wording for the same refusal. Hybrid hosts take the
// keys of the controllers their cgroup2 mount has (and cgroup.* files).
func CheckUnified(r map[string]string, systemd bool) error {
	if len(r) == 0 {
		return nil
	}
	const msg = "invalid configuration: linux.resources.unified: cannot use unified on cgroup v1"
	switch Mode() {
	case ModeV2, "":
		return nil
	case ModeV1:
		return errors.New(msg + " (no cgroup2 mount on this host)")
	}
	if systemd {
		return errors.New(msg + " (the systemd driver cannot write the hybrid cgroup2 mount)")
	}
	for k := range r {
		ctrl, _, ok := strings.Cut(k, ".")
		if !ok {
			return fmt.Errorf("invalid configuration: linux.resources.unified: %q is not a cgroup file name", k)
		}
		if ctrl != "cgroup" && !hasV2Controller(unifiedDir(), ctrl) {
			return fmt.Errorf("%s: %q: controller %s is not on this host's cgroup2 mount", msg, k, ctrl)
		}
	}
	return nil
}

// ThawTree thaws the container's cgroup and every cgroup below it, in
// the v1 freezer and in cgroup2 (cgroup.freeze). A process frozen in a
// sub-cgroup (made by the container or by hand) does not take SIGKILL
// until it is thawed: delete --force would wait for it forever.
func ThawTree(m Manager) {
	for subsys, dir := range m.Paths() {
		file, thawed := "", ""
		switch subsys {
		case "freezer":
			file, thawed = "freezer.state", "THAWED"
		case "", "unified":
			file, thawed = "cgroup.freeze", "0"
		default:
			continue
		}
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			f := filepath.Join(p, file)
			if b, err := smallfile.Read(f); err == nil && strings.TrimSpace(string(b)) != thawed {
				os.WriteFile(f, []byte(thawed), 0)
			}
			return nil
		})
	}
}
