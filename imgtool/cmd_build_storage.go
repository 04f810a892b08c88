package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/overlay"
)

// The storage driver of a build, named as buildah names it: the
// --storage-driver flag ($STORAGE_DRIVER), --storage-opt
// overlay.mount_program=PATH ($STORAGE_OPTS), else storage.conf's
// [storage] driver and [storage.options.overlay] mount_program.

func storageFlags() []cli.Flag {
	// The variables are read by buildStorage, not as the flags' sources:
	// an error then names the one the value came from.
	return []cli.Flag{
		&cli.StringFlag{Name: "storage-driver", Usage: "how RUN and COPY steps get a writable rootfs: `overlay` (the kernel's; with --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs that program) or vfs (a copy of the rootfs, the layer found by comparing); default $STORAGE_DRIVER, else storage.conf's, else the kernel's overlay, fuse-overlayfs where that fails, vfs last"},
		&cli.StringSliceFlag{Name: "storage-opt", Usage: "`overlay.mount_program=PATH`: mount with that program (fuse-overlayfs); default $STORAGE_OPTS (comma-separated)"},
	}
}

// storageConf is what myimg reads of containers-storage's storage.conf.
// Keys it neither applies nor lists in storeOnlyKeys are refused.
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

// storeOnlyKeys are the storage.conf keys that say where and how
// containers-storage keeps its own images (podman's and buildah's store):
// a myimg build neither reads nor writes that store, so they change
// nothing here and are accepted.
var storeOnlyKeys = map[string]bool{
	"storage.runroot":                       true,
	"storage.graphroot":                     true,
	"storage.rootless_storage_path":         true,
	"storage.imagestore":                    true,
	"storage.transient_store":               true,
	"storage.options.additionalimagestores": true,
	"storage.options.pull_options":          true,
}

// storageConfPath is $CONTAINERS_STORAGE_CONF, else the user's file
// (rootless: $XDG_CONFIG_HOME or ~/.config/containers/storage.conf) if
// there is one, else /etc/containers/storage.conf, else the packaged
// /usr/share/containers/storage.conf. named says the path came from
// $CONTAINERS_STORAGE_CONF (it must exist).
func storageConfPath(rootless bool) (p string, named bool) {
	if p := os.Getenv("CONTAINERS_STORAGE_CONF"); p != "" {
		return p, true
	}
	if rootless {
		cfg := os.Getenv("XDG_CONFIG_HOME")
		if cfg == "" && os.Getenv("HOME") != "" {
			cfg = filepath.Join(os.Getenv("HOME"), ".config")
		}
		if p := filepath.Join(cfg, "containers", "storage.conf"); cfg != "" {
			if _, err := os.Stat(p); err == nil {
				return p, false
			}
		}
	}
	if _, err := os.Stat(etcStorageConf); err != nil && errors.Is(err, os.ErrNotExist) {
		return usrStorageConf, false
	}
	return etcStorageConf, false
}

// The system's storage.conf and the packaged default (tests move them).
var (
	etcStorageConf = "/etc/containers/storage.conf"
	usrStorageConf = "/usr/share/containers/storage.conf"
)

// flagOrEnv is a flag's value if given, else the variable's; src names
// where it came from for errors.
func flagOrEnv(cmd *cli.Command, flag, env string) (vals []string, src string) {
	if cmd.IsSet(flag) {
		if _, ok := cmd.Value(flag).([]string); ok {
			return cmd.StringSlice(flag), "--" + flag
		}
		return []string{cmd.String(flag)}, "--" + flag
	}
	if v := os.Getenv(env); v != "" {
		return []string{v}, "$" + env
	}
	return nil, ""
}

// buildStorage is the build's storage driver and, for errors, where its
// settings came from.
func buildStorage(cmd *cli.Command) (overlay.Driver, build.StorageFrom, error) {
	var d overlay.Driver
	var from build.StorageFrom
	names, nameSrc := flagOrEnv(cmd, "storage-driver", "STORAGE_DRIVER")
	if len(names) > 0 {
		d.Name, from.Driver = names[0], nameSrc
	}
	opts, optSrc := flagOrEnv(cmd, "storage-opt", "STORAGE_OPTS")
	for _, opt := range opts {
		// $STORAGE_OPTS is comma-separated, as containers-storage reads it.
		for _, o := range strings.Split(opt, ",") {
			k, v, _ := strings.Cut(o, "=")
			if k != "overlay.mount_program" || v == "" {
				return d, from, fmt.Errorf("%s %q: only overlay.mount_program=PATH is supported", optSrc, o)
			}
			d.MountProgram, from.MountProgram = v, optSrc+" overlay.mount_program"
		}
	}
	switch d.Name {
	case "", "overlay":
	case "vfs":
		if d.MountProgram != "" {
			return d, from, fmt.Errorf("%s overlay.mount_program=%s: the vfs storage driver (%s) mounts nothing", optSrc, d.MountProgram, nameSrc)
		}
	default:
		return d, from, fmt.Errorf("%s %q: want overlay or vfs (fuse-overlayfs: --storage-driver overlay --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs)", nameSrc, d.Name)
	}
	if d.Name != "" || d.MountProgram != "" {
		return d, from, nil
	}
	p, named := storageConfPath(overlay.InUserNS() || os.Geteuid() != 0)
	d, mpKey, err := readStorageConf(p)
	if err == nil && named {
		if _, serr := os.Stat(p); serr != nil {
			err = fmt.Errorf("$CONTAINERS_STORAGE_CONF: %w", serr)
		}
	}
	if d.Name != "" {
		from.Driver = p + ": [storage] driver"
	}
	if d.MountProgram != "" {
		from.MountProgram = p + ": " + mpKey
	}
	return d, from, err
}

// readStorageConf is the driver storage.conf at p names (none if there
// is no file) and the key its mount program was read from. A key myimg
// does not apply is refused, naming it.
func readStorageConf(p string) (d overlay.Driver, mpKey string, err error) {
	var c storageConf
	md, err := toml.DecodeFile(p, &c)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return d, "", nil
		}
		return d, "", fmt.Errorf("%s: %w", p, err)
	}
	for _, k := range md.Undecoded() {
		// A table's own key sets nothing (its keys are listed too).
		if key := k.String(); md.Type(k...) != "Hash" && !storeOnlyKeys[key] && !storeOnlyKeys[parentKey(k)] {
			return d, "", fmt.Errorf("%s: %s: myimg does not apply this setting (it reads [storage] driver and mount_program; the store's own locations are accepted)", p, key)
		}
	}
	d.Name, d.MountProgram = c.Storage.Driver, c.Storage.Options.Overlay.MountProgram
	mpKey = "[storage.options.overlay] mount_program"
	if d.MountProgram == "" {
		d.MountProgram, mpKey = c.Storage.Options.MountProgram, "[storage.options] mount_program"
	}
	if d.Name == "vfs" {
		d.MountProgram = ""
	}
	if err := d.Check(); err != nil {
		return d, "", fmt.Errorf("%s: [storage] driver = %q: want overlay or vfs", p, d.Name)
	}
	return d, mpKey, nil
}

// parentKey is the table k is in ("storage.options.pull_options" for
// "storage.options.pull_options.use_hard_links").
func parentKey(k toml.Key) string {
	if len(k) < 2 {
		return ""
	}
	return k[:len(k)-1].String()
}
