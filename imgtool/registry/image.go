package registry

import (
	"bytes"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// storeImage exposes a stored image to go-containerregistry with the
// manifest it is pushed under (the stored bytes, or those rewritten for
// its compressed layers: see pusher) and the config bytes as stored, so
// the image ID stays ours; layer reads are verified.
type storeImage struct {
	p      *pusher
	l      *store.Loaded
	rawMan []byte
	layers map[v1.Hash]*pushLayer
	config ocispec.Descriptor
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
	if pl, ok := i.layers[h]; ok {
		return &storeLayer{p: i.p, pl: pl, h: h}, nil
	}
	// The config blob is fetched through here too.
	return &storeLayer{p: i.p, pl: &pushLayer{src: i.config, dst: i.config, config: true}, h: h}, nil
}

// mountImage is a v1.Image whose layers that were pushed to another
// repository of the destination's registry are offered for a
// cross-repository mount (go-containerregistry mounts only a
// *remote.MountableLayer).
type mountImage struct {
	v1.Image
	p *pusher
}

func (m mountImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	for i, l := range ls {
		h, err := l.Digest()
		if err != nil {
			return nil, err
		}
		if from := m.p.mountFrom(h); from != nil {
			ls[i] = &remote.MountableLayer{Layer: l, Reference: from}
		}
	}
	return ls, nil
}

type storeLayer struct {
	p  *pusher
	pl *pushLayer
	h  v1.Hash
}

func (l *storeLayer) Digest() (v1.Hash, error) { return l.h, nil }
func (l *storeLayer) Size() (int64, error)     { return l.pl.dst.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.pl.dst.MediaType), nil
}

// Compressed is called only when the registry lacks the blob.
func (l *storeLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.p.open(l.pl)
	if err != nil {
		return nil, err
	}
	if l.p.o.Progress != nil {
		return struct {
			io.Reader
			io.Closer
		}{l.p.o.Progress("blob "+l.pl.dst.Digest.Encoded()[:12], l.pl.dst.Size, rc), rc}, nil
	}
	return rc, nil
}

// storeIndex exposes a stored image index or Docker manifest list, with
// the bytes it is pushed under, and its entries as storeImages (or nested
// lists). Every entry must be in the store: a list is pushed whole or
// not at all.
type storeIndex struct {
	p    *pusher
	desc ocispec.Descriptor
	raw  []byte
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

func (x *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.p.images[digest.Digest(h.String())]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("index %s has no image %s", x.desc.Digest, h)
}

func (x *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	if idx, ok := x.p.indexes[digest.Digest(h.String())]; ok {
		return idx, nil
	}
	return nil, fmt.Errorf("index %s has no index %s", x.desc.Digest, h)
}

// repoRef names blob d in repository repo (registry/repository) for a
// mount, with the destination's plain-HTTP setting.
func repoRef(repo string, d v1.Hash, plain bool) (name.Reference, error) {
	var opts []name.Option
	if plain {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRepository(repo, opts...)
	if err != nil {
		return nil, err
	}
	return r.Digest(d.String()), nil
}
