package store

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PruneResult says what Prune removed.
type PruneResult struct {
	Blobs  int
	Bytes  int64
	Layers int
	Cache  int
	// CacheMounts is the number of RUN --mount=type=cache dirs dropped.
	CacheMounts int
	// Untagged is the number of images without a name dropped.
	Untagged int
}

// Prune removes blobs not reachable from index.json, extracted layers no
// image uses and (with cache) the build cache. It holds the GC lock
// exclusively so no writer is adding content meanwhile.
func (s *Store) Prune(cache bool) (PruneResult, error) {
	var res PruneResult
	unlock, err := s.GCLock()
	if err != nil {
		return res, err
	}
	defer unlock()
	if cache {
		ents, _ := os.ReadDir(filepath.Join(s.Root, CacheDir))
		for _, e := range ents {
			if os.Remove(filepath.Join(s.Root, CacheDir, e.Name())) == nil {
				res.Cache++
			}
		}
		// RUN cache mounts: builds using one hold the writer lock, so
		// none is in use now.
		ents, _ = os.ReadDir(filepath.Join(s.Root, CacheMountsDir))
		for _, e := range ents {
			if e.IsDir() && os.RemoveAll(filepath.Join(s.Root, CacheMountsDir, e.Name())) == nil {
				res.CacheMounts++
			}
		}
		os.RemoveAll(filepath.Join(s.Root, CacheMountsDir))
	}
	// Untagged images (AddUntagged) are kept until a prune.
	if err := s.UpdateIndex(func(idx *ocispec.Index) error {
		out := idx.Manifests[:0]
		for _, m := range idx.Manifests {
			if m.Annotations[ocispec.AnnotationRefName] == "" {
				res.Untagged++
				continue
			}
			out = append(out, m)
		}
		idx.Manifests = out
		return nil
	}); err != nil {
		return res, err
	}
	keep, diffIDs, err := s.live()
	if err != nil {
		return res, err
	}
	blobDir := filepath.Join(s.Root, "blobs", "sha256")
	ents, _ := os.ReadDir(blobDir)
	for _, e := range ents {
		if keep[digest.NewDigestFromEncoded(digest.SHA256, e.Name())] {
			continue
		}
		if st, err := e.Info(); err == nil {
			res.Bytes += st.Size()
		}
		if os.Remove(filepath.Join(blobDir, e.Name())) == nil {
			res.Blobs++
		}
	}
	layerDir := filepath.Join(s.Root, LayersDir)
	ents, _ = os.ReadDir(layerDir)
	for _, e := range ents {
		if !diffIDs[e.Name()] {
			if os.RemoveAll(filepath.Join(layerDir, e.Name())) == nil {
				res.Layers++
			}
		}
	}
	// Leftover temp files of crashed writers (we hold the GC lock: no
	// writer runs), unmounting what a killed build left mounted there.
	ents, _ = os.ReadDir(filepath.Join(s.Root, ingestDir))
	for _, e := range ents {
		dir := filepath.Join(s.Root, ingestDir, e.Name())
		if err := unmountUnder(dir); err != nil {
			return res, err
		}
		os.RemoveAll(dir)
	}
	return res, nil
}

// live returns the blobs and extracted layers (by diff_id) in use: reachable
// from index.json, recorded by the build cache, or under a mounted bundle.
func (s *Store) live() (keep map[digest.Digest]bool, diffIDs map[string]bool, err error) {
	idx, err := s.Index()
	if err != nil {
		return nil, nil, err
	}
	keep, diffIDs = map[digest.Digest]bool{}, map[string]bool{}
	var walk func(d ocispec.Descriptor)
	walk = func(d ocispec.Descriptor) {
		if keep[d.Digest] {
			return
		}
		keep[d.Digest] = true
		if d.MediaType != ocispec.MediaTypeImageManifest && d.MediaType != ocispec.MediaTypeImageIndex &&
			d.MediaType != DockerManifestType && d.MediaType != DockerManifestListType {
			return
		}
		b, err := s.ReadBlob(d)
		if err != nil {
			return
		}
		var m struct {
			Config    *ocispec.Descriptor  `json:"config"`
			Layers    []ocispec.Descriptor `json:"layers"`
			Manifests []ocispec.Descriptor `json:"manifests"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		for _, c := range m.Manifests {
			walk(c)
		}
		for _, l := range m.Layers {
			keep[l.Digest] = true
		}
		if m.Config != nil {
			keep[m.Config.Digest] = true
			if cb, err := s.ReadBlob(*m.Config); err == nil {
				var img Image
				if json.Unmarshal(cb, &img) == nil {
					for _, id := range img.RootFS.DiffIDs {
						diffIDs[id.Encoded()] = true
					}
				}
			}
		}
	}
	for _, m := range idx.Manifests {
		walk(m)
	}
	s.liveRecords(keep, diffIDs)
	return keep, diffIDs, nil
}

// liveRecords adds what the build cache records and the bundle records
// of mounted bundles keep: blobs to keep, layers (by diff_id) to keep
// extracted.
func (s *Store) liveRecords(keep map[digest.Digest]bool, diffIDs map[string]bool) {
	// Build-cache records keep their blobs (Prune drops the records first
	// when the cache goes too).
	cacheDir := filepath.Join(s.Root, CacheDir)
	ents, _ := os.ReadDir(cacheDir)
	for _, e := range ents {
		p := filepath.Join(cacheDir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var refs struct {
			Blobs   []digest.Digest `json:"blobs"`
			DiffIDs []digest.Digest `json:"diffIDs"`
		}
		if json.Unmarshal(b, &refs) == nil {
			for _, d := range refs.Blobs {
				keep[d] = true
			}
			for _, d := range refs.DiffIDs {
				diffIDs[d.Encoded()] = true
			}
		}
	}
	// Layers under a mounted bundle stay (see unpack).
	bdir := filepath.Join(s.Root, BundlesDir)
	ents, _ = os.ReadDir(bdir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(bdir, e.Name()))
		if err != nil {
			continue
		}
		var rec struct {
			DiffIDs []digest.Digest `json:"diffIDs"`
		}
		if json.Unmarshal(b, &rec) == nil {
			for _, d := range rec.DiffIDs {
				diffIDs[d.Encoded()] = true
			}
		}
	}
}
