package build

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/overlay"
)

// kernelMount is the kernel's overlay mount (a variable for the tests).
var kernelMount = overlay.MountOpt

// upperShaping are the overlay options that change what an upper dir
// holds (files without their data, renamed dirs as redirects, hard links
// by index): a step's layer is read from its upper dir, so the steps'
// mounts keep myimg's values (off) of these.
var upperShaping = map[string]bool{"metacopy": true, "redirect_dir": true, "index": true}

// stepMountOpt is the storage's mountopt without the options that would
// change what a step's upper dir holds, saying which it leaves out.
func (b *builder) stepMountOpt() string {
	var keep, left []string
	for _, o := range strings.Split(b.o.Storage.MountOpt, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch {
		case o == "":
		case upperShaping[k] && v != "off":
			left = append(left, o)
		default:
			keep = append(keep, o)
		}
	}
	if len(left) > 0 {
		b.printf("storage: %s: %s not applied to build steps (a step's layer is read from its upper dir, which these would change)\n", b.o.Storage.OptFrom, strings.Join(left, ","))
	}
	return strings.Join(keep, ",")
}

// mountRW makes merged a writable rootfs of dirs (bottom-first) whose
// changes land in upper, with the storage kind of this build (chosen at
// the first mount when none is forced). For vfs, w (when not nil) gets
// the flattened lower the diff compares against.
func (b *builder) mountRW(w *workspace, dirs []string, upper, work, merged string) error {
	if b.kind == "" {
		if err := b.chooseStorage(dirs, upper, work, merged); err != nil || b.kind == overlay.KindKernel {
			return err // the probe mount is the mount
		}
	}
	switch b.kind {
	case overlay.KindKernel:
		if err := kernelMount(dirs, upper, work, merged, b.mountOpt); err != nil {
			return b.kernelErr(err)
		}
		return nil
	case overlay.KindFuse:
		return b.o.Storage.OptErr(overlay.MountFuse(b.fuseProg, dirs, upper, work, merged, b.mountOpt))
	}
	if w == nil {
		return flatten(dirs, merged)
	}
	return w.populate(dirs)
}

func (b *builder) kernelErr(err error) error {
	if oe := b.o.Storage.OptErr(err); oe != err {
		return oe
	}
	if b.o.Storage.Kind() == overlay.KindKernel {
		return fmt.Errorf("%s overlay: %w (fuse-overlayfs: --storage-opt overlay.mount_program=/usr/bin/fuse-overlayfs; a copy: --storage-driver vfs)", orFlag(b.o.Storage.NameFrom, "--storage-driver"), err)
	}
	return err
}

// orFlag is where a setting came from, the flag by default.
func orFlag(from, flag string) string {
	if from == "" {
		return flag
	}
	return from
}

// chooseStorage sets b.kind: the forced one, or the kernel's overlay if
// a mount works (that mount is kept), else fuse-overlayfs if usable,
// else vfs.
func (b *builder) chooseStorage(dirs []string, upper, work, merged string) error {
	k := b.o.Storage.Kind()
	if k != overlay.KindVFS {
		b.mountOpt = b.stepMountOpt()
	}
	switch k {
	case overlay.KindFuse:
		p, err := overlay.FuseUsable(b.o.Storage.MountProgram)
		if err != nil {
			return fmt.Errorf("%s: %w", orFlag(b.o.Storage.ProgFrom, "--storage-opt overlay.mount_program"), err)
		}
		b.kind, b.fuseProg = k, p
		return nil
	case overlay.KindKernel, overlay.KindVFS:
		b.kind = k
		if k == overlay.KindKernel {
			if err := kernelMount(dirs, upper, work, merged, b.mountOpt); err != nil {
				return b.kernelErr(err)
			}
		}
		return nil
	}
	kerr := kernelMount(dirs, upper, work, merged, b.mountOpt)
	if kerr == nil {
		b.kind = overlay.KindKernel
		return nil
	}
	if oe := b.o.Storage.OptErr(kerr); oe != kerr {
		return oe // a refused option is not a reason to fall back
	}
	if p, ferr := overlay.FuseUsable(""); ferr == nil {
		b.kind, b.fuseProg = overlay.KindFuse, p
		b.printf("storage: the kernel's overlay failed (%v): using %s\n", kerr, p)
		return nil
	} else {
		b.kind = overlay.KindVFS
		b.printf("storage: the kernel's overlay failed (%v), fuse-overlayfs cannot be used (%v): copying rootfses (vfs)\n", kerr, ferr)
	}
	return nil
}

// flatten applies the layer dirs (overlay form, bottom-first) onto dst
// as a rootfs: whiteouts delete, opaque dirs hide what is below.
func flatten(dirs []string, dst string) error {
	for _, d := range dirs {
		pr, pw := io.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			pw.CloseWithError(layer.WriteTar(pw, d, layer.WriteOptions{Overlay: true}))
		}()
		err := layer.ExtractTar(pr, dst, layer.ExtractOptions{Mode: layer.Apply, MaxBytes: math.MaxInt64, MaxEntries: math.MaxInt})
		pr.CloseWithError(io.ErrClosedPipe)
		<-done
		if err != nil {
			return fmt.Errorf("vfs: copying layer %s: %w", d, err)
		}
	}
	return nil
}

// scratchDir is a writable copy of the directory src whose writes are
// thrown away (RUN --mount=type=bind,rw), made with the build's kind.
func (b *builder) scratchDir(src, base string, undo *[]func()) (string, error) {
	upper, work, merged := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if b.kind == overlay.KindVFS {
		if out, err := exec.Command("cp", "-a", "--", src+"/.", merged).CombinedOutput(); err != nil {
			return "", fmt.Errorf("copy: %v: %s", err, out)
		}
		return merged, nil
	}
	if err := b.mountRW(nil, []string{src}, upper, work, merged); err != nil {
		return "", err
	}
	*undo = append(*undo, func() { overlay.Unmount(merged) })
	return merged, nil
}
