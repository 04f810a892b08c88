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
	"github.com/myrun-org/myrun/imgtool/unpack"
)

// The storage driver of every myimg command that lays out a rootfs
// (build's RUN and COPY steps, run's containers, unpack's bundles),
// named as buildah and podman name it: the global --storage-driver flag,
// else $STORAGE_DRIVER; --storage-opt overlay.mount_program=PATH, else
// $STORAGE_OPTS; when neither is given, storage.conf's [storage] driver
// and [storage.options.overlay] mount_program. Resolved by one function,
// storageDriver, so that no command reads them differently.

// storageFlags are global (persistent) flags: `myimg --storage-driver
// vfs run ...` and `myimg run --storage-driver vfs ...` are the same.
func storageFlags() []cli.Flag {
	// The variables are read by storageDriver, not as the flags' sources:
	// an error then names the one the value came from.
	return []cli.Flag{
		&cli.StringFlag{Name: "storage-driver", Usage: "how a rootfs is laid out (build's RUN and COPY steps, run's containers, unpack's bundles): `overlay` (the kernel's; with --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs that program) or vfs (a copy of the rootfs); default $STORAGE_DRIVER, else storage.conf's, else the kernel's overlay, fuse-overlayfs where that fails, vfs last (rootless run and unpack: always vfs)"},
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
			MountOpt     string `toml:"mountopt"`
			Overlay      struct {
				MountProgram string `toml:"mount_program"`
				MountOpt     string `toml:"mountopt"`
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

// storageDriver is the storage driver of this myimg command: flags,
// environment, storage.conf, each value checked, the errors naming where
// it was set (NameFrom, ProgFrom: the flag, the variable, or the file
// and key).
func storageDriver(cmd *cli.Command) (unpack.Storage, error) {
	var st unpack.Storage
	if names, src := flagOrEnv(cmd, "storage-driver", "STORAGE_DRIVER"); len(names) > 0 {
		st.Name, st.NameFrom = names[0], src
	}
	opts, optsFrom := flagOrEnv(cmd, "storage-opt", "STORAGE_OPTS")
	for _, o := range opts {
		// Comma-separated, as containers-storage reads $STORAGE_OPTS.
		for _, o := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(o, "=")
			if k != "overlay.mount_program" || v == "" {
				return st, fmt.Errorf("%s %q: only overlay.mount_program=PATH is supported", optsFrom, o)
			}
			st.MountProgram, st.ProgFrom = v, optsFrom+" overlay.mount_program"
		}
	}
	if st.Name == "" && st.MountProgram == "" {
		p, named := storageConfPath(overlay.InUserNS() || os.Geteuid() != 0)
		if named {
			if _, err := os.Stat(p); err != nil {
				return st, fmt.Errorf("$CONTAINERS_STORAGE_CONF: %w", err)
			}
		}
		return readStorageConf(p)
	}
	switch st.Name {
	case "", "overlay":
	case "vfs":
		if st.MountProgram != "" {
			return st, fmt.Errorf("%s=%s with %s vfs: the vfs storage driver mounts nothing", st.ProgFrom, st.MountProgram, st.NameFrom)
		}
	default:
		return st, fmt.Errorf("%s %q: want overlay or vfs (fuse-overlayfs: --storage-driver overlay --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs)", st.NameFrom, st.Name)
	}
	return st, nil
}

// readStorageConf is the driver storage.conf at p names (none if there
// is no file), with the file and keys it came from. A key myimg does not
// apply is refused, naming it.
func readStorageConf(p string) (unpack.Storage, error) {
	st := unpack.Storage{NameFrom: p + ": [storage] driver", ProgFrom: p + ": [storage.options.overlay] mount_program"}
	var c storageConf
	md, err := toml.DecodeFile(p, &c)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return st, nil
		}
		return st, fmt.Errorf("%s: %w", p, err)
	}
	var raw map[string]any
	if _, err := toml.DecodeFile(p, &raw); err != nil {
		return st, fmt.Errorf("%s: %w", p, err)
	}
	for _, k := range md.Undecoded() {
		// A table's own key sets nothing (its keys are listed too), nor
		// does an empty string: older podman wrote every option of a
		// rootless user's file as "" (size, remap-uids, ...).
		if key := k.String(); md.Type(k...) != "Hash" && !storeOnlyKeys[key] && !storeOnlyKeys[parentKey(k)] && !emptyString(raw, k) {
			return st, fmt.Errorf("%s: %s: myimg does not apply this setting (it reads [storage] driver, mount_program and mountopt; the store's own locations are accepted)", p, key)
		}
	}
	st.Name, st.MountProgram = c.Storage.Driver, c.Storage.Options.Overlay.MountProgram
	if st.MountProgram == "" && c.Storage.Options.MountProgram != "" {
		st.MountProgram, st.ProgFrom = c.Storage.Options.MountProgram, p+": [storage.options] mount_program"
	}
	// mountopt: the overlay table's, else the older [storage.options] one.
	st.MountOpt, st.OptFrom = c.Storage.Options.Overlay.MountOpt, p+": [storage.options.overlay] mountopt"
	if st.MountOpt == "" && c.Storage.Options.MountOpt != "" {
		st.MountOpt, st.OptFrom = c.Storage.Options.MountOpt, p+": [storage.options] mountopt"
	}
	if st.Name == "vfs" {
		st.MountProgram, st.MountOpt = "", "" // the overlay's: vfs mounts nothing
	}
	if err := st.Check(); err != nil {
		return st, fmt.Errorf("%s: [storage] driver = %q: want overlay or vfs", p, st.Name)
	}
	return st, nil
}

// emptyString reports whether the value at k in the decoded file is "".
func emptyString(raw map[string]any, k toml.Key) bool {
	var v any = raw
	for _, part := range k {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[part]
	}
	return v == ""
}

// parentKey is the table k is in ("storage.options.pull_options" for
// "storage.options.pull_options.use_hard_links").
func parentKey(k toml.Key) string {
	if len(k) < 2 {
		return ""
	}
	return k[:len(k)-1].String()
}
