package archive

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker media types we accept from other tools' layouts and archives.
const (
	DockerManifest   = "application/vnd.docker.distribution.manifest.v2+json"
	DockerManifestLs = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerConfig     = "application/vnd.docker.container.image.v1+json"
	DockerLayerGzip  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	DockerLayerTar   = "application/vnd.docker.image.rootfs.diff.tar"
	DockerLayerZstd  = "application/vnd.docker.image.rootfs.diff.tar.zstd"
)

// OCILayerType maps a Docker layer media type to its OCI twin.
func OCILayerType(mt string) string {
	switch mt {
	case DockerLayerGzip, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
		return ocispec.MediaTypeImageLayerGzip
	case DockerLayerTar:
		return ocispec.MediaTypeImageLayer
	case DockerLayerZstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return mt
}

// SplitLayoutRef splits "PATH[:TAG]" as the oci: transport of skopeo and
// buildah does: at the first colon, so a tag may hold one
// (oci:DIR:busybox:latest); a path cannot.
func SplitLayoutRef(ref string) (dir, tag string) {
	if i := strings.Index(ref, ":"); i > 0 {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// CopyFromLayout copies the image tagged tag (or the only image when tag
// is empty) from the OCI layout at dir into s, verifying every blob, and
// returns its manifest descriptor. Nothing is written to the store's
// index; blobs that fail verification are not stored.
func CopyFromLayout(s *store.Store, dir, tag string) (ocispec.Descriptor, error) {
	src := &store.Store{Root: dir}
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not an OCI layout: %w", dir, err)
	}
	idx, err := src.Index()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var desc *ocispec.Descriptor
	for i, m := range idx.Manifests {
		rn := m.Annotations[ocispec.AnnotationRefName]
		if tag == "" && len(idx.Manifests) == 1 || tag != "" && (rn == tag || store.NormalizeName(rn) == store.NormalizeName(tag)) {
			desc = &idx.Manifests[i]
			break
		}
	}
	if desc == nil {
		if tag == "" {
			return ocispec.Descriptor{}, fmt.Errorf("layout %s holds %d images: name one with :TAG", dir, len(idx.Manifests))
		}
		return ocispec.Descriptor{}, fmt.Errorf("layout %s: no image tagged %q", dir, tag)
	}
	return copyImage(src, s, *desc, Export{})
}

// copyImage copies manifest (or index), config and layers from src to
// dst; layers that e compresses are written compressed, under a
// manifest rewritten for them (the returned descriptor is then the new
// manifest's).
func copyImage(src, dst *store.Store, desc ocispec.Descriptor, e Export) (ocispec.Descriptor, error) {
	b, err := src.ReadBlob(desc)
	if err != nil {
		return desc, err
	}
	var probe struct {
		MediaType string               `json:"mediaType"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return desc, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if store.IsIndex(desc.MediaType, b) {
		pick, err := store.PickManifest(ocispec.Index{Manifests: probe.Manifests})
		if err != nil {
			return desc, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		return copyImage(src, dst, pick, e)
	}
	if probe.Config == nil {
		return desc, fmt.Errorf("manifest %s: no config", desc.Digest)
	}
	mt := desc.MediaType
	if mt == "" {
		mt = probe.MediaType
	}
	if mt == "" {
		mt = ocispec.MediaTypeImageManifest
	}
	if err := copyBlob(src, dst, *probe.Config); err != nil {
		return desc, err
	}
	layers, changed, err := exportLayers(src, dst, mt, *probe.Config, probe.Layers, e)
	if err != nil {
		return desc, err
	}
	if changed {
		if b, err = RewriteDescs(b, "layers", layers); err != nil {
			return desc, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		desc = ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	}
	out := ocispec.Descriptor{MediaType: mt, Digest: desc.Digest, Size: desc.Size}
	if _, err := dst.PutBlob(bytesReader(b), mt, &out); err != nil {
		return desc, err
	}
	return out, nil
}

func copyBlob(src, dst *store.Store, d ocispec.Descriptor) error {
	if dst.HasBlob(d) {
		return nil
	}
	rc, err := src.Open(d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = dst.PutBlob(rc, d.MediaType, &d)
	return err
}

// exportLayers copies layers to dst, compressing those e compresses, and
// returns their descriptors there (changed: some differ from layers).
func exportLayers(src, dst *store.Store, mt string, cd ocispec.Descriptor, layers []ocispec.Descriptor, e Export) ([]ocispec.Descriptor, bool, error) {
	var diffIDs []digest.Digest
	out := slices.Clone(layers)
	changed := false
	for i, d := range layers {
		lt, conv, err := e.LayerType(mt, d)
		if err != nil {
			return nil, false, err
		}
		if !conv {
			if err := copyBlob(src, dst, d); err != nil {
				return nil, false, err
			}
			continue
		}
		if diffIDs == nil {
			if diffIDs, err = configDiffIDs(src, cd, len(layers)); err != nil {
				return nil, false, err
			}
		}
		c, err := compressInto(src, dst, d, diffIDs[i], lt, e)
		if err != nil {
			return nil, false, err
		}
		out[i].MediaType, out[i].Digest, out[i].Size = c.MediaType, c.Digest, c.Size
		changed = true
	}
	return out, changed, nil
}

// compressInto writes layer d of src compressed into dst (unless a
// record says dst has it already).
func compressInto(src, dst *store.Store, d ocispec.Descriptor, diffID digest.Digest, mt string, e Export) (ocispec.Descriptor, error) {
	if r, ok := e.Record(src, diffID); ok {
		r.Layer.MediaType = mt
		if dst.HasBlob(r.Layer) {
			return r.Layer, nil
		}
	}
	ing, err := dst.NewIngest()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer ing.Abort()
	c, err := e.Compress(src, d, diffID, mt, ing)
	if err != nil {
		return c, err
	}
	return ing.Commit(mt, &c)
}

// configDiffIDs reads the diff_ids of config cd (n of them).
func configDiffIDs(s *store.Store, cd ocispec.Descriptor, n int) ([]digest.Digest, error) {
	cb, err := s.ReadBlob(cd)
	if err != nil {
		return nil, err
	}
	var c ocispec.Image
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", cd.Digest, err)
	}
	if len(c.RootFS.DiffIDs) != n {
		return nil, fmt.Errorf("config %s lists %d diff_ids for %d layers", cd.Digest, len(c.RootFS.DiffIDs), n)
	}
	return c.RootFS.DiffIDs, nil
}
