// Package rootfs builds a container's root filesystem inside its mount
// namespace: configured mounts, device nodes, /dev symlinks, pivot_root,
// masked and read-only paths. Every path inside the rootfs is resolved
// with pathrs and mounted through a file descriptor, so a symlink swapped
// in after resolution cannot redirect a mount (CVE-2021-30465,
// CVE-2024-45310).
package rootfs

import (
	"io"
	"log/slog"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/internal/logging"
)

// Config is what rootfs needs to know about the container.
type Config struct {
	Spec        *rspec.Spec
	Rootfs      string            // absolute host path of the rootfs
	NoPivot     bool              // MS_MOVE + chroot instead of pivot_root
	InUserNS    bool              // not the initial user namespace
	CgroupPaths map[string]string // subsystem -> host dir; "" or "unified" for cgroup2
	Log         *slog.Logger
	// Bundle, when set, is the base for relative bind-mount sources;
	// otherwise they are relative to the working directory.
	Bundle string
	// IDMapFds are init's fds of the detached idmapped mounts the parent
	// made (IDMappedTrees), by mount index.
	IDMapFds map[int]int
	// MountLabel, when set (SELinux active), labels the filesystems that
	// take a context= option.
	MountLabel string

	devReadonly bool // /dev was asked read-only: made so by Finalize
}

func (c *Config) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c.Log
}

// step runs fn and logs it at debug level with its duration.
func (c *Config) step(msg string, fn func() error, attrs ...any) error {
	return logging.Step(c.log(), msg, fn, attrs...)
}

func (c *Config) linux() *rspec.Linux {
	if c.Spec == nil || c.Spec.Linux == nil {
		return &rspec.Linux{}
	}
	return c.Spec.Linux
}

// hasNamespace reports whether the spec puts the container in (a new or
// an existing) namespace of type t.
func (c *Config) hasNamespace(t rspec.LinuxNamespaceType) bool {
	for _, ns := range c.linux().Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}
