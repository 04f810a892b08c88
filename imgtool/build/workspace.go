package build

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/layerblob"
	"github.com/myrun-org/myrun/imgtool/overlay"
	"github.com/myrun-org/myrun/imgtool/progress"
	"github.com/myrun-org/myrun/imgtool/unpack"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// workspace is an overlay of the parent's layers with a fresh upper dir:
// whatever a step changes lands in upper, which becomes the layer.
type workspace struct {
	dir, upper, work, merged string
	// lowers are the layer dirs merged is over (fuse-overlayfs' opaque
	// marks are checked against them).
	lowers []string
	// vfs: lower is the flattened rootfs merged was copied from, stamps
	// what merged's entries were then (vfsdiff.go).
	lower  string
	stamps map[string]stamp
}

func (b *builder) newWorkspace() (*workspace, error) {
	b.seq++
	dir := filepath.Join(b.tmp, fmt.Sprintf("ws%d", b.seq))
	w := &workspace{dir: dir, upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work"), merged: filepath.Join(dir, "merged")}
	for _, d := range []string{w.upper, w.work, w.merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The upper dir's root is the rootfs's root: keep it 0755.
	return w, os.Chmod(w.upper, 0o755)
}

func (b *builder) layerDirs(layers []ocispec.Descriptor, diffIDs []digest.Digest) ([]string, error) {
	dirs, err := unpack.EnsureLayers(b.s, layers, diffIDs, func(f string, a ...any) { b.printf(f+"\n", a...) })
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		empty := filepath.Join(b.tmp, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return nil, err
		}
		dirs = []string{empty}
	}
	return dirs, nil
}

func (b *builder) mount(w *workspace, layers []ocispec.Descriptor, diffIDs []digest.Digest) error {
	dirs, err := b.layerDirs(layers, diffIDs)
	if err != nil {
		return err
	}
	w.lowers = dirs
	return b.mountRW(w, dirs, w.upper, w.work, w.merged)
}

// view mounts a read-only rootfs of layers (for COPY --from); it stays
// mounted until the build ends.
func (b *builder) view(layers []ocispec.Descriptor, diffIDs []digest.Digest) (string, error) {
	dirs, err := b.layerDirs(layers, diffIDs)
	if err != nil {
		return "", err
	}
	b.seq++
	dir := filepath.Join(b.tmp, fmt.Sprintf("view%d", b.seq))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if b.kind == "" || b.kind == overlay.KindFuse {
		// fuse-overlayfs has no read-only mounts: a throwaway upper.
		ws, err := b.newWorkspace()
		if err != nil {
			return "", err
		}
		if err := b.mountRW(nil, dirs, ws.upper, ws.work, ws.merged); err != nil {
			return "", err
		}
		if b.kind != overlay.KindVFS {
			b.mounts = append(b.mounts, ws.merged)
		}
		return ws.merged, nil
	}
	if b.kind == overlay.KindVFS {
		return dir, flatten(dirs, dir)
	}
	if len(dirs) == 1 {
		// A read-only overlay wants two lowers: add an empty one.
		empty := filepath.Join(b.tmp, "empty-lower")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return "", err
		}
		dirs = []string{empty, dirs[0]}
	}
	if err := overlay.Mount(dirs, "", "", dir); err != nil {
		return "", err
	}
	b.mounts = append(b.mounts, dir)
	return dir, nil
}

func isEmptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// lowerLayers are what a step's workspace is mounted on: the stage's
// layers, or nothing for COPY --link.
func (r *stageRun) lowerLayers() ([]ocispec.Descriptor, []digest.Digest) {
	if r.link {
		return nil, nil
	}
	return r.layers, r.img.RootFS.DiffIDs
}

// fsStep runs action on a writable rootfs and records the resulting layer
// (or reuses a cached one).
func (r *stageRun) fsStep(createdBy, keyText string, inputs digest.Digest, action func(w *workspace) error) error {
	b := r.b
	key := chainKey(r.key, keyText, inputs)
	h := ocispec.History{CreatedBy: createdBy}
	if !b.o.Layers {
		if r.squash == nil {
			w, err := b.newWorkspace()
			if err != nil {
				return err
			}
			r.squash = w
		}
		if err := b.mount(r.squash, r.layers, r.img.RootFS.DiffIDs); err != nil {
			return err
		}
		err := action(r.squash)
		if uerr := overlay.Unmount(r.squash.merged); err == nil {
			err = uerr
		}
		if err != nil {
			return err
		}
		h.Created, h.EmptyLayer = b.now(), true
		r.img.History = append(r.img.History, h)
		r.key = key
		return nil
	}
	if r.useCache(key) {
		return nil
	}
	w, err := b.newWorkspace()
	if err != nil {
		return err
	}
	defer os.RemoveAll(w.dir)
	lower, lowerIDs := r.lowerLayers()
	if err := b.mount(w, lower, lowerIDs); err != nil {
		return err
	}
	err = action(w)
	if uerr := overlay.Unmount(w.merged); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	return r.commitWorkspace(w, key, h)
}

// useCache applies the cached result of step key, if there is one.
func (r *stageRun) useCache(key digest.Digest) bool {
	rec, ok := r.b.lookup(key)
	if !ok {
		return false
	}
	r.applyRecord(rec)
	r.key = key
	r.b.res.CacheHits++
	r.b.printf("--> Using cache %s\n", key.Encoded())
	return true
}

