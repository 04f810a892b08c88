package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/unpack"
)

// TestStorageConf: storage.conf's driver and mount_program (either
// place) choose a build's storage as they do buildah's; a driver we have
// not is refused naming the file; $CONTAINERS_STORAGE_CONF and the
// user's file are found.
func TestStorageConf(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		text string
		want overlay.Driver
		err  string
	}{
		{"[storage]\ndriver = \"vfs\"\n", overlay.Driver{Name: "vfs"}, ""},
		{"[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", overlay.Driver{Name: "overlay", MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"[storage]\ndriver = \"overlay\"\n[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", overlay.Driver{Name: "overlay", MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		{"[storage]\ndriver = \"btrfs\"\n", overlay.Driver{}, "driver = \"btrfs\""},
		{"[storage\n", overlay.Driver{}, "storage.conf"},
		// containers-storage's own store: accepted; empty tables too.
		{"[storage]\ndriver = \"vfs\"\nrunroot = \"/run/x\"\ngraphroot = \"/var/x\"\n[storage.options]\nadditionalimagestores = []\npull_options = {enable_partial_images = \"false\", use_hard_links = \"false\"}\n[storage.options.thinpool]\n", overlay.Driver{Name: "vfs"}, ""},
		// mountopt: applied to the mounts (was refused), either place,
		// the overlay table's first; vfs mounts nothing.
		{"[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n", overlay.Driver{Name: "overlay", MountOpt: "nodev"}, ""},
		{"[storage.options]\nmountopt = \"nosuid\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n", overlay.Driver{MountOpt: "nodev"}, ""},
		{"[storage.options]\nmountopt = \"nodev,metacopy=on\"\n", overlay.Driver{MountOpt: "nodev,metacopy=on"}, ""},
		{"[storage]\ndriver = \"vfs\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n", overlay.Driver{Name: "vfs"}, ""},
		// Older podman's rootless file: every option "", which sets nothing.
		{"[storage]\ndriver = \"overlay\"\n[storage.options]\nsize = \"\"\nremap-uids = \"\"\nignore_chown_errors = \"\"\nmount_program = \"/usr/bin/fuse-overlayfs\"\n[storage.options.zfs]\nmountopt = \"\"\n", overlay.Driver{Name: "overlay", MountProgram: "/usr/bin/fuse-overlayfs"}, ""},
		// Not applied: refused naming the key (were dropped).
		{"[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nforce_mask = \"0000\"\n", overlay.Driver{}, "storage.options.overlay.force_mask"},
		{"[storage]\ndrivr = \"vfs\"\n", overlay.Driver{}, "storage.drivr"},
		{"[storage]\ndriver_priority = [\"vfs\"]\n", overlay.Driver{}, "storage.driver_priority"},
		{"[storage.options]\nremap-uids = \"0:1668442479:65536\"\n", overlay.Driver{}, "storage.options.remap-uids"},
		{"[storge]\ndriver = \"vfs\"\n", overlay.Driver{}, "storge.driver"},
	} {
		p := filepath.Join(dir, "storage.conf")
		os.WriteFile(p, []byte(c.text), 0o644)
		d, err := readStorageConf(p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
				t.Errorf("%q: %v, want an error naming %s", c.text, err, c.err)
			}
			continue
		}
		if err != nil || d.Driver != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.text, d, err, c.want)
		}
	}
	if d, err := readStorageConf(filepath.Join(dir, "none")); err != nil || d.Driver != (overlay.Driver{}) {
		t.Errorf("no file: %+v %v", d, err)
	}
	p := filepath.Join(dir, "storage.conf")
	os.WriteFile(p, []byte("[storage.options]\nmountopt = \"nodev\"\n"), 0o644)
	if d, err := readStorageConf(p); err != nil || d.OptFrom != p+": [storage.options] mountopt" {
		t.Errorf("older mountopt: from %q %v", d.OptFrom, err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", "/x/storage.conf")
	if p, named := storageConfPath(true); p != "/x/storage.conf" || !named {
		t.Errorf("$CONTAINERS_STORAGE_CONF: %s %v", p, named)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", "")
	t.Setenv("XDG_CONFIG_HOME", dir)
	os.MkdirAll(filepath.Join(dir, "containers"), 0o755)
	os.WriteFile(filepath.Join(dir, "containers", "storage.conf"), nil, 0o644)
	if p, _ := storageConfPath(true); p != filepath.Join(dir, "containers", "storage.conf") {
		t.Errorf("user's file: %s", p)
	}
	savedEtc, savedUsr := etcStorageConf, usrStorageConf
	t.Cleanup(func() { etcStorageConf, usrStorageConf = savedEtc, savedUsr })
	etcStorageConf, usrStorageConf = filepath.Join(dir, "etc.conf"), filepath.Join(dir, "usr.conf")
	if p, _ := storageConfPath(false); p != usrStorageConf {
		t.Errorf("root, no /etc file: %s, want the packaged one", p)
	}
	os.WriteFile(etcStorageConf, nil, 0o644)
	if p, _ := storageConfPath(false); p != etcStorageConf {
		t.Errorf("root: %s", p)
	}
}

// TestBuildStorageNamesSource: a bad storage value is refused naming
// where it came from: the flag, $STORAGE_DRIVER / $STORAGE_OPTS (were
// named as the flags), or $CONTAINERS_STORAGE_CONF naming a file that is
// not there (was read as no file).
func TestBuildStorageNamesSource(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--storage-driver", "btrfs"}, `--storage-driver "btrfs"`},
		{map[string]string{"STORAGE_DRIVER": "zfs"}, nil, `$STORAGE_DRIVER "zfs"`},
		{map[string]string{"STORAGE_DRIVER": "zfs"}, []string{"--storage-driver", "aufs"}, `--storage-driver "aufs"`},
		{nil, []string{"--storage-opt", "overlay.mountopt=nodev"}, `--storage-opt "overlay.mountopt=nodev"`},
		{map[string]string{"STORAGE_OPTS": "overlay.mount_program=/bin/true,overlay.size=1G"}, nil, `$STORAGE_OPTS "overlay.size=1G"`},
		{map[string]string{"STORAGE_DRIVER": "vfs", "STORAGE_OPTS": "overlay.mount_program=/bin/true"}, nil, "$STORAGE_OPTS overlay.mount_program=/bin/true with $STORAGE_DRIVER vfs: the vfs storage driver mounts nothing"},
		{map[string]string{"CONTAINERS_STORAGE_CONF": "/nonexistent/storage.conf"}, nil, "$CONTAINERS_STORAGE_CONF: stat /nonexistent/storage.conf"},
	} {
		for _, k := range []string{"STORAGE_DRIVER", "STORAGE_OPTS", "CONTAINERS_STORAGE_CONF"} {
			t.Setenv(k, c.env[k])
		}
		var err error
		cmd := &cli.Command{Name: "build", Flags: storageFlags(), Action: func(_ context.Context, cmd *cli.Command) error {
			_, err = storageDriver(cmd)
			return nil
		}}
		if rerr := cmd.Run(context.Background(), append([]string{"build"}, c.args...)); rerr != nil {
			t.Fatalf("%v: %v", c.args, rerr)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want an error with %q", c.env, c.args, err, c.want)
		}
	}
	// Where good values came from, for the build's later errors (a
	// kernel mount refused, fuse-overlayfs not usable): were always
	// named as the flags.
	conf := filepath.Join(t.TempDir(), "storage.conf")
	os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\n[storage.options]\nmount_program = \"/x/fuse\"\n"), 0o644)
	for _, c := range []struct {
		env  map[string]string
		args []string
		want [2]string // NameFrom, ProgFrom
	}{
		{map[string]string{"STORAGE_DRIVER": "overlay"}, nil, [2]string{"$STORAGE_DRIVER", ""}},
		{map[string]string{"STORAGE_OPTS": "overlay.mount_program=/x/fuse"}, []string{"--storage-driver", "overlay"}, [2]string{"--storage-driver", "$STORAGE_OPTS overlay.mount_program"}},
		{map[string]string{"CONTAINERS_STORAGE_CONF": conf}, nil, [2]string{conf + ": [storage] driver", conf + ": [storage.options] mount_program"}},
	} {
		for _, k := range []string{"STORAGE_DRIVER", "STORAGE_OPTS", "CONTAINERS_STORAGE_CONF"} {
			t.Setenv(k, c.env[k])
		}
		var from [2]string
		var err error
		cmd := &cli.Command{Name: "build", Flags: storageFlags(), Action: func(_ context.Context, cmd *cli.Command) error {
			var st unpack.Storage
			st, err = storageDriver(cmd)
			from = [2]string{st.NameFrom, st.ProgFrom}
			return nil
		}}
		if rerr := cmd.Run(context.Background(), append([]string{"build"}, c.args...)); rerr != nil || err != nil || from != c.want {
			t.Errorf("%v %v: from %+v (%v %v), want %+v", c.env, c.args, from, rerr, err, c.want)
		}
	}
}

