package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Loaded names one image Load brought in.
type LoadedImage struct {
	Name string
	Desc ocispec.Descriptor
}

// Load reads an oci-archive or a docker-archive (as podman and docker
// save write them) and adds its images to the store. Every blob is
// verified first; nothing is named unless all images load.
func Load(s *store.Store, r io.Reader) (_ []LoadedImage, err error) {
	end, err := s.Import()
	if err != nil {
		return nil, err
	}
	defer func() { end(err != nil) }()
	tmp, err := s.TempDir("load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	z, err := layer.Decompress(r)
	if err != nil {
		return nil, err
	}
	if err := layer.ExtractTar(z, tmp, layer.ExtractOptions{Mode: layer.Apply, Rootless: true}); err != nil {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	var out []LoadedImage
	switch {
	case exists(filepath.Join(tmp, ocispec.ImageLayoutFile)):
		out, err = loadLayout(s, tmp)
	case exists(filepath.Join(tmp, "manifest.json")):
		out, err = loadDocker(s, tmp)
	default:
		return nil, errors.New("archive is neither an oci-archive (no oci-layout) nor a docker-archive (no manifest.json)")
	}
	if err != nil {
		return nil, err
	}
	for _, li := range out {
		if li.Name != "" {
			if err := s.Tag(li.Name, li.Desc); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func loadLayout(s *store.Store, dir string) ([]LoadedImage, error) {
	src := &store.Store{Root: dir}
	idx, err := src.Index()
	if err != nil {
		return nil, err
	}
	var out []LoadedImage
	for _, m := range idx.Manifests {
		// Check everything in the archive before the store sees a byte.
		if _, err := VerifyImage(src, m); err != nil {
			return nil, err
		}
		desc, err := copyImage(src, s, m, Export{})
		if err != nil {
			return nil, err
		}
		out = append(out, LoadedImage{Name: m.Annotations[ocispec.AnnotationRefName], Desc: desc})
	}
	return out, nil
}

// VerifyImage loads the image and checks every layer's diff_id.
func VerifyImage(s *store.Store, desc ocispec.Descriptor) (*store.Loaded, error) {
	l, err := s.Load(desc)
	if err != nil {
		return nil, err
	}
	for i, ld := range l.Manifest.Layers {
		if err := VerifyDiffID(s, ld, l.DiffID(i)); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// VerifyDiffID decompresses a stored layer and compares it with diffID.
func VerifyDiffID(s *store.Store, ld ocispec.Descriptor, diffID digest.Digest) error {
	rc, err := s.Open(ld)
	if err != nil {
		return err
	}
	defer rc.Close()
	return verifyDiffIDStream(rc, ld.Digest.String(), diffID)
}

func verifyDiffIDStream(rc io.Reader, name string, diffID digest.Digest) error {
	if _, err := layer.CopyVerified(io.Discard, rc, diffID); err != nil {
		return fmt.Errorf("layer %s: %w", name, err)
	}
	return nil
}

type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// loadDocker converts a docker-archive: layers are stored as they are
// (plain tar or compressed) after checking them against the config's
// diff_ids.
func loadDocker(s *store.Store, dir string) ([]LoadedImage, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	var out []LoadedImage
	for _, m := range ms {
		cp, err := securejoin.SecureJoin(dir, m.Config)
		if err != nil {
			return nil, err
		}
		cb, err := os.ReadFile(cp)
		if err != nil {
			return nil, fmt.Errorf("manifest.json: config %s: %w", m.Config, err)
		}
		var img store.Image
		if err := json.Unmarshal(cb, &img); err != nil {
			return nil, fmt.Errorf("config %s: %w", m.Config, err)
		}
		if len(img.RootFS.DiffIDs) != len(m.Layers) {
			return nil, fmt.Errorf("config %s lists %d diff_ids for %d layers", m.Config, len(img.RootFS.DiffIDs), len(m.Layers))
		}
		var layers []ocispec.Descriptor
		for i, lp := range m.Layers {
			desc, err := putDockerLayer(s, dir, lp, img.RootFS.DiffIDs[i])
			if err != nil {
				return nil, err
			}
			layers = append(layers, desc)
		}
		var desc ocispec.Descriptor
		if img.OS == "" {
			// Too old to say (docker before 1.11): the bytes must change.
			hp := store.HostPlatform()
			img.OS, img.Architecture, img.Variant = hp.OS, hp.Architecture, hp.Variant
			desc, err = s.PutImage(img, layers, nil)
		} else {
			// The config as it came: its digest is the image ID.
			desc, err = s.PutImageConfig(cb, layers, nil)
		}
		if err != nil {
			return nil, err
		}
		if len(m.RepoTags) == 0 {
			out = append(out, LoadedImage{Desc: desc})
		}
		for _, t := range m.RepoTags {
			out = append(out, LoadedImage{Name: strings.TrimPrefix(t, "docker.io/library/"), Desc: desc})
		}
	}
	return out, nil
}

func putDockerLayer(s *store.Store, dir, lp string, diffID digest.Digest) (ocispec.Descriptor, error) {
	p, err := securejoin.SecureJoin(dir, lp)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", lp, err)
	}
	defer f.Close()
	var magic [4]byte
	io.ReadFull(f, magic[:])
	f.Seek(0, io.SeekStart)
	if err := verifyDiffIDStream(f, lp, diffID); err != nil {
		return ocispec.Descriptor{}, err
	}
	f.Seek(0, io.SeekStart)
	mt := ocispec.MediaTypeImageLayer
	switch {
	case magic[0] == 0x1f && magic[1] == 0x8b:
		mt = ocispec.MediaTypeImageLayerGzip
	case magic == [4]byte{0x28, 0xb5, 0x2f, 0xfd}:
		mt = ocispec.MediaTypeImageLayerZstd
	}
	return s.PutBlob(f, mt, nil)
}
