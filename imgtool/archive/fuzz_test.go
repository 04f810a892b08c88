package archive

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/layerblob"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// seedArchive is a valid oci-archive with one small image, and the same
// image as a docker-archive built by hand.
func seedArchives(f *testing.F) (oci, docker []byte) {
	s, err := store.Open(filepath.Join(f.TempDir(), "seed"))
	if err != nil {
		f.Fatal(err)
	}
	src := f.TempDir()
	os.WriteFile(filepath.Join(src, "hello"), []byte("hi\n"), 0o644)
	ld, diff, err := layerblob.Create(s, src, layer.WriteOptions{}, "gzip")
	if err != nil {
		f.Fatal(err)
	}
	img := store.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diff}}}
	desc, err := s.PutImage(img, []ocispec.Descriptor{ld}, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Tag("seed:1", desc); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := SaveArchive(s, &buf, []string{"seed:1"}, Export{}); err != nil {
		f.Fatal(err)
	}
	cfg, _ := json.Marshal(img)
	lb, _ := s.ReadBlob(ld)
	man, _ := json.Marshal([]dockerManifest{{Config: "c.json", RepoTags: []string{"seed:2"}, Layers: []string{"l.tar.gz"}}})
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), man, 0o644)
	os.WriteFile(filepath.Join(dir, "c.json"), cfg, 0o644)
	os.WriteFile(filepath.Join(dir, "l.tar.gz"), lb, 0o644)
	var dbuf bytes.Buffer
	if err := tarDir(&dbuf, dir); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes(), dbuf.Bytes()
}

// FuzzLoad feeds arbitrary archives to `myimg load`. Properties: no panic;
// a failed load leaves index.json as it was; whatever happens, no temp
// file stays in ingest, every blob in the store verifies, every named
// image verifies completely, and nothing appears beside the store.
func FuzzLoad(f *testing.F) {
	oci, docker := seedArchives(f)
	f.Add(oci)
	f.Add(docker)
	f.Add(oci[:len(oci)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		base := t.TempDir()
		s, err := store.Open(filepath.Join(base, "store"))
		if err != nil {
			t.Fatal(err)
		}
		idxPath := filepath.Join(s.Root, ocispec.ImageIndexFile)
		before, _ := os.ReadFile(idxPath)
		imgs, err := Load(s, bytes.NewReader(data))
		after, _ := os.ReadFile(idxPath)
		if err != nil && !bytes.Equal(before, after) {
			t.Fatalf("failed load (%v) changed index.json", err)
		}
		if err == nil {
			for _, li := range imgs {
				if _, verr := VerifyImage(s, li.Desc); verr != nil {
					t.Fatalf("loaded image %q does not verify: %v", li.Name, verr)
				}
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(s.Root, "ingest")); len(ents) > 0 {
			t.Fatalf("ingest not empty after load (err %v): %d entries", err, len(ents))
		}
		blobs, _ := os.ReadDir(filepath.Join(s.Root, "blobs", "sha256"))
		for _, e := range blobs {
			b, rerr := os.ReadFile(filepath.Join(s.Root, "blobs", "sha256", e.Name()))
			if rerr != nil || digest.FromBytes(b).Encoded() != e.Name() {
				t.Fatalf("blob %s does not verify", e.Name())
			}
		}
		if ents, _ := os.ReadDir(base); len(ents) != 1 {
			t.Fatalf("load wrote beside the store: %d entries in %s", len(ents), base)
		}
	})
}
