package registry

import (
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/myrun-org/myrun/imgtool/store"
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
