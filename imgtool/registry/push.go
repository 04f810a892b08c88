package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/logs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// pusher prepares a stored image or index for a push: layers that
// Options.Export compresses get their compressed descriptors, from the
// store's records (archive.Export.Record) when the layer was compressed
// before, or by compressing it into a spool file now; the manifests (and
// indexes) are rewritten for them. Known descriptors let the registry's
// blob check and mounts skip the upload, and so the compression.
type pusher struct {
	s     *store.Store
	o     Options
	e     archive.Export
	dest  name.Repository
	plain bool
	tmp   string // spool files, removed by done

	layers  map[digest.Digest]*pushLayer // by pushed digest
	images  map[digest.Digest]*mountImage
	indexes map[digest.Digest]*storeIndex
}

// pushLayer is one layer as stored (src) and as pushed (dst).
type pushLayer struct {
	src, dst ocispec.Descriptor
	diffID   digest.Digest
	convert  bool   // dst is src compressed by pusher.e
	spool    string // dst's bytes, when compressed for this push
	config   bool
}

func newPusher(s *store.Store, o Options, c *conn) *pusher {
	return &pusher{s: s, o: o, e: o.Export, dest: c.ref.Context(), plain: c.plain,
		layers: map[digest.Digest]*pushLayer{}, images: map[digest.Digest]*mountImage{}, indexes: map[digest.Digest]*storeIndex{}}
}