// TestStorageDriverSources: --storage-driver and --storage-opt are
// global (before or after the verb: the same), else $STORAGE_DRIVER and
// $STORAGE_OPTS, else storage.conf; every bad value is refused naming
// the flag, variable or file and key it came from.
func TestStorageDriverSources(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	t.Setenv("CONTAINERS_STORAGE_CONF", conf)
	t.Setenv("STORAGE_DRIVER", "")
	t.Setenv("STORAGE_OPTS", "")
	resolve := func(args ...string) (unpack.Storage, error) {
		var st unpack.Storage
		var err error
		app := &cli.Command{Name: "myimg", Flags: storageFlags(), Commands: []*cli.Command{{Name: "verb",
			Action: func(_ context.Context, cmd *cli.Command) error { st, err = storageDriver(cmd); return nil }}}}
		if rerr := app.Run(context.Background(), append([]string{"myimg"}, args...)); rerr != nil {
			t.Fatalf("%v: %v", args, rerr)
		}
		return st, err
	}
	fuse := "/usr/bin/fuse-overlayfs"
	for _, args := range [][]string{{"--storage-driver", "vfs", "verb"}, {"verb", "--storage-driver", "vfs"}} {
		if st, err := resolve(args...); err != nil || st.Name != "vfs" || st.From() != "--storage-driver" {
			t.Errorf("%v: %+v %v", args, st, err)
		}
	}
	if st, err := resolve("verb", "--storage-opt", "overlay.mount_program="+fuse); err != nil || st.Kind() != overlay.KindFuse || st.Forced() != "--storage-opt overlay.mount_program="+fuse {
		t.Errorf("--storage-opt: %+v %v", st, err)
	}
	t.Setenv("STORAGE_DRIVER", "vfs")
	if st, err := resolve("verb"); err != nil || st.Kind() != overlay.KindVFS || st.Forced() != "$STORAGE_DRIVER vfs" {
		t.Errorf("$STORAGE_DRIVER: %+v %v", st, err)
	}
	if st, err := resolve("--storage-driver", "overlay", "verb"); err != nil || st.Kind() != overlay.KindKernel {
		t.Errorf("the flag over $STORAGE_DRIVER: %+v %v", st, err)
	}
	t.Setenv("STORAGE_DRIVER", "")
	os.WriteFile(conf, []byte("[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \""+fuse+"\"\n"), 0o644)
	if st, err := resolve("verb"); err != nil || st.Kind() != overlay.KindFuse || st.From() != conf+": [storage.options.overlay] mount_program" {
		t.Errorf("storage.conf: %+v %v", st, err)
	}
	os.WriteFile(conf, []byte("[storage.options]\nmount_program = \""+fuse+"\"\n"), 0o644)
	if st, err := resolve("verb"); err != nil || st.Kind() != overlay.KindFuse || st.Forced() != conf+": [storage.options] mount_program="+fuse {
		t.Errorf("storage.conf's older key: %+v %v", st, err)
	}
	for _, c := range []struct {
		env, args []string
		want      string
	}{
		{nil, []string{"--storage-driver", "btrfs", "verb"}, `--storage-driver "btrfs"`},
		{[]string{"STORAGE_DRIVER", "zfs"}, []string{"verb"}, `$STORAGE_DRIVER "zfs"`},
		{nil, []string{"verb", "--storage-opt", "overlay.mountopt=nodev"}, `--storage-opt "overlay.mountopt=nodev"`},
		{[]string{"STORAGE_OPTS", "overlay.mount_program=" + fuse + ",size=1G"}, []string{"verb"}, `$STORAGE_OPTS "size=1G"`},
		{[]string{"STORAGE_OPTS", "overlay.mount_program=" + fuse}, []string{"--storage-driver", "vfs", "verb"}, "$STORAGE_OPTS overlay.mount_program=" + fuse + " with --storage-driver vfs"},
	} {
		if c.env != nil {
			t.Setenv(c.env[0], c.env[1])
		}
		if _, err := resolve(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want an error naming %s", c.env, c.args, err, c.want)
		}
		if c.env != nil {
			t.Setenv(c.env[0], "")
		}
	}
	os.WriteFile(conf, []byte("[storage]\ndriver = \"aufs\"\n"), 0o644)
	if _, err := resolve("verb"); err == nil || !strings.Contains(err.Error(), conf+": [storage] driver = \"aufs\"") {
		t.Errorf("storage.conf driver aufs: %v", err)
	}
}

