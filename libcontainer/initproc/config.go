// Package initproc is the container side of `myrun init`: everything that
// happens after the nsexec constructor has placed the process in the
// container's namespaces, up to the execve of the user's process.
package initproc

import (
	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// Modes of init.
const (
	ModeInit = "init" // a new container's first process
	ModeExec = "exec" // an additional process in a running container
)

// Config is sent by the parent over the sync socket. Fd fields are numbers
// in the child's fd table, or -1.
type Config struct {
	Mode         string            `json:"mode"`
	ID           string            `json:"id"`
	Spec         *rspec.Spec       `json:"spec"`
	Process      *rspec.Process    `json:"process"`
	Rootfs       string            `json:"rootfs"`
	Bundle       string            `json:"bundle"`
	NoPivot      bool              `json:"no_pivot,omitempty"`
	NoNewKeyring bool              `json:"no_new_keyring,omitempty"`
	CgroupPaths  map[string]string `json:"cgroup_paths,omitempty"`
	// MountLabel is linux.mountLabel when SELinux is active, else empty.
	MountLabel  string `json:"mount_label,omitempty"`
	InUserNS    bool   `json:"in_userns,omitempty"`
	NewUTSNS    bool   `json:"new_utsns,omitempty"`
	PreserveFds int    `json:"preserve_fds"`
	FifoFd      int    `json:"fifo_fd"`
	ConsoleFd   int    `json:"console_fd"`
	LogFd       int    `json:"log_fd"`
	LogFormat   string `json:"log_format,omitempty"`
	Debug       bool   `json:"debug,omitempty"`
	// KeepLog: the log (a pipe to the parent) stays open across the wait
	// for `start`, as `run`'s parent relays our later lines to the log.
	KeepLog   bool `json:"keep_log,omitempty"`
	SeccompFd int  `json:"seccomp_fd"` // connected listenerPath socket
	// IDMapFds are the detached idmapped mounts the parent made, by
	// mount index (rootfs.IDMappedTrees).
	IDMapFds map[int]int `json:"idmap_fds,omitempty"`
	HostPid  int         `json:"host_pid"` // our pid as the runtime sees it
	// Hooks tells init whether the parent has prestart/createRuntime hooks
	// to run, so the round trip is skipped when there are none.
	ParentHooks bool `json:"parent_hooks,omitempty"`
	// UnshareCgroupNS: create the cgroup namespace here, on the thread
	// that execs, now that the parent has placed us in our cgroup.
	UnshareCgroupNS bool `json:"unshare_cgroupns,omitempty"`
	// ProcessIsSpec: Process was left out because it is Spec.Process.
	ProcessIsSpec bool `json:"process_is_spec,omitempty"`
	// SpecJSON, parent side only, is Spec's JSON as read; it is sent
	// instead of encoding Spec again (see configjson.go).
	SpecJSON []byte `json:"-"`
}
