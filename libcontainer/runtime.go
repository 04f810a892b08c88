// Package libcontainer is the container lifecycle facade: create, start,
// state, kill, delete and exec over a *specs.Spec, with state kept under a
// root directory. The CLI is a thin layer over it.
package libcontainer

import (
	"log/slog"
	"os"

	"github.com/myrun-org/myrun/libcontainer/cgroups"
	"github.com/myrun-org/myrun/libcontainer/state"
)

// Runtime holds the global settings of one myrun invocation.
type Runtime struct {
	Root      string
	Log       *slog.Logger
	LogFile   *os.File // where init writes its own log lines; nil = stderr
	LogFormat string   // "text" or "json"
	Debug     bool
	Systemd   bool // --systemd-cgroup
	Rootless  bool
	store     *state.Store

	// cgroups caches one manager per container id for this process:
	// New is deterministic, and `run` would otherwise build it five times.
	cgroups map[string]cgroups.Manager
	// RelayInitLogs (run): init keeps its log across the wait for start
	// and we relay its later lines too (WaitInitLogs); a standalone
	// create's init closes it, holding nothing but stdio and the fifo.
	RelayInitLogs bool
	// initLogs relays the log lines of the init this process started.
	initLogs *logRelay
}

// New returns a runtime rooted at root.
func New(root string, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.Default()
	}
	return &Runtime{Root: root, Log: log, LogFormat: "text", store: &state.Store{Root: root}}
}

// List returns the ids of all containers under the root.
func (r *Runtime) List() ([]string, error) { return r.store.List() }
