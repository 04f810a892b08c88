package archive

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/myrun-org/myrun/imgtool/store"
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
	return copyImage(src, s, *desc)
}

// copyImage copies manifest (or index), config and layers from src to dst.
func copyImage(src, dst *store.Store, desc ocispec.Descriptor) (ocispec.Descriptor, error) {
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
		return copyImage(src, dst, pick)
	}
	if probe.Config == nil {
		return desc, fmt.Errorf("manifest %s: no config", desc.Digest)
	}
	for _, d := range append([]ocispec.Descriptor{*probe.Config}, probe.Layers...) {
		if dst.HasBlob(d) {
			continue
		}
		rc, err := src.Open(d)
		if err != nil {
			return desc, err
		}
		_, err = dst.PutBlob(rc, d.MediaType, &d)
		rc.Close()
		if err != nil {
			return desc, err
		}
	}
	mt := desc.MediaType
	if mt == "" {
		mt = probe.MediaType
	}
	if mt == "" {
		mt = ocispec.MediaTypeImageManifest
	}
	out := ocispec.Descriptor{MediaType: mt, Digest: desc.Digest, Size: desc.Size}
	if _, err := dst.PutBlob(bytesReader(b), mt, &out); err != nil {
		return desc, err
	}
	return out, nil
}
