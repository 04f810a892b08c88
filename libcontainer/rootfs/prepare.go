package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	rspec "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/myrun-org/myrun/libcontainer/internal/procself"
)

// Prepare builds the rootfs before the createContainer hooks: root
// propagation, the rootfs bind mount, every configured mount in order,
// device nodes and /dev symlinks.
func Prepare(cfg *Config) error {
	if cfg.Spec == nil {
		return errors.New("rootfs: no spec")
	}
	if !filepath.IsAbs(cfg.Rootfs) {
		return fmt.Errorf("root.path: %q is not absolute", cfg.Rootfs)
	}
	real, err := filepath.EvalSymlinks(cfg.Rootfs)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	cfg.Rootfs = real
	if !cfg.hasNamespace(rspec.MountNamespace) {
		// Mounting without our own namespace would change the host.
		if len(cfg.Spec.Mounts) > 0 {
			cfg.log().Warn(fmt.Sprintf("no mount namespace: the %d entries of mounts are not applied (they would change the host's mounts)", len(cfg.Spec.Mounts)))
		}
		return nil
	}
	if err := checkHostProc(); err != nil {
		return err
	}
	// Device modes and new directories must not depend on our umask.
	old := unix.Umask(0)
	defer unix.Umask(old)

	if err := cfg.prepareRoot(); err != nil {
		return err
	}
	for i, m := range cfg.Spec.Mounts {
		m := cfg.adjustDevMount(m)
		if err := cfg.step("mount", func() error { return cfg.mountEntry(i, m) },
			"source", m.Source, "destination", m.Destination, "type", m.Type, "options", strings.Join(m.Options, ",")); err != nil {
			return err
		}
	}
	if cfg.devBindMounted() {
		cfg.log().Debug("/dev is a bind mount: devices not created")
		return nil
	}
	devs, fields := cfg.devicesToCreate()
	for i, d := range devs {
		if err := cfg.step("device", func() error { return cfg.createDevice(d) },
			"path", d.Path, "type", d.Type, "major", d.Major, "minor", d.Minor); err != nil {
			return fmt.Errorf("%s: %w", fields[i], err)
		}
	}
	return cfg.step("dev symlinks", cfg.setupDevSymlinks)
}

// prepareRoot makes / a slave (or the configured propagation) so our
// mounts do not reach the host, and turns the rootfs into a mount point
// for pivot_root.
func (c *Config) prepareRoot() error {
	flag := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := c.linux().RootfsPropagation; p != "" {
		pf, err := propagationFlag(p)
		if err != nil {
			return err
		}
		// An unbindable tree cannot be bind-mounted; the rootfs bind
		// below needs it. Finalize applies the final propagation.
		if pf&unix.MS_UNBINDABLE == 0 {
			flag = pf
		}
	}
	if err := c.step("root propagation", func() error { return unix.Mount("", "/", "", flag, "") }, "flags", flag); err != nil {
		return fmt.Errorf("make / %s: %w", c.linux().RootfsPropagation, err)
	}
	if err := c.step("rootfs parent private", c.rootfsParentPrivate); err != nil {
		return err
	}
	return c.step("bind rootfs", func() error {
		return unix.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, "")
	}, "rootfs", c.Rootfs)
}

// rootfsParentPrivate: pivot_root refuses a new root whose parent mount
// is shared, which happens with rootfsPropagation "shared"/"rshared".
func (c *Config) rootfsParentPrivate() error {
	mounts, err := procself.Mounts(mountinfo.ParentsFilter(c.Rootfs))
	if err != nil {
		return err
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) > len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	return unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, "")
}

// adjustDevMount mounts a read-only /dev read-write first: the device
// nodes still have to be created. Finalize makes it read-only.
func (c *Config) adjustDevMount(m rspec.Mount) rspec.Mount {
	if filepath.Clean(m.Destination) != "/dev" {
		return m
	}
	o := parseOptions(m.Options)
	if o.isBind() || m.Type == "bind" || o.flags&unix.MS_RDONLY == 0 {
		return m
	}
	c.devReadonly = true
	var opts []string
	for _, s := range m.Options {
		if s != "ro" {
			opts = append(opts, s)
		}
	}
	m.Options = opts
	return m
}

// devBindMounted: with a bind-mounted /dev the devices come from there.
func (c *Config) devBindMounted() bool {
	for _, m := range c.Spec.Mounts {
		if filepath.Clean(m.Destination) != "/dev" {
			continue
		}
		if m.Type == "bind" {
			return true
		}
		for _, o := range m.Options {
			if o == "bind" || o == "rbind" {
				return true
			}
		}
	}
	return false
}
