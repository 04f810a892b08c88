package build

import (
	"encoding/json"
	"path/filepath"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// cacheRecord is what a step produced. The file lives at
// <store>/cache/<key hex>; prune keeps the blobs it names.
type cacheRecord struct {
	History ocispec.History     `json:"history"`
	Layer   *ocispec.Descriptor `json:"layer,omitempty"`
	DiffID  digest.Digest       `json:"diffID,omitempty"`
	Blobs   []digest.Digest     `json:"blobs,omitempty"`
	DiffIDs []digest.Digest     `json:"diffIDs,omitempty"`
}

// chainKey derives a step's cache key from its parent's key, the
// instruction (after expansion) and the digest of its inputs.
func chainKey(parent digest.Digest, instr string, inputs digest.Digest) digest.Digest {
	return digest.FromString(string(parent) + "\x00" + instr + "\x00" + string(inputs))
}

func (b *builder) cachePath(key digest.Digest) string {
	return filepath.Join(b.s.Root, store.CacheDir, key.Encoded())
}

func (b *builder) lookup(key digest.Digest) (*cacheRecord, bool) {
	if b.o.NoCache {
		return nil, false
	}
	rec, ok := b.readRecord(key)
	if ok && rec.Layer != nil && !b.s.HasBlob(*rec.Layer) {
		ok = false
	}
	if !ok {
		// --cache-from layouts.
		rec, ok = b.lookupImported(key)
	}
	if ok {
		b.noteKey(key)
	}
	return rec, ok
}

func (b *builder) save(key digest.Digest, rec *cacheRecord) {
	if rec.Layer != nil {
		rec.Blobs = []digest.Digest{rec.Layer.Digest}
		rec.DiffIDs = []digest.Digest{rec.DiffID}
	}
	b.noteKey(key)
	data, err := json.Marshal(rec)
	if err == nil {
		store.WriteFileAtomic(b.cachePath(key), data, 0o600)
	}
}

// noteKey records a step key for --cache-to.
func (b *builder) noteKey(key digest.Digest) {
	if b.usedKeys == nil {
		b.usedKeys = map[digest.Digest]bool{}
	}
	b.usedKeys[key] = true
}
