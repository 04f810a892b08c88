package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// dockerArchive is a docker-archive of one image whose config has keys in
// docker's order and fields we do not model (as docker and podman write).
func dockerArchive(t *testing.T, layerBlob []byte, diffID digest.Digest) ([]byte, []byte) {
	cfg := []byte(`{"architecture":"amd64","config":{"Cmd":["sh"],"Hostname":"x"},"container_config":{"Cmd":["x"]},"docker_version":"20.10","os":"linux",` +
		`"rootfs":{"type":"layers","diff_ids":["` + diffID.String() + `"]}}`)
	man, _ := json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"d:1"}, "Layers": []string{"l/layer.tar"}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		n string
		b []byte
	}{{"manifest.json", man}, {"c.json", cfg}, {"l/layer.tar", layerBlob}} {
		tw.WriteHeader(&tar.Header{Name: e.n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.b))})
		tw.Write(e.b)
	}
	tw.Close()
	return buf.Bytes(), cfg
}

func TestLoadDockerArchiveKeepsIDAndCompression(t *testing.T) {
	raw := tarOf(t, "hello", "world")
	for _, c := range []struct {
		name string
		blob []byte
		mt   string
	}{{"plain", raw, ocispec.MediaTypeImageLayer}, {"gzip", gz(raw), ocispec.MediaTypeImageLayerGzip}} {
		t.Run(c.name, func(t *testing.T) {
			a, cfg := dockerArchive(t, c.blob, digest.FromBytes(raw))
			s, _ := store.Open(t.TempDir())
			imgs, err := Load(s, bytes.NewReader(a))
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Load(imgs[0].Desc)
			if err != nil {
				t.Fatal(err)
			}
			if l.Manifest.Config.Digest != digest.FromBytes(cfg) {
				t.Fatalf("image ID %s, want the config's digest %s", l.Manifest.Config.Digest, digest.FromBytes(cfg))
			}
			if ld := l.Manifest.Layers[0]; ld.MediaType != c.mt || ld.Digest != digest.FromBytes(c.blob) {
				t.Fatalf("layer stored as %s %s, want %s %s", ld.MediaType, ld.Digest, c.mt, digest.FromBytes(c.blob))
			}
		})
	}
}

func readTar(t *testing.T, b []byte) map[string][]byte {
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

func TestSaveDocker(t *testing.T) {
	raw := tarOf(t, "a", "b")
	s, _ := store.Open(t.TempDir())
	d1, err := CopyFromLayout(s, layoutWith(t, raw, nil), "img:latest")
	if err != nil {
		t.Fatal(err)
	}
	s.Tag("img", d1)
	s.Tag("img:two", d1)
	a2, cfg2 := dockerArchive(t, tarOf(t, "other", "image"), digest.FromBytes(tarOf(t, "other", "image")))
	if _, err := Load(s, bytes.NewReader(a2)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := SaveDocker(s, &buf, []string{"img", "d:1"}, false); err == nil || !strings.Contains(err.Error(), "-m") {
		t.Fatalf("two images without -m: %v", err)
	}
	// Two names of one image need no -m and share one entry.
	buf.Reset()
	if err := SaveDocker(s, &buf, []string{"img", "img:two"}, false); err != nil {
		t.Fatal(err)
	}
	files := readTar(t, buf.Bytes())
	var ms []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &ms); err != nil || len(ms) != 1 || strings.Join(ms[0].RepoTags, ",") != "img:latest,img:two" {
		t.Fatalf("manifest.json %s: %v", files["manifest.json"], err)
	}
	if lb := files[ms[0].Layers[0]]; !bytes.Equal(lb, raw) || ms[0].Layers[0] != digest.FromBytes(raw).Encoded()+".tar" {
		t.Fatalf("layer %s is not the uncompressed tar", ms[0].Layers[0])
	}
	buf.Reset()
	if err := SaveDocker(s, &buf, []string{"img", "d:1"}, true); err != nil {
		t.Fatal(err)
	}
	files = readTar(t, buf.Bytes())
	json.Unmarshal(files["manifest.json"], &ms)
	if len(ms) != 2 || !bytes.Equal(files[ms[1].Config], cfg2) {
		t.Fatalf("-m archive: manifest.json %s", files["manifest.json"])
	}
	// Loading it elsewhere gives both images their IDs back.
	s2, _ := store.Open(t.TempDir())
	imgs, err := Load(s2, bytes.NewReader(buf.Bytes()))
	if err != nil || len(imgs) != 2 {
		t.Fatalf("%v %+v", err, imgs)
	}
	for _, n := range []string{"img", "d:1"} {
		a, _ := s.Resolve(n)
		b, err := s2.Resolve(n)
		if err != nil {
			t.Fatal(err)
		}
		la, _ := s.Load(a)
		lb, _ := s2.Load(b)
		if la.Manifest.Config.Digest != lb.Manifest.Config.Digest {
			t.Fatalf("%s: ID %s after the round trip, was %s", n, lb.Manifest.Config.Digest, la.Manifest.Config.Digest)
		}
	}
	if err := SaveDocker(s, io.Discard, []string{"nope"}, true); err == nil {
		t.Fatal("missing image saved")
	}
}
