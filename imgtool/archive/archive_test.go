package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func tarOf(t *testing.T, name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)})
	tw.Write([]byte(body))
	tw.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// layoutWith builds an OCI layout holding one image "img:latest"; tamper
// may change the layer bytes, diff_id or descriptor before it is written.
func layoutWith(t *testing.T, raw []byte, tamper func(layer *[]byte, diffID *digest.Digest, desc *ocispec.Descriptor)) string {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	blob := gz(raw)
	diffID := digest.FromBytes(raw)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	if tamper != nil {
		tamper(&blob, &diffID, &desc)
	}
	os.WriteFile(s.BlobPath(desc.Digest), blob, 0o644) // tampered content sits under the claimed digest
	img := store.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}}
	m, err := s.PutImage(img, []ocispec.Descriptor{desc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag("img", m); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"ingest", store.LayersDir, store.CacheDir, store.BundlesDir} {
		os.RemoveAll(filepath.Join(dir, d))
	}
	return dir
}

func archiveOf(t *testing.T, dir string) []byte {
	var buf bytes.Buffer
	if err := tarDir(&buf, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func storeState(t *testing.T, s *store.Store) string {
	var sb strings.Builder
	filepath.Walk(s.Root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !strings.Contains(p, "/ingest") && !strings.HasSuffix(p, ".lock") {
			sb.WriteString(p + "\n")
		}
		return nil
	})
	b, _ := os.ReadFile(filepath.Join(s.Root, "index.json"))
	return sb.String() + string(b)
}

func TestLoadGoodAndHostile(t *testing.T) {
	raw := tarOf(t, "hello", "world")
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before := storeState(t, s)
	hostile := map[string][]byte{
		"wrong-diffid": archiveOf(t, layoutWith(t, raw, func(_ *[]byte, d *digest.Digest, _ *ocispec.Descriptor) {
			*d = digest.FromString("something else")
		})),
		"size-off-by-one": archiveOf(t, layoutWith(t, raw, func(_ *[]byte, _ *digest.Digest, desc *ocispec.Descriptor) {
			desc.Size++
		})),
		"digest-mismatch": archiveOf(t, layoutWith(t, raw, func(b *[]byte, _ *digest.Digest, _ *ocispec.Descriptor) {
			*b = gz(tarOf(t, "hello", "evil!"))
		})),
		"truncated-gzip": archiveOf(t, layoutWith(t, raw, func(b *[]byte, _ *digest.Digest, desc *ocispec.Descriptor) {
			*b = (*b)[:len(*b)-10]
			desc.Digest, desc.Size = digest.FromBytes(*b), int64(len(*b))
		})),
		"dotdot-in-archive": tarOf(t, "../evil", "x"),
	}
	for name, a := range hostile {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(s, bytes.NewReader(a)); err == nil {
				t.Fatal("hostile archive loaded")
			} else {
				t.Log(err)
			}
			if storeState(t, s) != before {
				t.Fatal("store changed")
			}
		})
	}
	imgs, err := Load(s, bytes.NewReader(archiveOf(t, layoutWith(t, raw, nil))))
	if err != nil || len(imgs) != 1 || imgs[0].Name != "img:latest" {
		t.Fatalf("good archive: %v %+v", err, imgs)
	}
	if _, err := s.Resolve("img"); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDockerArchive(t *testing.T) {
	raw := tarOf(t, "hello", "world")
	mk := func(diffID digest.Digest) []byte {
		cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{diffID}}})
		man, _ := json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"docker.io/library/d:1"}, "Layers": []string{"l/layer.tar"}}})
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for n, b := range map[string][]byte{"manifest.json": man, "c.json": cfg, "l/layer.tar": raw} {
			tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b))})
			tw.Write(b)
		}
		tw.Close()
		return buf.Bytes()
	}
	s, _ := store.Open(t.TempDir())
	before := storeState(t, s)
	if _, err := Load(s, bytes.NewReader(mk(digest.FromString("bad")))); err == nil {
		t.Fatal("wrong diff_id accepted")
	}
	if storeState(t, s) != before {
		t.Fatal("store changed by a rejected docker-archive")
	}
	// Two layers, the second lying about its diff_id: the first, already
	// stored when the second fails, is taken back out.
	raw2 := tarOf(t, "second", "layer")
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(raw), digest.FromString("bad")}}})
	man, _ := json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"d:2"}, "Layers": []string{"l1/layer.tar", "l2/layer.tar"}}})
	var two bytes.Buffer
	tw := tar.NewWriter(&two)
	for _, e := range []struct {
		n string
		b []byte
	}{{"manifest.json", man}, {"c.json", cfg}, {"l1/layer.tar", raw}, {"l2/layer.tar", raw2}} {
		tw.WriteHeader(&tar.Header{Name: e.n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.b))})
		tw.Write(e.b)
	}
	tw.Close()
	if _, err := Load(s, &two); err == nil {
		t.Fatal("second layer's wrong diff_id accepted")
	}
	if storeState(t, s) != before {
		t.Fatalf("store changed by a docker-archive rejected at its second layer:\n%s\nwas\n%s", storeState(t, s), before)
	}
	imgs, err := Load(s, bytes.NewReader(mk(digest.FromBytes(raw))))
	if err != nil || len(imgs) != 1 || imgs[0].Name != "d:1" {
		t.Fatalf("%v %+v", err, imgs)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	src := layoutWith(t, tarOf(t, "a", "b"), nil)
	var buf bytes.Buffer
	s2, _ := store.Open(t.TempDir())
	if _, err := CopyFromLayout(s2, src, "img:latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := CopyFromLayout(s2, src, "nope"); err == nil {
		t.Fatal("missing tag found")
	}
	d, _ := CopyFromLayout(s2, src, "")
	s2.Tag("x", d)
	buf.Reset()
	if err := SaveArchive(s2, &buf, []string{"x"}, Export{}); err != nil {
		t.Fatal(err)
	}
	s3, _ := store.Open(t.TempDir())
	imgs, err := Load(s3, &buf)
	if err != nil || len(imgs) != 1 || imgs[0].Desc.Digest != d.Digest {
		t.Fatalf("%v %+v", err, imgs)
	}
}

// oci:PATH:TAG splits at the first colon, as skopeo and buildah read it.
func TestSplitLayoutRef(t *testing.T) {
	for _, c := range [][3]string{
		{"/l", "/l", ""},
		{"/l:busybox", "/l", "busybox"},
		{"/var/x/l:busybox:latest", "/var/x/l", "busybox:latest"},
		{"rel/l:localhost/a:1", "rel/l", "localhost/a:1"},
	} {
		if d, tag := SplitLayoutRef(c[0]); d != c[1] || tag != c[2] {
			t.Errorf("SplitLayoutRef(%q) = %q, %q; want %q, %q", c[0], d, tag, c[1], c[2])
		}
	}
}
