package layerblob

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
)

func oneFileTar(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1000, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func TestUnpackVerifiesDiffIDAndGzip(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw := oneFileTar(t, "f", strings.Repeat("x", 100000))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	desc, err := s.PutBytes("application/vnd.oci.image.layer.v1.tar+gzip", gz.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := Unpack(s, desc, digest.FromBytes(raw), t.TempDir(), layer.ExtractOptions{}); err != nil {
		t.Fatalf("good layer: %v", err)
	}
	err = Unpack(s, desc, digest.FromString("not it"), t.TempDir(), layer.ExtractOptions{})
	if err == nil || !strings.Contains(err.Error(), "diff_id") {
		t.Fatalf("wrong diff_id: %v", err)
	}
	trunc, err := s.PutBytes("application/vnd.oci.image.layer.v1.tar+gzip", gz.Bytes()[:gz.Len()/2])
	if err != nil {
		t.Fatal(err)
	}
	if err := Unpack(s, trunc, digest.FromBytes(raw), t.TempDir(), layer.ExtractOptions{}); err == nil {
		t.Fatal("truncated gzip accepted")
	}
}

func TestCreateDeterministic(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644)
	clamp := time.Unix(0, 0)
	for _, c := range []string{layer.Gzip, layer.Zstd} {
		d1, id1, err := Create(s, dir, layer.WriteOptions{Clamp: &clamp}, c)
		if err != nil {
			t.Fatal(err)
		}
		d2, id2, _ := Create(s, dir, layer.WriteOptions{Clamp: &clamp}, c)
		if d1.Digest != d2.Digest || id1 != id2 {
			t.Fatalf("%s: not reproducible", c)
		}
		if err := Unpack(s, d1, id1, t.TempDir(), layer.ExtractOptions{}); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
}

// Put's blob holds what produce wrote, compressed, with its diff_id; a
// failing produce leaves no blob and no temp file behind.
func TestPut(t *testing.T) {
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	raw := oneFileTar(t, "f", "hello")
	desc, diffID, err := Put(s, layer.Zstd, func(w io.Writer) error { _, err := w.Write(raw); return err })
	if err != nil {
		t.Fatal(err)
	}
	if diffID != digest.FromBytes(raw) {
		t.Fatalf("diff_id %s, want %s", diffID, digest.FromBytes(raw))
	}
	if err := Unpack(s, desc, diffID, t.TempDir(), layer.ExtractOptions{}); err != nil {
		t.Fatal(err)
	}
	blobs := func() int { e, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256")); return len(e) }
	before := blobs()
	boom := errors.New("boom")
	if _, _, err := Put(s, layer.Gzip, func(w io.Writer) error { w.Write(raw); return boom }); !errors.Is(err, boom) {
		t.Fatalf("produce error: %v", err)
	}
	if _, _, err := Put(s, "lz4", func(w io.Writer) error { return nil }); err == nil || !strings.Contains(err.Error(), "lz4") {
		t.Fatalf("unknown compression: %v", err)
	}
	if n := blobs(); n != before {
		t.Fatalf("%d blobs after failed puts, want %d", n, before)
	}
	if e, _ := os.ReadDir(filepath.Join(root, "ingest")); len(e) != 0 {
		t.Fatalf("ingest not empty: %v", e)
	}
}

// Without compression the blob is the tar: its digest is the diff_id
// (hashed once), its media type the plain layer type, and a failing
// producer leaves nothing.
func TestPutUncompressed(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	raw := oneFileTar(t, "f", strings.Repeat("y", 300000))
	desc, diffID, err := Put(s, layer.None, func(w io.Writer) error { _, err := w.Write(raw); return err })
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != "application/vnd.oci.image.layer.v1.tar" || desc.Digest != digest.FromBytes(raw) || diffID != desc.Digest || desc.Size != int64(len(raw)) {
		t.Fatalf("desc %+v diffID %s", desc, diffID)
	}
	if b, err := os.ReadFile(s.BlobPath(desc.Digest)); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("blob: %v", err)
	}
	if _, _, err := Put(s, layer.None, func(w io.Writer) error { w.Write(raw[:100]); return errors.New("boom") }); err == nil {
		t.Fatal("producer error lost")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Root, "ingest")); len(ents) != 0 {
		t.Fatalf("ingest left: %v", ents)
	}
}
