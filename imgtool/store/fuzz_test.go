package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzLoadImage stores a fuzzed config and manifest (and an index over
// it) and loads them the way unpack, run and build do. "@CFG" in the
// manifest becomes the config's descriptor, so the fuzzer gets past the
// digest check. Load must fail cleanly or return a consistent image.
func FuzzLoadImage(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"config":@CFG,"layers":[]}`), []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	f.Add([]byte(`{"schemaVersion":2,"config":@CFG,"layers":[{"digest":"sha256:`+string(bytes.Repeat([]byte("a"), 64))+`","size":1}]}`), []byte(`{"rootfs":{"diff_ids":["sha256:x"]}}`))
	f.Add([]byte(`{"schemaVersion":1,"config":@CFG}`), []byte(`{}`))
	f.Add([]byte(`{"manifests":[@CFG]}`), []byte(`{"manifests":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:../../../etc/passwd","size":10}}`), []byte(`null`))
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha512:abc","size":-1}}`), []byte(`[]`))
	f.Fuzz(func(t *testing.T, manifest, config []byte) {
		s, err := Open(filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		cdesc, err := s.PutBytes(ocispec.MediaTypeImageConfig, config)
		if err != nil {
			t.Fatal(err)
		}
		cj, _ := json.Marshal(cdesc)
		manifest = bytes.ReplaceAll(manifest, []byte("@CFG"), cj)
		mdesc, err := s.PutBytes(ocispec.MediaTypeImageManifest, manifest)
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := json.Marshal(ocispec.Index{Manifests: []ocispec.Descriptor{mdesc}})
		idesc, err := s.PutBytes(ocispec.MediaTypeImageIndex, idx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []ocispec.Descriptor{mdesc, idesc} {
			l, err := s.Load(d)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				continue
			}
			if l.Manifest.SchemaVersion != 2 {
				t.Fatalf("loaded schemaVersion %d", l.Manifest.SchemaVersion)
			}
			if len(l.Config.RootFS.DiffIDs) != len(l.Manifest.Layers) {
				t.Fatalf("loaded %d diff_ids for %d layers", len(l.Config.RootFS.DiffIDs), len(l.Manifest.Layers))
			}
			if digest.FromBytes(l.RawConf) != l.Manifest.Config.Digest {
				t.Fatal("loaded config does not match its digest")
			}
			for i := range l.Manifest.Layers {
				_ = l.DiffID(i)
			}
		}
		checkBlobs(t, s)
	})
}

// FuzzIndex writes arbitrary index.json content: listing, resolving and
// tagging must fail cleanly, and a failed tag must not replace the file.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+string(bytes.Repeat([]byte("b"), 64))+`","size":3,"annotations":{"org.opencontainers.image.ref.name":"a:latest"}}]}`), "a")
	f.Add([]byte(`{"manifests":[{"digest":"sha256:bbbbbb","annotations":null},{"digest":""}]}`), "bbbbbb")
	f.Add([]byte(`{"manifests":null}`), "sha256:")
	f.Add([]byte(`[`), "x")
	f.Fuzz(func(t *testing.T, index []byte, ref string) {
		s, err := Open(filepath.Join(t.TempDir(), "s"))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(s.Root, ocispec.ImageIndexFile)
		if err := os.WriteFile(p, index, 0o644); err != nil {
			t.Fatal(err)
		}
		refs, lerr := s.List()
		if d, err := s.Resolve(ref); err == nil {
			if lerr != nil {
				t.Fatalf("resolved %q in an unreadable index", ref)
			}
			if d.Digest.Validate() != nil && !hasDigest(refs, d.Digest) {
				t.Fatalf("resolved %q to invalid digest %q", ref, d.Digest)
			}
		}
		n := NormalizeName(ref)
		if NormalizeName(n) != n {
			t.Fatalf("NormalizeName not idempotent: %q -> %q -> %q", ref, n, NormalizeName(n))
		}
		desc, _ := s.PutBytes(ocispec.MediaTypeImageManifest, []byte("{}"))
		if err := s.Tag("fz:"+strconv.Itoa(len(index)), desc); err != nil {
			if b, _ := os.ReadFile(p); !bytes.Equal(b, index) {
				t.Fatalf("failed tag rewrote index.json: %v", err)
			}
		} else if _, err := s.Resolve("fz:" + strconv.Itoa(len(index))); err != nil {
			t.Fatalf("tag succeeded but does not resolve: %v", err)
		}
	})
}

func hasDigest(refs []Ref, d digest.Digest) bool {
	for _, r := range refs {
		if r.Desc.Digest == d {
			return true
		}
	}
	return false
}

// checkBlobs: every blob's content hashes to its name and no temp file
// is left in ingest.
func checkBlobs(t *testing.T, s *Store) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(s.Root, "blobs", "sha256"))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.Root, "blobs", "sha256", e.Name()))
		if err != nil || digest.FromBytes(b).Encoded() != e.Name() {
			t.Fatalf("blob %s does not verify (%v)", e.Name(), err)
		}
	}
	if ing, _ := os.ReadDir(filepath.Join(s.Root, ingestDir)); len(ing) > 0 {
		t.Fatalf("temp files left in ingest: %d", len(ing))
	}
}
