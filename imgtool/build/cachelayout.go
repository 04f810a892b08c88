package build

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// A build cache exported to an OCI layout (--cache-to) is one artifact
// manifest: its config lists the step records by cache key, its layers
// are the layer blobs those records name. --cache-from reads it back; a
// step found there copies (and verifies) its layer into the store.
const (
	cacheArtifactType = "application/vnd.myimg.buildcache.v1"
	cacheConfigType   = "application/vnd.myimg.buildcache.config.v1+json"
	defaultCacheTag   = "buildcache"
)

// CacheRef is an OCI layout holding a build cache (--cache-from/--cache-to).
type CacheRef struct {
	Dir, Tag string
	// Registry is a registry reference (host/repo:tag) instead of a layout.
	Registry string
}

// ParseCacheRef reads oci:PATH[:TAG], or BuildKit's type=local with
// src= (from) or dest= (to), optionally tag=.
func ParseCacheRef(flag, s string) (CacheRef, error) {
	var r CacheRef
	switch {
	case strings.HasPrefix(s, "oci:"):
		r.Dir, r.Tag = archive.SplitLayoutRef(strings.TrimPrefix(s, "oci:"))
	case strings.HasPrefix(s, "type="):
		// The type decides which options mean anything.
		typ := ""
		for _, kv := range strings.Split(s, ",") {
			if v, ok := strings.CutPrefix(kv, "type="); ok {
				typ = v
			}
		}
		if typ == "registry" {
			for _, kv := range strings.Split(s, ",") {
				if v, ok := strings.CutPrefix(kv, "ref="); ok {
					r.Registry = v
				} else if !strings.HasPrefix(kv, "type=") {
					return r, fmt.Errorf("%s %q: option %s is not supported", flag, s, kv)
				}
			}
			if r.Registry == "" {
				return r, fmt.Errorf("%s %q: no ref=", flag, s)
			}
			return r, nil
		}
		if typ != "local" {
			return r, fmt.Errorf("%s %q: type %s is not supported (want type=local, type=registry or oci:PATH)", flag, s, typ)
		}
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return r, fmt.Errorf("%s %q: %q is not key=value", flag, s, kv)
			}
			switch k {
			case "type":
			case "src", "dest":
				if (k == "src") != (flag == "--cache-from") {
					return r, fmt.Errorf("%s %q: %s= belongs to --cache-%s", flag, s, k, map[string]string{"src": "from", "dest": "to"}[k])
				}
				r.Dir = v
			case "tag":
				r.Tag = v
			case "mode", "compression", "oci-mediatypes", "image-manifest", "ignore-error":
				return r, fmt.Errorf("%s %q: option %s is not supported (the cache of every step of the build is exported)", flag, s, k)
			default:
				return r, fmt.Errorf("%s %q: unknown option %s", flag, s, k)
			}
		}
	case strings.Contains(s, "/") && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "."):
		// host/repo[:tag], as buildah's --cache-from/--cache-to take it.
		r.Registry = strings.TrimPrefix(s, "docker://")
		return r, nil
	default:
		return r, fmt.Errorf("%s %q: want oci:PATH[:TAG], type=local,%s=PATH or a registry repository host/repo", flag, s, map[bool]string{true: "src", false: "dest"}[flag == "--cache-from"])
	}
	if r.Dir == "" {
		return r, fmt.Errorf("%s %q: no directory", flag, s)
	}
	if r.Tag == "" {
		r.Tag = defaultCacheTag
	}
	abs, err := filepath.Abs(r.Dir)
	if err != nil {
		return r, err
	}
	r.Dir = abs
	return r, nil
}

type cacheConfig struct {
	Records map[string]cacheRecord `json:"records"` // by cache key
	// RootFS lists the layers' diff_ids, so that registries and our
	// pull and push take the artifact as they take an image.
	RootFS ocispec.RootFS `json:"rootfs"`
}

type importedRecord struct {
	rec cacheRecord
	src *store.Store
}

