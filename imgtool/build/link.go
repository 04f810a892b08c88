package build

import (
	"io"
	"math"
	"os"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/overlay"
)

// linkOnto is COPY/ADD --link under --layers=false: the copy is made on
// an empty root, as its own layer is with --layers=true, and that tree is
// then applied onto the stage's squashed rootfs w as a layer is (a
// directory replaces a symlink or file on the destination path, parents
// take the tree's owner and mode), so both modes give the same rootfs.
// --chown names come from w (the stage so far).
func (r *stageRun) linkOnto(w *workspace, c *copySpec, srcs []source) error {
	b := r.b
	t, err := b.newWorkspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(t.dir)
	if err := b.mount(t, nil, nil); err != nil {
		return err
	}
	if c.chown != "" {
		c.namesRoot = w.merged
		defer func() { c.namesRoot = "" }()
	}
	err = r.copyInto(t.merged, c, srcs)
	if uerr := overlay.Unmount(t.merged); err == nil {
		err = uerr
	}
	if err == nil {
		err = b.finishUpper(t)
	}
	if err != nil {
		return err
	}
	o := b.upperOptions(t)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(layer.WriteTar(pw, t.upper, o))
	}()
	// The budgets are for pulled layers; this one is the build's own copy.
	err = layer.ExtractTar(pr, w.merged, layer.ExtractOptions{Mode: layer.Apply, MaxBytes: math.MaxInt64, MaxEntries: math.MaxInt})
	pr.CloseWithError(io.ErrClosedPipe)
	<-done
	return err
}
