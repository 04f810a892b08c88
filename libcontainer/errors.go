package libcontainer

import (
	"errors"
	"fmt"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// Errors that engines and scripts written for runc recognise by a
// substring of the message. The words are runc's, the rest is ours; each
// row of Messages has an integration test (TestRuncMessages) that
// provokes it under both runtimes.
var (
	ErrNotExist      = state.ErrNotExist // "container does not exist"
	ErrExist         = state.ErrExist    // "container with given ID already exists"
	ErrNotRunning    = errNotRunning     // "container not running"
	ErrNotPaused     = errors.New("container not paused")
	ErrExecPaused    = errors.New("cannot exec in a paused container (use --ignore-paused to override)")
	ErrInvalidConfig = errors.New("invalid configuration")
	ErrFrozen        = cgroups.ErrFrozen // "container's cgroup unexpectedly frozen"
)

// Message is one row of the table: what provokes it, the substring
// callers match and the error that carries it.
type Message struct {
	Case      string
	Substring string
	Err       error
}

// Messages lists every message of runc's that we keep word for word.
var Messages = []Message{
	{"unknown container id", "does not exist", ErrNotExist},
	{"create/run with an id in use", "already exists", ErrExist},
	{"kill, update, pause or ps of a stopped container", "container not running", ErrNotRunning},
	{"resume of a running container", "container not paused", ErrNotPaused},
	{"start of a running container", "cannot start an already running container", errStartRunning},
	{"start of a stopped container", "cannot start a container that has stopped", errStartStopped},
	{"start of a paused container", "cannot start a container in the paused state", errStartPaused},
	{"delete of a running container without --force", "is not stopped", errNotStopped},
	{"exec into a paused container without --ignore-paused", "cannot exec in a paused container", ErrExecPaused},
	{"exec into a stopped container", "cannot exec in a stopped container", errExecStopped},
	{"config.json that fails validation", "invalid configuration", ErrInvalidConfig},
	{"a frozen pre-existing cgroup", "container's cgroup unexpectedly frozen", ErrFrozen},
	{"rootless limits without a delegated cgroup", "permission denied", cgroups.ErrRootlessNoCgroup},
}

var (
	errStartRunning = errors.New("cannot start an already running container")
	errStartStopped = errors.New("cannot start a container that has stopped")
	errStartPaused  = errors.New("cannot start a container in the paused state")
	errNotStopped   = errors.New("is not stopped")
	errExecStopped  = errors.New("cannot exec in a stopped container")
)

// invalidConfig marks a validation error the way runc words it.
func invalidConfig(err error) error {
	return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
}
