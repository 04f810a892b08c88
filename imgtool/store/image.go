package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// HealthConfig is the Docker-format healthcheck, kept in the config's
// "config" object the way docker and podman write it (OCI has no field).
type HealthConfig struct {
	Test          []string      `json:"Test,omitempty"`
	Interval      time.Duration `json:"Interval,omitempty"`
	Timeout       time.Duration `json:"Timeout,omitempty"`
	StartPeriod   time.Duration `json:"StartPeriod,omitempty"`
	StartInterval time.Duration `json:"StartInterval,omitempty"`
	Retries       int           `json:"Retries,omitempty"`
}

// Config is the image-spec execution config plus the Docker-format fields
// Healthcheck, OnBuild and Shell. Readers that only know OCI ignore them.
type Config struct {
	ocispec.ImageConfig
	Healthcheck *HealthConfig `json:"Healthcheck,omitempty"`
	OnBuild     []string      `json:"OnBuild,omitempty"`
	Shell       []string      `json:"Shell,omitempty"`
}

// Image is an image-spec config blob with our Config.
type Image struct {
	Created *time.Time `json:"created,omitempty"`
	Author  string     `json:"author,omitempty"`
	ocispec.Platform
	Config  Config            `json:"config,omitempty"`
	RootFS  ocispec.RootFS    `json:"rootfs"`
	History []ocispec.History `json:"history,omitempty"`
}

// Loaded is a manifest with its config.
type Loaded struct {
	Desc     ocispec.Descriptor // the manifest
	Manifest ocispec.Manifest
	Config   Image
	RawConf  []byte
}

// Load reads and verifies the manifest and config of desc. An image index
// is followed to its host-platform (or only) manifest (PickManifest).
func (s *Store) Load(desc ocispec.Descriptor) (*Loaded, error) {
	b, err := s.ReadBlob(desc)
	if err != nil {
		return nil, err
	}
	if IsIndex(desc.MediaType, b) {
		var idx ocispec.Index
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		m, err := PickManifest(idx)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		return s.Load(m)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest %s: schemaVersion %d is not 2", desc.Digest, m.SchemaVersion)
	}
	cb, err := s.ReadBlob(m.Config)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: config: %w", desc.Digest, err)
	}
	var img Image
	if err := json.Unmarshal(cb, &img); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(img.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: config lists %d diff_ids for %d layers", desc.Digest, len(img.RootFS.DiffIDs), len(m.Layers))
	}
	d := desc
	d.Annotations = nil
	return &Loaded{Desc: d, Manifest: m, Config: img, RawConf: cb}, nil
}

// ImageID is the image ID of desc as myimg prints it: its config's
// digest (hex), or desc's own digest when it does not load.
func (s *Store) ImageID(desc ocispec.Descriptor) string {
	l, err := s.Load(desc)
	if err != nil {
		return desc.Digest.Encoded()
	}
	return l.Manifest.Config.Digest.Encoded()
}

// PutImage writes config and manifest blobs for layers and returns the
// manifest descriptor. Layer blobs must already be in the store.
func (s *Store) PutImage(img Image, layers []ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, error) {
	return s.putImage(img, layers, annotations, ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageManifest)
}

// Docker image manifest v2 schema 2 media types (build --format docker).
const (
	DockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	DockerConfigType   = "application/vnd.docker.container.image.v1+json"
	// DockerManifestListType is the Docker twin of an OCI image index
	// (build --format docker with several platforms).
	DockerManifestListType = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// PutDockerImage is PutImage in the Docker v2s2 format: the same config
// JSON (Docker's config keys are the OCI ones plus Healthcheck, OnBuild,
// Shell, which Image keeps) under Docker media types. layers must carry
// Docker layer media types; v2s2 has no annotations.
func (s *Store) PutDockerImage(img Image, layers []ocispec.Descriptor) (ocispec.Descriptor, error) {
	return s.putImage(img, layers, nil, DockerConfigType, DockerManifestType)
}

func (s *Store) putImage(img Image, layers []ocispec.Descriptor, annotations map[string]string, configType, manifestType string) (ocispec.Descriptor, error) {
	cb, err := json.Marshal(img)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.putManifest(cb, layers, annotations, configType, manifestType)
}

// putManifest stores the config bytes and a manifest over them and
// layers, which must already be in the store.
func (s *Store) putManifest(cb []byte, layers []ocispec.Descriptor, annotations map[string]string, configType, manifestType string) (ocispec.Descriptor, error) {
	cdesc, err := s.PutBytes(configType, cb)
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
	}{2, manifestType, cdesc, layers, annotations}
	mb, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return s.PutBytes(manifestType, mb)
}

// DiffID returns the i-th diff_id as a digest.
func (l *Loaded) DiffID(i int) digest.Digest { return l.Config.RootFS.DiffIDs[i] }
