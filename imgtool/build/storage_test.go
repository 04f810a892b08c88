package build

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/unpack"
)

// TestStorageAutoChoice: with no driver forced, a build takes the
// kernel's overlay when its mount works, else fuse-overlayfs when it is
// in $PATH and /dev/fuse can be opened, else vfs, and says why; forced
// ones are kept (overlay failing names --storage-driver, fuse without
// its device names the device).
func TestStorageAutoChoice(t *testing.T) {
	oldMount, oldDev := kernelMount, overlay.FuseDevice
	t.Cleanup(func() { kernelMount, overlay.FuseDevice = oldMount, oldDev })
	kernelOK := true
	kernelMount = func(_ []string, _, _, _, _ string) error {
		if kernelOK {
			return nil
		}
		return errors.New("operation not permitted")
	}
	bin := t.TempDir()
	prog := filepath.Join(bin, "fuse-overlayfs")
	os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	t.Setenv("PATH", bin)
	dev := filepath.Join(t.TempDir(), "fuse")
	os.WriteFile(dev, nil, 0o666)
	overlay.FuseDevice = dev
	choose := func(d overlay.Driver) (*builder, string, error) {
		var out strings.Builder
		b := &builder{o: Options{Out: &out, Storage: unpack.Storage{Driver: d}}}
		err := b.chooseStorage([]string{"/l"}, "/u", "/w", "/m")
		return b, out.String(), err
	}
	if b, _, err := choose(overlay.Driver{}); err != nil || b.kind != overlay.KindKernel {
		t.Errorf("kernel overlay works: %q %v", b.kind, err)
	}
	kernelOK = false
	if b, out, err := choose(overlay.Driver{}); err != nil || b.kind != overlay.KindFuse || b.fuseProg != prog || !strings.Contains(out, "operation not permitted") {
		t.Errorf("kernel fails, fuse usable: %q %q %v %q", b.kind, b.fuseProg, err, out)
	}
	overlay.FuseDevice = filepath.Join(t.TempDir(), "nofuse")
	if b, out, err := choose(overlay.Driver{}); err != nil || b.kind != overlay.KindVFS || !strings.Contains(out, overlay.FuseDevice) {
		t.Errorf("no fuse device: %q %v %q", b.kind, err, out)
	}
	if _, _, err := choose(overlay.Driver{MountProgram: "fuse-overlayfs"}); err == nil || !strings.Contains(err.Error(), overlay.FuseDevice+", which does not exist") {
		t.Errorf("forced fuse without its device: %v", err)
	}
	// Named where the setting came from (was always the flag).
	bf := &builder{o: Options{Out: io.Discard, Storage: unpack.Storage{Driver: overlay.Driver{MountProgram: "fuse-overlayfs"}, ProgFrom: "$STORAGE_OPTS overlay.mount_program"}}}
	if err := bf.chooseStorage([]string{"/l"}, "/u", "/w", "/m"); err == nil || !strings.HasPrefix(err.Error(), "$STORAGE_OPTS overlay.mount_program: ") {
		t.Errorf("forced fuse from $STORAGE_OPTS: %v", err)
	}
	bk := &builder{o: Options{Out: io.Discard, Storage: unpack.Storage{Driver: overlay.Driver{Name: "overlay"}, NameFrom: "/etc/containers/storage.conf: [storage] driver"}}}
	if err := bk.chooseStorage([]string{"/l"}, "/u", "/w", "/m"); err == nil || !strings.HasPrefix(err.Error(), "/etc/containers/storage.conf: [storage] driver overlay: operation not permitted") {
		t.Errorf("forced kernel overlay from storage.conf: %v", err)
	}
	overlay.FuseDevice = dev
	t.Setenv("PATH", t.TempDir())
	if b, _, err := choose(overlay.Driver{}); err != nil || b.kind != overlay.KindVFS {
		t.Errorf("no fuse-overlayfs: %q %v", b.kind, err)
	}
	if _, _, err := choose(overlay.Driver{Name: "overlay"}); err == nil || !strings.Contains(err.Error(), "--storage-driver overlay") {
		t.Errorf("forced kernel overlay failing: %v", err)
	}
	if b, _, err := choose(overlay.Driver{Name: "vfs"}); err != nil || b.kind != overlay.KindVFS {
		t.Errorf("forced vfs: %q %v", b.kind, err)
	}
	for _, d := range []overlay.Driver{{Name: "btrfs"}, {Name: "vfs", MountProgram: "/usr/bin/fuse-overlayfs"}} {
		if err := d.Check(); err == nil || !strings.Contains(err.Error(), "--storage-") {
			t.Errorf("%+v: %v, want a refusal naming the flag", d, err)
		}
	}
}

// TestStepMountOpt: storage.conf's mountopt reaches the steps' kernel
// overlay mounts but for the options that change what an upper dir
// holds (metacopy=on: files without their data in the layer), which are
// left out with a line naming them; a refused option is an error naming
// the file and key, not a reason to fall back to fuse-overlayfs or vfs.
func TestStepMountOpt(t *testing.T) {
	old := kernelMount
	t.Cleanup(func() { kernelMount = old })
	var got string
	var merr error
	kernelMount = func(_ []string, _, _, _, opt string) error { got = opt; return merr }
	from := "/usr/share/containers/storage.conf: [storage.options.overlay] mountopt"
	var out strings.Builder
	b := &builder{o: Options{Out: &out, Storage: unpack.Storage{Driver: overlay.Driver{MountOpt: "nodev,metacopy=on"}, OptFrom: from}}}
	if err := b.chooseStorage([]string{"/l"}, "/u", "/w", "/m"); err != nil || b.kind != overlay.KindKernel || got != "nodev" ||
		!strings.Contains(out.String(), from+": metacopy=on not applied to build steps") {
		t.Errorf("nodev,metacopy=on: %v %q %q %q", err, b.kind, got, out.String())
	}
	merr = &overlay.OptError{Opt: "bogus", Err: errors.New("invalid argument")}
	b = &builder{o: Options{Out: io.Discard, Storage: unpack.Storage{Driver: overlay.Driver{MountOpt: "bogus"}, OptFrom: from}}}
	if err := b.chooseStorage([]string{"/l"}, "/u", "/w", "/m"); err == nil || !strings.HasPrefix(err.Error(), from+` = "bogus": mount option "bogus": `) {
		t.Errorf("bogus: %v (kind %q)", err, b.kind)
	}
}
