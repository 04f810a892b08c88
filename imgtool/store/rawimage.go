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
	cdesc, err := s.PutBytes(ocispec.MediaTypeImageConfig, config)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Config        ocispec.Descriptor   `json:"config"`
		Layers        []ocispec.Descriptor `json:"layers"`
		Annotations   map[string]string    `json:"annotations,omitempty"`
	}{2, ocispec.MediaTypeImageManifest, cdesc, layers, annotations}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.PutBytes(ocispec.MediaTypeImageManifest, mb)
}