// The settings of the storage.conf that Fedora 39/40 install as
// /usr/share/containers/storage.conf (containers-common), and of
// Debian 12's (package containers-storage 1.43), without their comments:
// the keys as they are set there.
const (
	fedoraStorageConf = `[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"

[storage.options]
additionalimagestores = [
]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos=""}

[storage.options.overlay]
mountopt = "nodev,metacopy=on"

[storage.options.thinpool]
`
	debianStorageConf = `[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"

[storage.options]
additionalimagestores = [
]
pull_options = {enable_partial_images = "false", use_hard_links = "false", ostree_repos=""}

[storage.options.overlay]
mountopt = "nodev"

[storage.options.thinpool]
`
)

// TestStockStorageConf: the files distributions ship are accepted
// (review28 refused their mountopt, so every build there failed), the
// kernel's overlay with their mount options.
func TestStockStorageConf(t *testing.T) {
	for name, c := range map[string]struct{ text, opt string }{
		"fedora": {fedoraStorageConf, "nodev,metacopy=on"},
		"debian": {debianStorageConf, "nodev"},
	} {
		p := filepath.Join(t.TempDir(), "storage.conf")
		os.WriteFile(p, []byte(c.text), 0o644)
		st, err := readStorageConf(p)
		if err != nil || st.Driver != (overlay.Driver{Name: "overlay", MountOpt: c.opt}) || st.OptFrom != p+": [storage.options.overlay] mountopt" || st.Kind() != overlay.KindKernel {
			t.Errorf("%s: %+v %v", name, st, err)
		}
	}
}
