package store

import (
	"encoding/json"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PutImageConfig stores config bytes as they are (the image ID is their
// digest, so a loaded image keeps the ID it had elsewhere) and writes a
// manifest over them and layers, which must already be in the store.
func (s *Store) PutImageConfig(config []byte, layers []ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, error) {
	var img Image
	if err := json.Unmarshal(config, &img); err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.putManifest(config, layers, annotations, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest)
}
