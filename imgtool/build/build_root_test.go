//go:build integration

// Build tests that mount overlays: root only, so behind the integration
// tag (docs/CONVENTIONS.md); the unit tests are in build_test.go.

package build

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/myrun-org/myrun/imgtool/archive"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/opencontainers/image-spec/schema"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestRunWithoutRuntimeFailsClearly(t *testing.T) {
	s, _ := store.Open(t.TempDir())
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nRUN true\n"})
	_, err := Build(s, Options{ContextDir: ctx, Layers: true})
	if err == nil || !strings.Contains(err.Error(), ":2: RUN: RUN needs a runtime") {
		t.Fatalf("err = %v", err)
	}
}

// COPY-only builds need no runtime: cache, reproducibility, whiteouts.
func TestCopyBuildCacheAndReproducible(t *testing.T) {
	ctx := writeCtx(t, map[string]string{
		"Containerfile": "FROM scratch AS one\nCOPY a.txt /stage/\n" +
			"FROM scratch\nARG V=1\nENV V=$V\nWORKDIR /made/by/workdir\nWORKDIR /w\nCOPY --from=one /stage/a.txt ./\nCOPY dir/ ./d/\nCOPY --chmod=0600 *.md ./\n" +
			"LABEL l=$V\nEXPOSE 80\nVOLUME /v\nUSER 1000:1000\nSTOPSIGNAL SIGINT\nCMD [\"x\"]\n",
		".dockerignore": "dir/skip*\n!dir/skip-keep\n",
		"a.txt":         "a", "dir/b": "b", "dir/skip1": "no", "dir/skip-keep": "yes", "r.md": "md",
	})
	ts := time.Unix(1700000000, 0).UTC()
	build := func(root string, args map[string]string) (*Result, *store.Store) {
		s, err := store.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		res, err := Build(s, Options{ContextDir: ctx, Layers: true, Timestamp: &ts, Tags: []string{"t"}, BuildArgs: args, Out: &out})
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return res, s
	}
	r1, s1 := build(t.TempDir(), nil)
	r2, _ := build(t.TempDir(), nil)
	if r1.Manifest.Digest != r2.Manifest.Digest {
		t.Fatalf("same inputs, different manifests: %s vs %s", r1.Manifest.Digest, r2.Manifest.Digest)
	}
	r3, _ := build(s1.Root, nil)
	if r3.Manifest.Digest != r1.Manifest.Digest || r3.CacheHits != 6 {
		t.Fatalf("rebuild: digest %s hits %d", r3.Manifest.Digest, r3.CacheHits)
	}
	r4, _ := build(s1.Root, map[string]string{"V": "2"})
	if r4.Manifest.Digest == r1.Manifest.Digest {
		t.Fatal("a different build arg gave the same image")
	}
	// Content check through a flattened unpack.
	l, err := s1.Load(r1.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config.Config
	if c.WorkingDir != "/w" || c.User != "1000:1000" || c.Labels["l"] != "1" || c.StopSignal != "SIGINT" || len(c.Cmd) != 1 {
		t.Fatalf("config = %+v", c)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok {
		t.Fatal("EXPOSE lost")
	}
	for i, ld := range l.Manifest.Layers {
		if err := archive.VerifyDiffID(s1, ld, l.DiffID(i)); err != nil {
			t.Fatal(err)
		}
	}
	rfs := unpackCopy(t, s1, l)
	// WORKDIR creates its directory even when nothing is put in it.
	if st, err := os.Stat(filepath.Join(rfs, "made/by/workdir")); err != nil || !st.IsDir() {
		t.Errorf("WORKDIR did not create its directory: %v", err)
	}
	for p, want := range map[string]bool{"w/a.txt": true, "w/d/b": true, "w/d/skip1": false, "w/d/skip-keep": true, "w/r.md": true} {
		if _, err := os.Lstat(filepath.Join(rfs, p)); (err == nil) != want {
			t.Errorf("%s present=%v want %v (.dockerignore / COPY)", p, err == nil, want)
		}
	}
	if st, err := os.Stat(filepath.Join(rfs, "w/r.md")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("--chmod not applied: %v", st.Mode())
	}
	// image-spec JSON schema validation of what we wrote.
	mb, _ := s1.ReadBlob(r1.Manifest)
	idx, _ := os.ReadFile(filepath.Join(s1.Root, "index.json"))
	layout, _ := os.ReadFile(filepath.Join(s1.Root, "oci-layout"))
	for _, c := range []struct {
		v    schema.Validator
		data []byte
	}{{schema.ValidatorMediaTypeManifest, mb}, {schema.ValidatorMediaTypeImageConfig, l.RawConf},
		{schema.ValidatorMediaTypeImageIndex, idx}, {schema.ValidatorMediaTypeLayoutHeader, layout}} {
		if err := c.v.Validate(bytes.NewReader(c.data)); err != nil {
			t.Errorf("%s: %v\n%s", c.v, err, c.data)
		}
	}
}

// WORKDIR makes missing directories owned by the current USER (as BuildKit
// does) and leaves existing ones alone.
func TestWorkdirCreatesOwnedDirs(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY f /etc/f\nUSER 1000:1001\nWORKDIR /home/u\nWORKDIR /etc\n", "f": "x"})
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, Options{ContextDir: ctx, Layers: true, Tags: []string{"w"}, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := unpackCopy(t, s, l)
	for p, want := range map[string][2]uint32{"home": {1000, 1001}, "home/u": {1000, 1001}, "etc": {0, 0}} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(rootfs, p), &st); err != nil || st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %v (%v)", p, st.Uid, st.Gid, want, err)
		}
	}
	// The second WORKDIR found /etc and added no layer.
	if n := len(l.Manifest.Layers); n != 2 {
		t.Errorf("%d layers, want 2 (COPY, WORKDIR /home/u)", n)
	}
}