// lateInputs is a step's inputs digest computed while the step runs.
type lateInputs struct {
	d   digest.Digest
	err error
}

// fsStepLate is fsStep for a step whose inputs digest is still being
// computed: the action runs meanwhile, and its result is dropped when
// the finished key turns out to be cached.
func (r *stageRun) fsStepLate(createdBy func(digest.Digest) string, keyText string, late <-chan lateInputs, action func(w *workspace) error) error {
	b := r.b
	if !b.o.Layers {
		in := <-late
		if in.err != nil {
			return in.err
		}
		return r.fsStep(createdBy(in.d), keyText, in.d, action)
	}
	w, err := b.newWorkspace()
	if err != nil {
		<-late
		return err
	}
	defer os.RemoveAll(w.dir)
	lower, lowerIDs := r.lowerLayers()
	if err = b.mount(w, lower, lowerIDs); err == nil {
		err = action(w)
		if uerr := overlay.Unmount(w.merged); err == nil {
			err = uerr
		}
	}
	in := <-late // always: the hashing goroutine must end
	if err != nil {
		return err
	}
	if in.err != nil {
		return in.err
	}
	key := chainKey(r.key, keyText, in.d)
	if r.useCache(key) {
		return nil
	}
	return r.commitWorkspace(w, key, ocispec.History{CreatedBy: createdBy(in.d)})
}

// commitWorkspace records the step's upper dir as its layer (or as an
// empty layer) under key.
func (r *stageRun) commitWorkspace(w *workspace, key digest.Digest, h ocispec.History) error {
	b := r.b
	h.Created = b.now()
	rec := &cacheRecord{History: h}
	if err := b.finishUpper(w); err != nil {
		return err
	}
	if isEmptyDir(w.upper) {
		rec.History.EmptyLayer = true
	} else {
		desc, diffID, err := b.commitUpper(w)
		if err != nil {
			return err
		}
		rec.Layer, rec.DiffID = &desc, diffID
	}
	b.save(key, rec)
	r.applyRecord(rec)
	r.key = key
	b.printf("--> %s\n", key.Encoded()[:12])
	return nil
}

// commitUpper turns an overlay upper dir into a layer blob, then keeps the
// dir itself as that layer's extracted form (it already is overlay format).
func (b *builder) commitUpper(w *workspace) (ocispec.Descriptor, digest.Digest, error) {
	upper := w.upper
	// Live: the tar stream's bytes against the tree's tar size, as the
	// pull's bars show a blob's; the summary adds the compressed size.
	var total int64
	if progress.IsTerminal(b.o.Out) {
		// A walk of the tree, only where a bar is drawn.
		total = tarSize(upper)
	}
	m := progress.NewMeter(b.o.Out, "layer", total)
	o := b.upperOptions(w)
	o.Clamp = b.o.Timestamp
	desc, diffID, err := layerblob.Put(b.s, b.o.Compression, func(w io.Writer) error {
		return layer.WriteTar(meterWriter{w, m}, upper, o)
	})
	line := m.Done()
	if err != nil {
		return desc, diffID, err
	}
	if m.Bytes() >= progress.BarThreshold {
		if b.o.Compression == layer.None {
			b.printf("%s %s (uncompressed)\n", line, desc.Digest.Encoded()[:12])
		} else {
			b.printf("%s %s (%s %s)\n", line, desc.Digest.Encoded()[:12], progress.Size(desc.Size), b.o.Compression)
		}
	}
	dst := unpack.LayerDir(b.s, diffID)
	if b.kind != overlay.KindKernel {
		// fuse-overlayfs' and the diff's marks are not the kernel's:
		// the layer dir is extracted from the blob when needed.
		return desc, diffID, nil
	}
	if _, err := os.Stat(dst); err != nil {
		if err := os.Rename(upper, dst); err != nil {
			return desc, diffID, err
		}
	}
	return desc, diffID, nil
}

func (r *stageRun) applyRecord(rec *cacheRecord) {
	r.img.History = append(r.img.History, rec.History)
	if rec.Layer != nil {
		r.layers = append(r.layers, *rec.Layer)
		r.img.RootFS.DiffIDs = append(r.img.RootFS.DiffIDs, rec.DiffID)
	}
}

func (r *stageRun) commitSquash() error {
	w := r.squash
	defer os.RemoveAll(w.dir)
	if err := r.b.finishUpper(w); err != nil {
		return err
	}
	if isEmptyDir(w.upper) {
		return nil
	}
	desc, diffID, err := r.b.commitUpper(w)
	if err != nil {
		return err
	}
	r.applyRecord(&cacheRecord{History: ocispec.History{Created: r.b.now(), CreatedBy: "myimg build --layers=false"}, Layer: &desc, DiffID: diffID})
	return nil
}

// meterWriter counts what is written through it.
type meterWriter struct {
	w io.Writer
	m *progress.Meter
}

func (w meterWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.m.Add(0, int64(n))
	return n, err
}

// tarSize is about the size of the tar stream of dir: a header block per
// entry, regular files' data in 512-byte blocks, the two end blocks
// (PAX records for long names and xattrs are not counted). An error
// leaves what was counted: the figure is only shown.
func tarSize(dir string) int64 {
	var n int64 = 1024
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		n += 512
		if d.Type().IsRegular() {
			if st, err := d.Info(); err == nil {
				n += (st.Size() + 511) / 512 * 512
			}
		}
		return nil
	})
	return n
}