// importCaches reads every --cache-from layout's records. A layout that
// does not exist yet is no error (BuildKit and buildah say the same: the
// first build has no cache to read); a broken one is.
func (b *builder) importCaches() error {
	b.imported = map[digest.Digest]importedRecord{}
	for i, ref := range b.o.CacheFrom {
		var src *store.Store
		var desc ocispec.Descriptor
		if ref.Registry != "" {
			if b.o.CacheRegistry == nil {
				return fmt.Errorf("--cache-from %s: no registry access configured", ref.Registry)
			}
			tmp, err := store.Open(filepath.Join(b.tmp, fmt.Sprintf("cache-from-%d", i)))
			if err != nil {
				return err
			}
			if desc, err = b.o.CacheRegistry.Pull(tmp, ref.Registry); err != nil {
				// The first build has nothing to read: a warning, as buildah.
				b.printf("[Warning] --cache-from %s: %v\n", ref.Registry, err)
				continue
			}
			src, ref.Dir, ref.Tag = tmp, ref.Registry, "(registry)"
		} else {
			if _, err := os.Stat(filepath.Join(ref.Dir, ocispec.ImageLayoutFile)); os.IsNotExist(err) {
				b.printf("[Warning] --cache-from %s: no OCI layout there yet\n", ref.Dir)
				continue
			}
			src = &store.Store{Root: ref.Dir}
			var err error
			if desc, err = src.Resolve(ref.Tag); err != nil {
				return fmt.Errorf("--cache-from %s:%s: %w", ref.Dir, ref.Tag, err)
			}
		}
		mb, err := src.ReadBlob(desc)
		if err != nil {
			return fmt.Errorf("--cache-from %s:%s: %w", ref.Dir, ref.Tag, err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil || m.Config.MediaType != cacheConfigType {
			return fmt.Errorf("--cache-from %s:%s: not a myimg build cache (config %q)", ref.Dir, ref.Tag, m.Config.MediaType)
		}
		cb, err := src.ReadBlob(m.Config)
		if err != nil {
			return fmt.Errorf("--cache-from %s:%s: %w", ref.Dir, ref.Tag, err)
		}
		var cc cacheConfig
		if err := json.Unmarshal(cb, &cc); err != nil {
			return fmt.Errorf("--cache-from %s:%s: config: %w", ref.Dir, ref.Tag, err)
		}
		for k, rec := range cc.Records {
			key, err := digest.Parse(k)
			if err != nil {
				return fmt.Errorf("--cache-from %s:%s: key %q: %w", ref.Dir, ref.Tag, k, err)
			}
			if _, seen := b.imported[key]; !seen {
				b.imported[key] = importedRecord{rec, src}
			}
		}
	}
	return nil
}

// lookupImported finds key in the --cache-from records and brings its
// layer blob into the store (verified against the record's descriptor).
func (b *builder) lookupImported(key digest.Digest) (*cacheRecord, bool) {
	ir, ok := b.imported[key]
	if !ok {
		return nil, false
	}
	rec := ir.rec
	if rec.Layer != nil && !b.s.HasBlob(*rec.Layer) {
		rc, err := ir.src.Open(*rec.Layer)
		if err != nil {
			b.printf("[Warning] --cache-from: layer %s: %v\n", rec.Layer.Digest, err)
			return nil, false
		}
		_, err = b.s.PutBlob(rc, rec.Layer.MediaType, rec.Layer)
		rc.Close()
		if err != nil {
			b.printf("[Warning] --cache-from: layer %s: %v\n", rec.Layer.Digest, err)
			return nil, false
		}
	}
	b.save(key, &rec)
	return &rec, true
}

// exportCaches writes the records of every step this build used or made
// to each --cache-to layout, under its tag (the previous export's
// manifest under that tag is replaced).
func (b *builder) exportCaches() error {
	if len(b.o.CacheTo) == 0 {
		return nil
	}
	cc := cacheConfig{Records: map[string]cacheRecord{}}
	var layers []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	diffOf := map[digest.Digest]digest.Digest{}
	keys := maps.Clone(b.usedKeys)
	for _, k := range b.o.CacheKeys {
		keys[k] = true
	}
	for key := range keys {
		rec, ok := b.readRecord(key)
		if !ok {
			continue
		}
		cc.Records[key.String()] = *rec
		if rec.Layer != nil && !seen[rec.Layer.Digest] {
			seen[rec.Layer.Digest] = true
			layers = append(layers, *rec.Layer)
			diffOf[rec.Layer.Digest] = rec.DiffID
		}
	}
	sort.Slice(layers, func(i, j int) bool { return layers[i].Digest < layers[j].Digest })
	cc.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{}}
	for _, l := range layers {
		cc.RootFS.DiffIDs = append(cc.RootFS.DiffIDs, diffOf[l.Digest])
	}
	cb, err := json.Marshal(cc)
	if err != nil {
		return err
	}
	for i, ref := range b.o.CacheTo {
		if ref.Registry != "" {
			if b.o.CacheRegistry == nil {
				return fmt.Errorf("--cache-to %s: no registry access configured", ref.Registry)
			}
			// Staged as a layout in the build's temp dir, then pushed.
			stage := CacheRef{Dir: filepath.Join(b.tmp, fmt.Sprintf("cache-to-%d", i)), Tag: defaultCacheTag}
			if err := b.exportCache(stage, cb, layers); err != nil {
				return fmt.Errorf("--cache-to %s: %w", ref.Registry, err)
			}
			if err := b.o.CacheRegistry.Push(&store.Store{Root: stage.Dir}, defaultCacheTag, ref.Registry); err != nil {
				return fmt.Errorf("--cache-to %s: %w", ref.Registry, err)
			}
			continue
		}
		if err := b.exportCache(ref, cb, layers); err != nil {
			return fmt.Errorf("--cache-to %s: %w", ref.Dir, err)
		}
	}
	return nil
}

// CacheRegistry moves build cache artifacts to and from a registry
// (the CLI fills it with the pull/push TLS rules).
type CacheRegistry struct {
	Pull func(s *store.Store, ref string) (ocispec.Descriptor, error)
	Push func(s *store.Store, name, ref string) error
}

func (b *builder) exportCache(ref CacheRef, cb []byte, layers []ocispec.Descriptor) error {
	dst, err := store.Open(ref.Dir)
	if err != nil {
		return err
	}
	// Our private directories are not part of an exported layout.
	defer func() {
		for _, d := range []string{"ingest", store.LayersDir, store.CacheDir, store.BundlesDir, "index.lock", "gc.lock"} {
			os.RemoveAll(filepath.Join(dst.Root, d))
		}
		os.Chmod(dst.Root, 0o755)
	}()
	for _, l := range layers {
		if dst.HasBlob(l) {
			continue
		}
		rc, err := b.s.Open(l)
		if err != nil {
			return err
		}
		_, err = dst.PutBlob(rc, l.MediaType, &l)
		rc.Close()
		if err != nil {
			return err
		}
	}
	cdesc, err := dst.PutBytes(cacheConfigType, cb)
	if err != nil {
		return err
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: cacheArtifactType, Config: cdesc, Layers: layers}
	m.SchemaVersion = 2
	mb, err := json.Marshal(m)
	if err != nil {
		return err
	}
	mdesc, err := dst.PutBytes(ocispec.MediaTypeImageManifest, mb)
	if err != nil {
		return err
	}
	mdesc.ArtifactType = cacheArtifactType
	return dst.Tag(ref.Tag, mdesc)
}

func (b *builder) readRecord(key digest.Digest) (*cacheRecord, bool) {
	data, err := os.ReadFile(b.cachePath(key))
	if err != nil {
		return nil, false
	}
	var rec cacheRecord
	if json.Unmarshal(data, &rec) != nil {
		return nil, false
	}
	return &rec, true
}
