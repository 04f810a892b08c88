package archive

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Export says how layers are compressed when an image leaves the store
// (push, save to an OCI layout). Layers are kept uncompressed in the
// store by default, as buildah and podman keep them in
// containers-storage, and compressed here.
type Export struct {
	// Format is gzip or zstd; "" or none sends every layer as stored.
	Format string
	// Level is the compression level (0: the default, see layer.CheckLevel).
	Level int
	// Recompress converts layers stored in another compression to Format
	// (the user named the format); without it they go as stored.
	Recompress bool
}

// Check refuses a format or level the codec does not have.
func (e Export) Check() error {
	switch e.Format {
	case "", layer.None:
		if e.Level != 0 {
			return fmt.Errorf("--compression-level %d: layers are not compressed", e.Level)
		}
		return nil
	case layer.Gzip, layer.Zstd:
		return layer.CheckLevel(e.Format, e.Level)
	}
	return fmt.Errorf("--compression-format %q: want gzip or zstd", e.Format)
}

func (e Export) compresses() bool { return e.Format != "" && e.Format != layer.None }

// LayerType is the media type layer d gets in a manifest of media type
// manifestType, and whether it must be (re)compressed for it. Media
// types that are not layers of ours (foreign layers, an artifact's
// blobs) are left alone.
func (e Export) LayerType(manifestType string, d ocispec.Descriptor) (string, bool, error) {
	if !e.compresses() {
		return d.MediaType, false, nil
	}
	docker := manifestType == DockerManifest
	switch d.MediaType {
	case ocispec.MediaTypeImageLayer, DockerLayerTar:
	case ocispec.MediaTypeImageLayerGzip, DockerLayerGzip, ocispec.MediaTypeImageLayerZstd, DockerLayerZstd:
		if !e.Recompress || OCILayerType(d.MediaType) == e.mediaType(false) {
			return d.MediaType, false, nil
		}
	default:
		return d.MediaType, false, nil
	}
	if docker && e.Format == layer.Zstd {
		return "", false, fmt.Errorf("--compression-format zstd: a Docker v2s2 manifest has no zstd layer type (layer %s)", d.Digest)
	}
	return e.mediaType(docker), true, nil
}

func (e Export) mediaType(docker bool) string {
	switch {
	case docker && e.Format == layer.Gzip:
		return DockerLayerGzip
	case e.Format == layer.Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayerGzip
}

// name is the compression with its settings, as records name it.
func (e Export) name() string { return layer.CacheNameLevel(e.Format, e.Level) }

// CompressedRecord is what the store remembers of a layer compressed for
// export: the compressed blob's descriptor (compression is deterministic,
// so the same layer, format and level give the same blob again) and the
// repositories (registry/repository) it was pushed to, from which a push
// to another repository of the same registry mounts it.
type CompressedRecord struct {
	Layer ocispec.Descriptor `json:"compressed"`
	Repos []string           `json:"pushedTo,omitempty"`
}

const maxRecordRepos = 8

func (e Export) recordPath(s *store.Store, diffID digest.Digest) string {
	return filepath.Join(s.Root, store.CacheDir, "compressed-"+diffID.Encoded()+"-"+e.name())
}

// Record reads what the store remembers of diffID compressed by e.
func (e Export) Record(s *store.Store, diffID digest.Digest) (CompressedRecord, bool) {
	var r CompressedRecord
	if diffID.Validate() != nil {
		return r, false
	}
	b, err := os.ReadFile(e.recordPath(s, diffID))
	if err != nil || json.Unmarshal(b, &r) != nil || r.Layer.Digest.Validate() != nil || r.Layer.Size <= 0 {
		return CompressedRecord{}, false
	}
	return r, true
}

// Remember records diffID's compressed descriptor and, if repo is not
// empty, that it was pushed there. The record is a cache (prune --cache
// drops it): a store that cannot be written to just compresses again.
func (e Export) Remember(s *store.Store, diffID digest.Digest, d ocispec.Descriptor, repo string) {
	r, ok := e.Record(s, diffID)
	if !ok || r.Layer.Digest != d.Digest {
		r = CompressedRecord{}
	}
	r.Layer = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	if repo != "" && !slices.Contains(r.Repos, repo) {
		r.Repos = append([]string{repo}, r.Repos...)
		if len(r.Repos) > maxRecordRepos {
			r.Repos = r.Repos[:maxRecordRepos]
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	store.WriteFileAtomic(e.recordPath(s, diffID), b, 0o644)
}

// Forget drops the record of diffID (its blob came out different).
func (e Export) Forget(s *store.Store, diffID digest.Digest) {
	if diffID.Validate() == nil {
		os.Remove(e.recordPath(s, diffID))
	}
}

// Compress writes layer src of s (uncompressed or not), checked against
// its digest and diffID, to w compressed by e, and returns the
// compressed blob's descriptor with media type mt. The result is
// remembered (Record).
func (e Export) Compress(s *store.Store, src ocispec.Descriptor, diffID digest.Digest, mt string, w io.Writer) (ocispec.Descriptor, error) {
	rc, err := s.Open(src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer rc.Close()
	h := digest.SHA256.Digester()
	cnt := &countWriter{w: io.MultiWriter(w, h.Hash())}
	cw, err := layer.CompressorLevel(cnt, e.Format, e.Level)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if OCILayerType(src.MediaType) == ocispec.MediaTypeImageLayer && src.Digest == diffID {
		// The blob is the tar: the store's reader checks its digest,
		// which is the diff_id.
		_, err = io.Copy(cw, rc)
	} else {
		_, err = layer.CopyVerified(cw, rc, diffID)
	}
	if err != nil {
		cw.Close()
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", src.Digest, err)
	}
	if err := cw.Close(); err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mt, Digest: h.Digest(), Size: cnt.n}
	e.Remember(s, diffID, d, "")
	return d, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// RewriteDescs returns the JSON object raw (a manifest or an index)
// with the descriptors of its list key ("layers" or "manifests")
// pointing at out (same length, in order): each entry gets out[i]'s
// mediaType, digest and size and keeps its other fields, as does the
// object. encoding/json writes the keys sorted, so the same input gives
// the same bytes.
func RewriteDescs(raw []byte, key string, out []ocispec.Descriptor) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	var list []map[string]json.RawMessage
	if err := json.Unmarshal(obj[key], &list); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(list) != len(out) {
		return nil, fmt.Errorf("%s: %d entries, %d given", key, len(list), len(out))
	}
	for i, d := range out {
		for k, v := range map[string]any{"mediaType": d.MediaType, "digest": d.Digest, "size": d.Size} {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			list[i][k] = b
		}
	}
	lb, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	obj[key] = lb
	return json.Marshal(obj)
}
