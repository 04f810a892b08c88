package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newIndex() ocispec.Index {
	return ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{},
	}
}

// Index reads index.json.
func (s *Store) Index() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(s.Root, ocispec.ImageIndexFile))
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("%s: %w", filepath.Join(s.Root, ocispec.ImageIndexFile), err)
	}
	return idx, nil
}

func (s *Store) writeIndex(idx ocispec.Index) error {
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.Root, ocispec.ImageIndexFile), b, 0o644)
}

// UpdateIndex runs fn on index.json under the index lock and writes the
// result atomically.
func (s *Store) UpdateIndex(fn func(*ocispec.Index) error) error {
	unlock, err := s.lockIndex()
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.Index()
	if err != nil {
		return err
	}
	if err := fn(&idx); err != nil {
		return err
	}
	return s.writeIndex(idx)
}

// NormalizeName appends ":latest" when a name has neither tag nor digest.
func NormalizeName(name string) string {
	if strings.Contains(name, "@") {
		return name
	}
	last := name[strings.LastIndex(name, "/")+1:]
	if !strings.Contains(last, ":") {
		return name + ":latest"
	}
	return name
}

// ValidName rejects names that could not be a reference.
func ValidName(name string) error {
	if name == "" || strings.ContainsAny(name, " \t\n\\") || strings.HasPrefix(name, "/") {
		return fmt.Errorf("invalid image name %q", name)
	}
	return nil
}

// Tag points name at desc (a manifest), replacing an older image of that name.
func (s *Store) Tag(name string, desc ocispec.Descriptor) error {
	name = NormalizeName(name)
	if err := ValidName(name); err != nil {
		return err
	}
	desc.Annotations = map[string]string{ocispec.AnnotationRefName: name}
	desc.URLs, desc.Platform, desc.Data = nil, nil, nil
	return s.UpdateIndex(func(idx *ocispec.Index) error {
		out := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			rn := m.Annotations[ocispec.AnnotationRefName]
			// The name replaces an older image of that name, and an
			// untagged entry of this image (AddUntagged).
			if rn != name && !(rn == "" && m.Digest == desc.Digest) {
				out = append(out, m)
			}
		}
		idx.Manifests = append(out, desc)
		return nil
	})
}

// AddUntagged keeps an image that has no name (a build without -t) in
// index.json without a ref name: listed as <none>, found by its ID, and
// dropped by the next prune. An image that is already listed is left.
func (s *Store) AddUntagged(desc ocispec.Descriptor) error {
	desc.Annotations, desc.URLs, desc.Platform, desc.Data = nil, nil, nil, nil
	return s.UpdateIndex(func(idx *ocispec.Index) error {
		for _, m := range idx.Manifests {
			if m.Digest == desc.Digest {
				return nil
			}
		}
		idx.Manifests = append(idx.Manifests, desc)
		return nil
	})
}

// Untag removes names; it fails naming the first unknown one.
func (s *Store) Untag(names ...string) error {
	return s.UpdateIndex(func(idx *ocispec.Index) error {
		for _, n := range names {
			found := false
			out := idx.Manifests[:0]
			for _, m := range idx.Manifests {
				rn := m.Annotations[ocispec.AnnotationRefName]
				if rn == n || rn == NormalizeName(n) {
					found = true
					continue
				}
				out = append(out, m)
			}
			if !found {
				return fmt.Errorf("image %q not known", n)
			}
			idx.Manifests = out
		}
		return nil
	})
}

// RemoveDigest drops every index entry pointing at d.
func (s *Store) RemoveDigest(d digest.Digest) error {
	return s.UpdateIndex(func(idx *ocispec.Index) error {
		out := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Digest != d {
				out = append(out, m)
			}
		}
		idx.Manifests = out
		return nil
	})
}

// Ref is one named image.
type Ref struct {
	Name string
	Desc ocispec.Descriptor
}

// List returns the index entries sorted by name.
func (s *Store) List() ([]Ref, error) {
	idx, err := s.Index()
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, m := range idx.Manifests {
		refs = append(refs, Ref{Name: m.Annotations[ocispec.AnnotationRefName], Desc: m})
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	return refs, nil
}

// Resolve finds a manifest by name (name:tag, name means name:latest), by
// full digest or by a digest hex prefix of at least 6 characters.
func (s *Store) Resolve(ref string) (ocispec.Descriptor, error) {
	refs, err := s.List()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	norm := NormalizeName(ref)
	for _, r := range refs {
		if r.Name != "" && (r.Name == ref || r.Name == norm) {
			return r.Desc, nil
		}
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if len(hex) >= 6 && strings.Trim(hex, "0123456789abcdef") == "" {
		var hit *ocispec.Descriptor
		for i, r := range refs {
			// A hand-edited index.json may hold malformed digests.
			if r.Desc.Digest.Validate() != nil {
				continue
			}
			if strings.HasPrefix(r.Desc.Digest.Encoded(), hex) {
				if hit != nil && hit.Digest != r.Desc.Digest {
					return ocispec.Descriptor{}, fmt.Errorf("image id %q is ambiguous", ref)
				}
				hit = &refs[i].Desc
			}
		}
		if hit == nil {
			// The image ID (config digest) that build -q, images and
			// podman print.
			for i, r := range refs {
				l, err := s.Load(r.Desc)
				if err != nil || !strings.HasPrefix(l.Manifest.Config.Digest.Encoded(), hex) {
					continue
				}
				if hit != nil && hit.Digest != r.Desc.Digest {
					return ocispec.Descriptor{}, fmt.Errorf("image id %q is ambiguous", ref)
				}
				hit = &refs[i].Desc
			}
		}
		if hit != nil {
			d := *hit
			d.Annotations = nil
			return d, nil
		}
		// Also accept a manifest digest present as a blob.
		if d, err := digest.Parse("sha256:" + hex); err == nil {
			if st, err := os.Stat(s.BlobPath(d)); err == nil {
				return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d, Size: st.Size()}, nil
			}
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("image %q not found in store %s", ref, s.Root)
}
