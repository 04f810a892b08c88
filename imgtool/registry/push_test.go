package registry

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// plainImage stores image "plain" with one uncompressed layer and
// returns its diff_id.
func plainImage(t *testing.T) (*store.Store, digest.Digest) {
	t.Helper()
	s, err := store.Open(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := strings.Repeat("uncompressed layer ", 5000)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write([]byte(body))
	tw.Close()
	ld, err := s.PutBytes(ocispec.MediaTypeImageLayer, buf.Bytes())
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
	return s, ld.Digest
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(f string, a ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
	l.mu.Unlock()
}

func (l *logLines) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.lines, "\n")
	l.lines = nil
	return s
}

func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushedLayer(t *testing.T, ref string) ocispec.Descriptor {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layers[0]
	return ocispec.Descriptor{MediaType: string(l.MediaType), Digest: digest.Digest(l.Digest.String()), Size: l.Size}
}

// Push compresses a stored uncompressed layer once: the first push
// spools it, a push to another repository mounts the recorded blob, a
// push to a registry that lacks it compresses it again while sending
// (checked against the record), and a record that no longer matches
// fails that push and is corrected for the next one.
func TestPushCompressionRecords(t *testing.T) {
	s, diffID := plainImage(t)
	var log logLines
	e := archive.Export{Format: layer.Gzip}
	o := Options{Export: e, Log: log.add}
	reg := testRegistry(t)
	if _, err := Push(s, "plain", reg+"/a/p:1", o); err != nil {
		t.Fatal(err)
	}
	if out := log.take(); !strings.Contains(out, "Compressing blob "+diffID.Encoded()[:12]) {
		t.Fatalf("first push:\n%s", out)
	}
	rec, ok := e.Record(s, diffID)
	got := pushedLayer(t, reg+"/a/p:1")
	if !ok || rec.Layer.Digest != got.Digest || got.MediaType != ocispec.MediaTypeImageLayerGzip || len(rec.Repos) != 1 || rec.Repos[0] != reg+"/a/p" {
		t.Fatalf("record %+v %v, pushed %+v", rec, ok, got)
	}
	if _, err := Push(s, "plain", reg+"/b/p:1", o); err != nil {
		t.Fatal(err)
	}
	// (go-containerregistry's registry keeps blobs across repositories:
	// its check finds the blob; docker-registry mounts it, see
	// TestPushCompressesUncompressedLayers.)
	if out := log.take(); strings.Contains(out, "Compressing") || !strings.Contains(out, "Copying blob "+rec.Layer.Digest.Encoded()[:12]+" skipped") {
		t.Fatalf("push to another repository:\n%s", out)
	}
	reg2 := testRegistry(t)
	if _, err := Push(s, "plain", reg2+"/c/p:1", o); err != nil {
		t.Fatal(err)
	}
	if out := log.take(); strings.Contains(out, "Compressing") || !strings.Contains(out, "Copying blob "+rec.Layer.Digest.Encoded()[:12]) {
		t.Fatalf("push to a registry without the blob:\n%s", out)
	}
	if got := pushedLayer(t, reg2+"/c/p:1"); got.Digest != rec.Layer.Digest {
		t.Fatalf("recompressed blob %s, recorded %s", got.Digest, rec.Layer.Digest)
	}
	// A record naming other bytes (another encoder version, say).
	bad := rec.Layer
	bad.Digest = digest.FromString("not the blob")
	e.Remember(s, diffID, bad, "")
	if _, err := Push(s, "plain", reg2+"/d/p:1", o); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("push with a stale record: %v", err)
	}
	if r, _ := e.Record(s, diffID); r.Layer.Digest != rec.Layer.Digest {
		t.Fatalf("stale record not corrected: %+v", r)
	}
	if _, err := Push(s, "plain", reg2+"/d/p:1", o); err != nil {
		t.Fatalf("push after the correction: %v", err)
	}
	// Export{} (push -D) sends the stored layer.
	if _, err := Push(s, "plain", reg2+"/e/p:1", Options{Log: log.add}); err != nil {
		t.Fatal(err)
	}
	if got := pushedLayer(t, reg2+"/e/p:1"); got.Digest != diffID || got.MediaType != ocispec.MediaTypeImageLayer {
		t.Fatalf("-D pushed %+v", got)
	}
}
