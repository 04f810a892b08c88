package archive

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// plainStore holds image "plain" with one uncompressed layer, as build
// stores it by default.
func plainStore(t *testing.T) (*store.Store, ocispec.Descriptor, digest.Digest) {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	raw := tarOf(t, "f", strings.Repeat("layer bytes ", 4000))
	ld, err := s.PutBytes(ocispec.MediaTypeImageLayer, raw)
	if err != nil {
		t.Fatal(err)
	}
	img := store.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{ld.Digest}}}
	m, err := s.PutImage(img, []ocispec.Descriptor{ld}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("plain", m); err != nil {
		t.Fatal(err)
	}
	return s, m, ld.Digest
}

func layoutManifest(t *testing.T, dir string) (ocispec.Manifest, []byte) {
	t.Helper()
	l := &store.Store{Root: dir}
	desc, err := l.Resolve("plain")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := l.ReadBlob(desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m, raw
}

// An OCI layout saved from the store gets gzip layers (as podman's
// oci-dir and oci-archive from its uncompressed store): the manifest
// names the compressed blob, the config (image ID) and diff_id stay, the
// bytes are the same on a second save, and the compressed digest is
// remembered. Export{} (save --uncompressed) keeps the stored layer.
func TestSaveDirCompresses(t *testing.T) {
	s, m, diffID := plainStore(t)
	l0, _ := s.Load(m)
	e := Export{Format: layer.Gzip}
	var raws [][]byte
	for i := 0; i < 2; i++ {
		dir := filepath.Join(t.TempDir(), "out")
		if err := SaveDir(s, dir, []string{"plain"}, e); err != nil {
			t.Fatal(err)
		}
		got, raw := layoutManifest(t, dir)
		raws = append(raws, raw)
		ld := got.Layers[0]
		if ld.MediaType != ocispec.MediaTypeImageLayerGzip || ld.Digest == diffID || got.Config.Digest != l0.Manifest.Config.Digest {
			t.Fatalf("saved manifest: %s", raw)
		}
		b, err := os.ReadFile((&store.Store{Root: dir}).BlobPath(ld.Digest))
		if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) || digest.FromBytes(b) != ld.Digest {
			t.Fatalf("layer blob: %v %x", err, b[:4])
		}
		if _, err := layer.CopyVerified(&bytes.Buffer{}, bytes.NewReader(b), diffID); err != nil {
			t.Fatal(err)
		}
		if r, ok := e.Record(s, diffID); !ok || r.Layer.Digest != ld.Digest || r.Layer.Size != ld.Size {
			t.Fatalf("record %+v %v", r, ok)
		}
	}
	if !bytes.Equal(raws[0], raws[1]) {
		t.Fatalf("two saves differ:\n%s\n%s", raws[0], raws[1])
	}
	dir := filepath.Join(t.TempDir(), "plain")
	if err := SaveDir(s, dir, []string{"plain"}, Export{}); err != nil {
		t.Fatal(err)
	}
	if got, raw := layoutManifest(t, dir); got.Layers[0].Digest != diffID || got.Layers[0].MediaType != ocispec.MediaTypeImageLayer {
		t.Fatalf("uncompressed save: %s", raw)
	}
}

// LayerType: only our uncompressed layer types are compressed; layers
// stored compressed are kept unless the format was named and differs;
// Docker manifests get Docker types and cannot carry zstd.
func TestExportLayerType(t *testing.T) {
	d := func(mt string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: mt, Digest: digest.FromString(mt)}
	}
	gz, zst := Export{Format: layer.Gzip}, Export{Format: layer.Zstd, Recompress: true}
	for _, c := range []struct {
		e        Export
		manifest string
		layer    string
		want     string
		conv     bool
	}{
		{Export{}, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayer, false},
		{gz, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, true},
		{gz, DockerManifest, DockerLayerTar, DockerLayerGzip, true},
		{gz, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd, false},
		{gz, ocispec.MediaTypeImageManifest, "application/vnd.example.blob", "application/vnd.example.blob", false},
		{zst, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd, true},
		{zst, ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageLayerZstd, ocispec.MediaTypeImageLayerZstd, false},
		{Export{Format: layer.Gzip, Recompress: true}, DockerManifest, DockerLayerGzip, DockerLayerGzip, false},
	} {
		got, conv, err := c.e.LayerType(c.manifest, d(c.layer))
		if err != nil || got != c.want || conv != c.conv {
			t.Errorf("%+v %s %s: %s %v %v, want %s %v", c.e, c.manifest, c.layer, got, conv, err, c.want, c.conv)
		}
	}
	if _, _, err := zst.LayerType(DockerManifest, d(DockerLayerTar)); err == nil || !strings.Contains(err.Error(), "zstd") {
		t.Errorf("zstd in a Docker manifest: %v", err)
	}
	for _, bad := range []Export{{Format: "lz4"}, {Format: layer.Gzip, Level: 10}, {Level: 3}} {
		if bad.Check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// RewriteDescs changes only the descriptors' mediaType, digest and size:
// fields it does not know stay, in the list and around it.
func TestRewriteDescs(t *testing.T) {
	raw := []byte(`{"schemaVersion":2,"x-extra":{"k":1},"layers":[{"mediaType":"a","digest":"sha256:` + strings.Repeat("0", 64) + `","size":1,"annotations":{"n":"v"},"x-more":true}]}`)
	nd := ocispec.Descriptor{MediaType: "b", Digest: digest.FromString("b"), Size: 2}
	out, err := RewriteDescs(raw, "layers", []ocispec.Descriptor{nd})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"x-extra":{"k":1}`, `"x-more":true`, `"annotations":{"n":"v"}`, `"mediaType":"b"`, `"digest":"` + nd.Digest.String() + `"`, `"size":2`, `"schemaVersion":2`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	if _, err := RewriteDescs(raw, "layers", nil); err == nil {
		t.Error("a length mismatch was accepted")
	}
}

// Compress reads a layer stored compressed too (push
// --compression-format zstd of a gzip layer): the result decompresses to
// the layer, and a layer that does not match its diff_id is refused.
func TestCompressRecompresses(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	raw := tarOf(t, "f", strings.Repeat("gzip layer ", 3000))
	d, err := s.PutBytes(ocispec.MediaTypeImageLayerGzip, gz(raw))
	if err != nil {
		t.Fatal(err)
	}
	e := Export{Format: layer.Zstd, Recompress: true}
	var out bytes.Buffer
	c, err := e.Compress(s, d, digest.FromBytes(raw), ocispec.MediaTypeImageLayerZstd, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest != digest.FromBytes(out.Bytes()) || c.Size != int64(out.Len()) || !bytes.HasPrefix(out.Bytes(), []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("descriptor %+v for %d bytes", c, out.Len())
	}
	if n, err := layer.CopyVerified(io.Discard, bytes.NewReader(out.Bytes()), digest.FromBytes(raw)); err != nil || n != int64(len(raw)) {
		t.Fatalf("zstd result: %d %v", n, err)
	}
	if _, err := e.Compress(s, d, digest.FromString("other"), ocispec.MediaTypeImageLayerZstd, io.Discard); err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Fatalf("wrong diff_id: %v", err)
	}
}
