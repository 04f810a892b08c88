package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		if err != nil || d != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.text, d, err, c.want)
		}
	}
	if d, err := readStorageConf(filepath.Join(dir, "none")); err != nil || d != (overlay.Driver{}) {
		t.Errorf("no file: %+v %v", d, err)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", "/x/storage.conf")
	if p := storageConfPath(true); p != "/x/storage.conf" {
		t.Errorf("$CONTAINERS_STORAGE_CONF: %s", p)
	}
	t.Setenv("CONTAINERS_STORAGE_CONF", "")
	t.Setenv("XDG_CONFIG_HOME", dir)
	os.MkdirAll(filepath.Join(dir, "containers"), 0o755)
	os.WriteFile(filepath.Join(dir, "containers", "storage.conf"), nil, 0o644)
	if p := storageConfPath(true); p != filepath.Join(dir, "containers", "storage.conf") {
		t.Errorf("user's file: %s", p)
	}
	if p := storageConfPath(false); p != "/etc/containers/storage.conf" {
		t.Errorf("root: %s", p)
	}
}
