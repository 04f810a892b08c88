package registry

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// storeImage exposes a stored image to go-containerregistry with the
// manifest and config bytes exactly as stored (so the pushed digest is
// ours) and layer reads verified by the store.
type storeImage struct {
	s       *store.Store
	l       *store.Loaded
	rawMan  []byte
	o       Options
	byDiges map[v1.Hash]ocispec.Descriptor
}

func newStoreImage(s *store.Store, l *store.Loaded, o Options) (v1.Image, error) {
	raw, err := s.ReadBlob(l.Desc)
	if err != nil {
		return nil, err
	}
	si := &storeImage{s: s, l: l, rawMan: raw, o: o, byDiges: map[v1.Hash]ocispec.Descriptor{}}
	for _, d := range l.Manifest.Layers {
		h, err := v1.NewHash(d.Digest.String())
		if err != nil {
			return nil, err
		}
		si.byDiges[h] = d
	}
	return partial.CompressedToImage(si)
}

func (i *storeImage) RawConfigFile() ([]byte, error) { return i.l.RawConf, nil }
func (i *storeImage) RawManifest() ([]byte, error)   { return i.rawMan, nil }
func (i *storeImage) MediaType() (types.MediaType, error) {
	if i.l.Manifest.MediaType != "" {
		return types.MediaType(i.l.Manifest.MediaType), nil
	}
	return types.OCIManifestSchema1, nil
}

func (i *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, ok := i.byDiges[h]; ok {
		return &storeLayer{i: i, d: d, h: h}, nil
	}
	// The config blob is fetched through here too.
	cd := i.l.Manifest.Config
	return &storeLayer{i: i, d: cd, h: h}, nil
}

type storeLayer struct {
	i *storeImage
	d ocispec.Descriptor
	h v1.Hash
}

func (l *storeLayer) Digest() (v1.Hash, error) { return l.h, nil }
func (l *storeLayer) Size() (int64, error)     { return l.d.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.d.MediaType), nil
}
func (l *storeLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.i.s.Open(l.d)
	if err != nil {
		return nil, err
	}
	if l.i.o.Progress != nil {
		return struct {
			io.Reader
			io.Closer
		}{l.i.o.Progress("blob "+l.d.Digest.Encoded()[:12], l.d.Size, rc), rc}, nil
	}
	return rc, nil
}

// storeIndex exposes a stored image index or Docker manifest list, with
// its bytes as stored, and its entries as storeImages (or nested lists).
// Every entry must be in the store: a list is pushed whole or not at all.
type storeIndex struct {
	s    *store.Store
	desc ocispec.Descriptor
	raw  []byte
	o    Options
}

func newStoreIndex(s *store.Store, desc ocispec.Descriptor, raw []byte, o Options) *storeIndex {
	return &storeIndex{s: s, desc: desc, raw: raw, o: o}
}

func (x *storeIndex) MediaType() (types.MediaType, error) {
	m, err := x.IndexManifest()
	if err != nil {
		return "", err
	}
	if m.MediaType != "" {
		return m.MediaType, nil
	}
	return types.OCIImageIndex, nil
}
func (x *storeIndex) Digest() (v1.Hash, error)     { return v1.NewHash(x.desc.Digest.String()) }
func (x *storeIndex) Size() (int64, error)         { return int64(len(x.raw)), nil }
func (x *storeIndex) RawManifest() ([]byte, error) { return x.raw, nil }
func (x *storeIndex) IndexManifest() (*v1.IndexManifest, error) {
	return v1.ParseIndexManifest(bytes.NewReader(x.raw))
}

func (x *storeIndex) child(h v1.Hash) (ocispec.Descriptor, error) {
	m, err := x.IndexManifest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, d := range m.Manifests {
		if d.Digest == h {
			return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(h.String()), Size: d.Size}, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("index %s has no entry %s", x.desc.Digest, h)
}

func (x *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	l, err := x.s.Load(d)
	if err != nil {
		return nil, fmt.Errorf("index %s: entry %s: %w", x.desc.Digest, h, err)
	}
	return newStoreImage(x.s, l, x.o)
}

func (x *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := x.child(h)
	if err != nil {
		return nil, err
	}
	raw, err := x.s.ReadBlob(d)
	if err != nil {
		return nil, fmt.Errorf("index %s: entry %s: %w", x.desc.Digest, h, err)
	}
	return newStoreIndex(x.s, d, raw, x.o), nil
}
