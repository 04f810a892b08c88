package cgroups

import (
	lib "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
)

// FreezerStateAt is FreezerState of the cgroup whose directories a
// manager's Paths reported (a container's state records them), read
// without building a manager: state, start and list ask only this, and a
// manager costs a decode of the config's resources and devices and, for
// cgroupfs, a mountinfo parse. It reads what every driver's FreezerState
// reads: the v1 freezer hierarchy when there is one, else the cgroup2 dir
// ("" key); paths with neither (no cgroup) give "".
func FreezerStateAt(paths map[string]string) (string, error) {
	var (
		st  lib.FreezerState
		err error
	)
	switch {
	case paths["freezer"] != "":
		st, err = (&fs.FreezerGroup{}).GetState(paths["freezer"])
	case paths[""] != "":
		m, merr := fs2.NewManager(&lib.Cgroup{}, paths[""])
		if merr != nil {
			return "", merr
		}
		st, err = m.GetFreezerState()
	default:
		return "", nil
	}
	return freezerString(st), err
}

// FrozenBeforeStartAt is CheckBeforeStart's freezer check over recorded
// paths: frozen in the freezer FreezerStateAt reads, or, on a hybrid host,
// in the cgroup2 side ("unified"), which has a freezer of its own.
func FrozenBeforeStartAt(paths map[string]string) (bool, error) {
	st, err := FreezerStateAt(paths)
	if err != nil {
		return false, err
	}
	return st == StateFrozen || (paths["unified"] != "" && cgroup2Frozen(paths["unified"])), nil
}
