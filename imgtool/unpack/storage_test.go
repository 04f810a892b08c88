package unpack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/overlay"
)

// TestLayoutRefusesMountsWhereOnlyACopyCanBe: a forced kernel overlay or
// fuse-overlayfs is refused, naming where it was set, with id maps, in a
// rootless unpack and with a --copy it contradicts on the command line;
// vfs and the automatic choice copy there.
func TestLayoutRefusesMountsWhereOnlyACopyCanBe(t *testing.T) {
	kernel := Storage{Driver: overlay.Driver{Name: "overlay"}, NameFrom: "$STORAGE_DRIVER"}
	fuse := Storage{Driver: overlay.Driver{MountProgram: "/usr/bin/fuse-overlayfs"}, ProgFrom: "--storage-opt overlay.mount_program"}
	vfs := Storage{Driver: overlay.Driver{Name: "vfs"}, NameFrom: "--storage-driver"}
	ids := []layer.IDMap{{ContainerID: 0, HostID: 1000, Size: 1}}
	for _, c := range []struct {
		o    Options
		want string // an error naming this, or "" for a copy
	}{
		{Options{Storage: kernel, UIDMap: ids}, "$STORAGE_DRIVER overlay: with --uid-map"},
		{Options{Storage: fuse, InUserNS: true}, "--storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs: a rootless"},
		{Options{Storage: kernel, InUserNS: true}, "$STORAGE_DRIVER overlay: a rootless"},
		{Options{Storage: fuse, Copy: true}, "--copy and --storage-opt overlay.mount_program="},
		{Options{Storage: kernel, Copy: true}, ""}, // --copy over the environment's default
		{Options{Storage: vfs, InUserNS: true}, ""},
		{Options{InUserNS: true}, ""},
		{Options{UIDMap: ids}, ""},
	} {
		k, err := c.o.layout()
		if c.want == "" {
			if err != nil || k != overlay.KindVFS {
				t.Errorf("%+v: %q %v, want a copy", c.o, k, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %q %v, want an error naming %s", c.o, k, err, c.want)
		}
	}
	if os.Geteuid() == 0 && !overlay.InUserNS() {
		for _, st := range []Storage{kernel, fuse, vfs, {}} {
			if k, err := (Options{Storage: st}).layout(); err != nil || k != st.Kind() {
				t.Errorf("root, %+v: %q %v", st, k, err)
			}
		}
	}
}

// TestAutoMountFallsBack: unset, the kernel's overlay when it mounts,
// else fuse-overlayfs when usable, else a copy, with a line saying why
// (here: no /dev/fuse); a forced overlay that fails names its source.
func TestAutoMountFallsBack(t *testing.T) {
	oldMount, oldDev := kernelMount, overlay.FuseDevice
	t.Cleanup(func() { kernelMount, overlay.FuseDevice = oldMount, oldDev })
	var kerr error
	kernelMount = func(_ []string, _, _, _, _ string) error { return kerr }
	overlay.FuseDevice = filepath.Join(t.TempDir(), "nofuse")
	var notes strings.Builder
	st := Storage{Notes: &notes}
	if k, err := st.mount("", []string{"/l"}, "/ov", "/r"); err != nil || k != overlay.KindKernel {
		t.Errorf("kernel overlay works: %q %v", k, err)
	}
	kerr = errors.New("operation not permitted")
	if k, err := st.mount("", []string{"/l"}, "/ov", "/r"); err != nil || k != overlay.KindVFS || !strings.Contains(notes.String(), overlay.FuseDevice) {
		t.Errorf("kernel fails, no fuse: %q %v %q", k, err, notes.String())
	}
	// A mount option refused: named by file and key, no fallback.
	kerr = &overlay.OptError{Opt: "bogus", Err: errors.New("invalid argument")}
	bad := Storage{Driver: overlay.Driver{MountOpt: "nodev,bogus"}, OptFrom: "/etc/containers/storage.conf: [storage.options.overlay] mountopt"}
	if _, err := bad.mount("", []string{"/l"}, "/ov", "/r"); err == nil || !strings.Contains(err.Error(), `/etc/containers/storage.conf: [storage.options.overlay] mountopt = "nodev,bogus": mount option "bogus"`) {
		t.Errorf("refused mountopt: %v", err)
	}
	kerr = errors.New("operation not permitted")
	forced := Storage{Driver: overlay.Driver{Name: "overlay"}, NameFrom: "/etc/containers/storage.conf: [storage] driver"}
	if _, err := forced.mount(forced.Kind(), []string{"/l"}, "/ov", "/r"); err == nil || !strings.Contains(err.Error(), "/etc/containers/storage.conf: [storage] driver overlay: operation not permitted") {
		t.Errorf("forced overlay failing: %v", err)
	}
	fuse := Storage{Driver: overlay.Driver{MountProgram: "fuse-overlayfs"}, ProgFrom: "$STORAGE_OPTS overlay.mount_program"}
	if _, err := fuse.mount(fuse.Kind(), []string{"/l"}, "/ov", "/r"); err == nil || !strings.Contains(err.Error(), "$STORAGE_OPTS overlay.mount_program=fuse-overlayfs: ") {
		t.Errorf("forced fuse without its device: %v", err)
	}
	// fuse-overlayfs usable (in $PATH, the device opens): chosen next;
	// this one exits without mounting, which is an error, not a copy.
	bin, ov := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bin, "fuse-overlayfs"), []byte("#!/bin/sh\nexit 3\n"), 0o755)
	t.Setenv("PATH", bin)
	overlay.FuseDevice = filepath.Join(bin, "fuse")
	os.WriteFile(overlay.FuseDevice, nil, 0o666)
	notes.Reset()
	if k, err := st.mount("", []string{"/l"}, ov, t.TempDir()); k != overlay.KindFuse || err == nil || !strings.Contains(err.Error(), "exited without mounting: exit status 3") ||
		!strings.Contains(notes.String(), "using "+filepath.Join(bin, "fuse-overlayfs")) {
		t.Errorf("kernel fails, fuse usable: %q %v %q", k, err, notes.String())
	}
	if _, err := os.Stat(filepath.Join(ov, fusePidFile)); err == nil {
		t.Errorf("the failed fuse-overlayfs left its pid file")
	}
}
