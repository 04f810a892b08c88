package libcontainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/internal/smallfile"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// recoveryFile holds the little that `delete --force` needs when
// state.json is unreadable (truncated by a crash, overwritten): which
// cgroup to empty and remove, and which process is init. It is written
// beside state.json, separately, so one damaged file does not lose both.
const recoveryFile = "recovery.json"

type recovery struct {
	CgroupsPath   string `json:"cgroups_path"`
	Systemd       bool   `json:"systemd,omitempty"`
	Rootless      bool   `json:"rootless,omitempty"`
	InitPid       int    `json:"init_pid,omitempty"`
	InitStartTime uint64 `json:"init_start_time,omitempty"`
	// PendingCgroups are the directories create was about to make; a
	// create killed between a mkdir and its marker leaves them unmarked,
	// and delete claims them back. Cleared once init is placed.
	PendingCgroups []string `json:"pending_cgroups,omitempty"`
}

func writeRecovery(h *state.Handle, rec recovery) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(h.Dir, "."+recoveryFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(h.Dir, recoveryFile))
}

func readRecovery(h *state.Handle) (recovery, error) {
	var rec recovery
	b, err := smallfile.Read(filepath.Join(h.Dir, recoveryFile))
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(b, &rec)
}

// recoverAndClean kills what the recovery file names and removes its
// cgroup; an unreadable recovery file leaves nothing to do. A cgroup that
// cannot be removed is an error naming it (the caller keeps the state
// directory, as destroy does).
func (r *Runtime) recoverAndClean(h *state.Handle) error {
	defer r.destroyRdt(h)
	rec, err := readRecovery(h)
	if err != nil {
		return nil
	}
	if rec.InitPid > 0 {
		if fd, err := openPidfd(rec.InitPid, rec.InitStartTime); err == nil {
			unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			waitExit(fd, 10*time.Second)
			unix.Close(fd)
		}
	}
	cg, err := cgroups.New(cgroups.Config{Path: rec.CgroupsPath, Name: h.ID, Systemd: rec.Systemd, Rootless: rec.Rootless, Logger: r.Log})
	if err != nil {
		r.Log.Warn("cgroup of the recovery file", "id", h.ID, "error", err)
		return nil
	}
	cgroups.Claim(rec.PendingCgroups)
	if err := destroyCgroup(cg); err != nil {
		return fmt.Errorf("container %s: %w", h.ID, err)
	}
	return nil
}
