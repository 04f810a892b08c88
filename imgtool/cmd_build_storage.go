package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/overlay"
)

// The storage driver of a build, named as buildah names it: the
// --storage-driver flag ($STORAGE_DRIVER), --storage-opt
// overlay.mount_program=PATH ($STORAGE_OPTS), else storage.conf's
// [storage] driver and [storage.options.overlay] mount_program.

func storageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "storage-driver", Sources: cli.EnvVars("STORAGE_DRIVER"), Usage: "how RUN and COPY steps get a writable rootfs: `overlay` (the kernel's; with --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs that program) or vfs (a copy of the rootfs, the layer found by comparing); default storage.conf's, else the kernel's overlay, fuse-overlayfs where that fails, vfs last"},
		&cli.StringSliceFlag{Name: "storage-opt", Sources: cli.EnvVars("STORAGE_OPTS"), Usage: "`overlay.mount_program=PATH`: mount with that program (fuse-overlayfs)"},
	}
}

// storageConf is what myimg reads of containers-storage's storage.conf
// (its other settings are about containers-storage's own store).
type storageConf struct {
	Storage struct {
		Driver  string `toml:"driver"`
		Options struct {
			MountProgram string `toml:"mount_program"`
			Overlay      struct {
				MountProgram string `toml:"mount_program"`
			} `toml:"overlay"`
		} `toml:"options"`
	} `toml:"storage"`
}

// storageConfPath is $CONTAINERS_STORAGE_CONF, else the user's file
// (rootless: $XDG_CONFIG_HOME or ~/.config/containers/storage.conf) if
// there is one, else /etc/containers/storage.conf.
func storageConfPath(rootless bool) string {
	if p := os.Getenv("CONTAINERS_STORAGE_CONF"); p != "" {
		return p
	}
	if rootless {
		cfg := os.Getenv("XDG_CONFIG_HOME")
		if cfg == "" && os.Getenv("HOME") != "" {
			cfg = filepath.Join(os.Getenv("HOME"), ".config")
		}
		if p := filepath.Join(cfg, "containers", "storage.conf"); cfg != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return "/etc/containers/storage.conf"
}

func buildStorage(cmd *cli.Command) (overlay.Driver, error) {
	var d overlay.Driver
	d.Name = cmd.String("storage-driver")
	for _, opts := range cmd.StringSlice("storage-opt") {
		// $STORAGE_OPTS is comma-separated, as containers-storage reads it.
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			if k != "overlay.mount_program" || v == "" {
				return d, fmt.Errorf("--storage-opt %q: only overlay.mount_program=PATH is supported", o)
			}
			d.MountProgram = v
		}
	}
	if d.Name != "" || d.MountProgram != "" {
		return d, nil
	}
	return readStorageConf(storageConfPath(overlay.InUserNS() || os.Geteuid() != 0))
}

// readStorageConf is the driver storage.conf at p names (none if there
// is no file).
func readStorageConf(p string) (overlay.Driver, error) {
	var d overlay.Driver
	var c storageConf
	if _, err := toml.DecodeFile(p, &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return d, nil
		}
		return d, fmt.Errorf("%s: %w", p, err)
	}
	d.Name, d.MountProgram = c.Storage.Driver, c.Storage.Options.Overlay.MountProgram
	if d.MountProgram == "" {
		d.MountProgram = c.Storage.Options.MountProgram
	}
	if d.Name == "vfs" {
		d.MountProgram = ""
	}
	if err := d.Check(); err != nil {
		return d, fmt.Errorf("%s: [storage] driver = %q: want overlay or vfs", p, d.Name)
	}
	return d, nil
}