// done removes the spool files.
func (p *pusher) done() {
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

// prepare returns what to push for the stored manifest or index desc.
func (p *pusher) prepare(desc ocispec.Descriptor) (partial.Describable, ocispec.Descriptor, error) {
	raw, err := p.s.ReadBlob(desc)
	if err != nil {
		return nil, desc, err
	}
	if store.IsIndex(desc.MediaType, raw) {
		return p.index(desc, raw)
	}
	l, err := p.s.Load(desc)
	if err != nil {
		return nil, desc, err
	}
	return p.image(l, raw)
}

// index prepares every entry of an index and rewrites it for them.
func (p *pusher) index(desc ocispec.Descriptor, raw []byte) (partial.Describable, ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, desc, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	out := make([]ocispec.Descriptor, len(idx.Manifests))
	changed := false
	for i, m := range idx.Manifests {
		_, nd, err := p.prepare(m)
		if err != nil {
			return nil, desc, fmt.Errorf("index %s: entry %s: %w", desc.Digest, m.Digest, err)
		}
		out[i] = ocispec.Descriptor{MediaType: m.MediaType, Digest: nd.Digest, Size: nd.Size}
		changed = changed || nd.Digest != m.Digest
	}
	if changed {
		var err error
		if raw, err = archive.RewriteDescs(raw, "manifests", out); err != nil {
			return nil, desc, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	}
	x := &storeIndex{p: p, desc: desc, raw: raw}
	p.indexes[desc.Digest] = x
	return x, desc, nil
}

// image prepares the layers of one image and its manifest.
func (p *pusher) image(l *store.Loaded, raw []byte) (partial.Describable, ocispec.Descriptor, error) {
	desc := l.Desc
	mt := l.Manifest.MediaType
	if mt == "" {
		mt = desc.MediaType
	}
	si := &storeImage{p: p, l: l, layers: map[v1.Hash]*pushLayer{}, config: l.Manifest.Config}
	out := make([]ocispec.Descriptor, len(l.Manifest.Layers))
	changed := false
	for i, d := range l.Manifest.Layers {
		pl, err := p.layer(mt, d, l.DiffID(i))
		if err != nil {
			return nil, desc, err
		}
		h, err := v1.NewHash(pl.dst.Digest.String())
		if err != nil {
			return nil, desc, err
		}
		si.layers[h] = pl
		out[i] = pl.dst
		changed = changed || pl.convert
	}
	if changed {
		var err error
		if raw, err = archive.RewriteDescs(raw, "layers", out); err != nil {
			return nil, desc, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
	}
	si.rawMan = raw
	img, err := partial.CompressedToImage(si)
	if err != nil {
		return nil, desc, err
	}
	mi := &mountImage{Image: img, p: p}
	p.images[desc.Digest] = mi
	return mi, desc, nil
}

// layer decides how layer d goes: as stored, or compressed (its
// descriptor from the record, else compressed into a spool file now).
func (p *pusher) layer(mt string, d ocispec.Descriptor, diffID digest.Digest) (*pushLayer, error) {
	lt, conv, err := p.e.LayerType(mt, d)
	if err != nil {
		return nil, err
	}
	if !conv {
		return &pushLayer{src: d, dst: d, diffID: diffID}, nil
	}
	pl := &pushLayer{src: d, diffID: diffID, convert: true}
	if r, ok := p.e.Record(p.s, diffID); ok {
		pl.dst = r.Layer
		pl.dst.MediaType = lt
	} else {
		if err := p.spool(pl, lt); err != nil {
			return nil, err
		}
	}
	if prev, ok := p.layers[pl.dst.Digest]; ok {
		return prev, nil
	}
	p.layers[pl.dst.Digest] = pl
	return pl, nil
}

// spool compresses pl's layer into a file of the push's temp dir.
func (p *pusher) spool(pl *pushLayer, mt string) error {
	if p.tmp == "" {
		tmp, err := p.s.TempDir("push-")
		if err != nil {
			return err
		}
		p.tmp = tmp
	}
	p.o.log("Compressing blob %s (%s)", pl.diffID.Encoded()[:12], p.e.Format)
	f, err := os.CreateTemp(p.tmp, "layer-*")
	if err != nil {
		return err
	}
	d, err := p.e.Compress(p.s, pl.src, pl.diffID, mt, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	pl.dst, pl.spool = d, f.Name()
	return nil
}

// open reads what is pushed for pl: the stored blob, the spool file, or
// (a layer compressed before, its record naming the blob the registry
// lacks) a new compression, checked against the recorded digest.
func (p *pusher) open(pl *pushLayer) (io.ReadCloser, error) {
	if pl.config {
		p.o.log("Copying config %s", pl.dst.Digest.Encoded()[:12])
	} else {
		p.o.log("Copying blob %s", pl.dst.Digest.Encoded()[:12])
	}
	switch {
	case !pl.convert:
		return p.s.Open(pl.src)
	case pl.spool != "":
		f, err := os.Open(pl.spool)
		if err != nil {
			return nil, err
		}
		return store.NewVerifier(f, pl.dst), nil
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := p.e.Compress(p.s, pl.src, pl.diffID, pl.dst.MediaType, pw)
		pw.CloseWithError(err)
	}()
	return &pipeReader{ReadCloser: store.NewVerifier(pr, pl.dst), pr: pr, done: done, pl: pl}, nil
}

// pipeReader is a layer compressed while it is sent; its bytes must
// be those recorded (the manifest names them).
type pipeReader struct {
	io.ReadCloser
	pr   *io.PipeReader
	done chan struct{}
	pl   *pushLayer
}

func (r *pipeReader) Read(b []byte) (int, error) {
	n, err := r.ReadCloser.Read(b)
	if errors.Is(err, store.ErrVerify) {
		// Compress has recorded what the bytes are now.
		err = fmt.Errorf("layer %s: compressed, it does not match the recorded %s (%w); the record is corrected: push again", r.pl.diffID, r.pl.dst.Digest, err)
	}
	return n, err
}

func (r *pipeReader) Close() error {
	r.pr.Close()
	<-r.done
	return nil
}

// mountFrom names a repository of the destination's registry that a
// compressed layer was pushed to before, for a mount (nil: none).
func (p *pusher) mountFrom(h v1.Hash) name.Reference {
	pl := p.layers[digest.Digest(h.String())]
	if pl == nil || !pl.convert {
		return nil
	}
	r, ok := p.e.Record(p.s, pl.diffID)
	if !ok || r.Layer.Digest != pl.dst.Digest {
		return nil
	}
	for _, repo := range r.Repos {
		if repo == p.dest.Name() || !strings.HasPrefix(repo, p.dest.RegistryStr()+"/") {
			continue
		}
		if ref, err := repoRef(repo, h, p.plain); err == nil {
			return ref
		}
	}
	return nil
}

// remember records, after a push, where its compressed layers now are.
func (p *pusher) remember() {
	for _, pl := range p.layers {
		if pl.convert {
			p.e.Remember(p.s, pl.diffID, pl.dst, p.dest.Name())
		}
	}
}

// progressLog turns go-containerregistry's progress lines into ours.
type progressLog struct{ o Options }

func (w progressLog) Write(b []byte) (int, error) {
	line := strings.TrimSpace(string(b))
	what, h, _ := strings.Cut(line, ": ")
	if _, hex, ok := strings.Cut(h, ":"); ok && len(hex) >= 12 {
		switch what {
		case "existing blob":
			w.o.log("Copying blob %s skipped: already exists", hex[:12])
		case "mounted blob":
			w.o.log("Copying blob %s skipped: mounted from another repository", hex[:12])
		}
	}
	return len(b), nil
}

// hookProgress sends go-containerregistry's progress log to o until the
// returned function is called.
func hookProgress(o Options) func() {
	prev := logs.Progress
	logs.Progress = log.New(progressLog{o}, "", 0)
	return func() { logs.Progress = prev }
}