// --target builds only the stages the target needs (an unneeded broken
// stage does not fail the build); --layers=false squashes a stage's steps
// into one layer on top of its base.
func TestTargetAndSquash(t *testing.T) {
	ctx := writeCtx(t, map[string]string{
		"Containerfile": "FROM scratch AS a\nCOPY a.txt /a\n" +
			"FROM scratch AS broken\nCOPY no-such-file /x\n" +
			"FROM a AS final\nCOPY b.txt /b\nCOPY c.txt /c\n" +
			"FROM final AS after\nCOPY no-such-file /y\n",
		"a.txt": "a", "b.txt": "b", "c.txt": "c",
	})
	for _, tc := range []struct {
		layers bool
		want   int
	}{{true, 3}, {false, 2}} {
		s, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(s, Options{ContextDir: ctx, Layers: tc.layers, Target: "final", Tags: []string{"t"}, Out: io.Discard})
		if err != nil {
			t.Fatalf("layers=%v: %v", tc.layers, err)
		}
		l, err := s.Load(res.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(l.Manifest.Layers); n != tc.want {
			t.Errorf("layers=%v: %d layers, want %d", tc.layers, n, tc.want)
		}
		rootfs := unpackCopy(t, s, l)
		for _, f := range []string{"a", "b", "c"} {
			if _, err := os.Stat(filepath.Join(rootfs, f)); err != nil {
				t.Errorf("layers=%v: /%s missing: %v", tc.layers, f, err)
			}
		}
	}
	s, _ := store.Open(t.TempDir())
	if _, err := Build(s, Options{ContextDir: ctx, Layers: true, Target: "nope", Out: io.Discard}); err == nil || !strings.Contains(err.Error(), `target stage "nope" not found`) {
		t.Fatalf("unknown target: %v", err)
	}
}

// ADD of a URL downloads the file (mode 0600, as docker), honours
// --checksum, and says so clearly when it cannot reach the server.
func TestAddURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/data.txt" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "remote content\n")
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("remote content\n")))
	build := func(cf string) (*store.Store, *Result, error) {
		s, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, err := Build(s, Options{ContextDir: writeCtx(t, map[string]string{"Containerfile": cf}), Layers: true, Tags: []string{"u"}, Out: io.Discard})
		return s, res, err
	}
	s, res, err := build("FROM scratch\nADD --checksum=" + sum + " " + srv.URL + "/data.txt /d/\n")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Load(res.Manifest)
	rootfs := unpackCopy(t, s, l)
	p := filepath.Join(rootfs, "d/data.txt")
	if b, err := os.ReadFile(p); err != nil || string(b) != "remote content\n" {
		t.Fatalf("downloaded file: %q %v", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	for cf, want := range map[string]string{
		"FROM scratch\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/data.txt /d/\n": "does not match",
		"FROM scratch\nADD " + srv.URL + "/missing /d/\n":                                                    "HTTP 404",
		"FROM scratch\nADD http://127.0.0.1:1/x /d/\n":                                                       "cannot fetch (is there a network?)",
	} {
		if _, _, err := build(cf); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":2: ADD") {
			t.Errorf("%q: err %v, want %q at line 2", cf, err, want)
		}
	}
}

// --compression zstd: layers are stored as zstd (media type and bytes),
// verify against their diff_ids and unpack; a different compression is a
// different image.
func TestBuildZstd(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY f /f\n", "f": "zstd layer\n"})
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, Options{ContextDir: ctx, Layers: true, Compression: "zstd", Tags: []string{"z"}, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Load(res.Manifest)
	ld := l.Manifest.Layers[0]
	if ld.MediaType != ocispec.MediaTypeImageLayerZstd {
		t.Fatalf("media type %s", ld.MediaType)
	}
	if b, _ := s.ReadBlob(ld); len(b) < 4 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatal("layer blob is not zstd")
	}
	if err := archive.VerifyDiffID(s, ld, l.DiffID(0)); err != nil {
		t.Fatal(err)
	}
	rootfs := unpackCopy(t, s, l)
	if b, err := os.ReadFile(filepath.Join(rootfs, "f")); err != nil || string(b) != "zstd layer\n" {
		t.Fatalf("unpacked: %q %v", b, err)
	}
	gz, err := Build(s, Options{ContextDir: ctx, Layers: true, Tags: []string{"g"}, Out: io.Discard})
	if err != nil || gz.Manifest.Digest == res.Manifest.Digest {
		t.Fatalf("gzip build reused the zstd image: %v", err)
	}
}

// Proxy build args are not warned about as unused (docker's predefined
// ARGs); others are.
func TestProxyBuildArgsNotWarned(t *testing.T) {
	s, _ := store.Open(t.TempDir())
	var out bytes.Buffer
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY f /f\n", "f": "x"})
	if _, err := Build(s, Options{ContextDir: ctx, Layers: true, Out: &out, BuildArgs: map[string]string{"HTTP_PROXY": "http://p", "UNUSED": "1"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "[UNUSED]") || strings.Contains(out.String(), "HTTP_PROXY") {
		t.Fatalf("unused-arg warnings:\n%s", out.String())
	}
}
