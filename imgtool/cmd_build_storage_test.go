package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v3"

	"github.com/myrun-org/myrun/imgtool/build"
	"github.com/myrun-org/myrun/imgtool/overlay"
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
		// Not applied: refused naming the key (were dropped).
		{"[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmountopt = \"nodev\"\n", overlay.Driver{}, "storage.options.overlay.mountopt"},
		{"[storage]\ndrivr = \"vfs\"\n", overlay.Driver{}, "storage.drivr"},
		{"[storage]\ndriver_priority = [\"vfs\"]\n", overlay.Driver{}, "storage.driver_priority"},
		{"[storage.options]\nremap-uids = \"0:1668442479:65536\"\n", overlay.Driver{}, "storage.options.remap-uids"},
		{"[storge]\ndriver = \"vfs\"\n", overlay.Driver{}, "storge.driver"},
	} {
		p := filepath.Join(dir, "storage.conf")
		os.WriteFile(p, []byte(c.text), 0o644)
		d, _, err := readStorageConf(p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), p) {
				t.Errorf("%q: %v, want an error naming %s", c.text, err, c.err)
			}
			continue
		}
		if err != nil || d != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.text, d, err, c.want)
		}
	}
	if d, _, err := readStorageConf(filepath.Join(dir, "none")); err != nil || d != (overlay.Driver{}) {
		t.Errorf("no file: %+v %v", d, err)
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
		{map[string]string{"STORAGE_DRIVER": "vfs", "STORAGE_OPTS": "overlay.mount_program=/bin/true"}, nil, "$STORAGE_OPTS overlay.mount_program=/bin/true: the vfs storage driver ($STORAGE_DRIVER)"},
		{map[string]string{"CONTAINERS_STORAGE_CONF": "/nonexistent/storage.conf"}, nil, "$CONTAINERS_STORAGE_CONF: stat /nonexistent/storage.conf"},
	} {
		for _, k := range []string{"STORAGE_DRIVER", "STORAGE_OPTS", "CONTAINERS_STORAGE_CONF"} {
			t.Setenv(k, c.env[k])
		}
		var err error
		cmd := &cli.Command{Name: "build", Flags: storageFlags(), Action: func(_ context.Context, cmd *cli.Command) error {
			_, _, err = buildStorage(cmd)
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
		want build.StorageFrom
	}{
		{map[string]string{"STORAGE_DRIVER": "overlay"}, nil, build.StorageFrom{Driver: "$STORAGE_DRIVER"}},
		{map[string]string{"STORAGE_OPTS": "overlay.mount_program=/x/fuse"}, []string{"--storage-driver", "overlay"}, build.StorageFrom{Driver: "--storage-driver", MountProgram: "$STORAGE_OPTS overlay.mount_program"}},
		{map[string]string{"CONTAINERS_STORAGE_CONF": conf}, nil, build.StorageFrom{Driver: conf + ": [storage] driver", MountProgram: conf + ": [storage.options] mount_program"}},
	} {
		for _, k := range []string{"STORAGE_DRIVER", "STORAGE_OPTS", "CONTAINERS_STORAGE_CONF"} {
			t.Setenv(k, c.env[k])
		}
		var from build.StorageFrom
		var err error
		cmd := &cli.Command{Name: "build", Flags: storageFlags(), Action: func(_ context.Context, cmd *cli.Command) error {
			_, from, err = buildStorage(cmd)
			return nil
		}}
		if rerr := cmd.Run(context.Background(), append([]string{"build"}, c.args...)); rerr != nil || err != nil || from != c.want {
			t.Errorf("%v %v: from %+v (%v %v), want %+v", c.env, c.args, from, rerr, err, c.want)
		}
	}
}
