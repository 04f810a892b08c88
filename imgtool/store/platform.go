package store

import (
	"encoding/json"
	"fmt"
	"runtime"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HostPlatform is the platform myimg runs on: what an index resolves to
// (PickManifest), what an image made here without one says (import, a
// docker-archive config with no os), and build's default --platform.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if p.Architecture == "arm" {
		p.Variant = "v7"
	}
	return p
}

// IsIndex tells an image index (or Docker manifest list) from a
// manifest: by the descriptor's media type, the blob's own, or, for a
// blob that names none, by manifests without layers.
func IsIndex(mediaType string, b []byte) bool {
	if mediaType == ocispec.MediaTypeImageIndex || mediaType == DockerManifestListType {
		return true
	}
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
		Layers    []json.RawMessage `json:"layers"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return false
	}
	return probe.MediaType == ocispec.MediaTypeImageIndex || probe.MediaType == DockerManifestListType || (probe.Manifests != nil && probe.Layers == nil)
}

// PickManifest is the manifest of idx myimg uses: the only one, or the
// first for the host's os and architecture (the variant is not matched).
func PickManifest(idx ocispec.Index) (ocispec.Descriptor, error) {
	if len(idx.Manifests) == 1 {
		return idx.Manifests[0], nil
	}
	host := HostPlatform()
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == host.OS && m.Platform.Architecture == host.Architecture {
			return m, nil
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("no %s/%s manifest among %d", host.OS, host.Architecture, len(idx.Manifests))
}
