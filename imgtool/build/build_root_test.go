//go:build integration

// Build tests that mount overlays: root only, so behind the integration
// tag (docs/CONVENTIONS.md); the unit tests are in build_test.go.

package build

import (
	"archive/tar"
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
	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
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
	s := newStore(t)
	_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: true, Tags: []string{"w"}, Out: io.Discard})
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
		s := newStore(t)
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
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "in-tar", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("tar"))
	tw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data.txt":
			io.WriteString(w, "remote content\n")
		case "/a.tar":
			w.Write(tarball.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("remote content\n")))
	build := func(cf string) (*store.Store, *Result, error) {
		s := newStore(t)
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
		// Flags BuildKit parses for any source, meaningful for some only.
		"FROM scratch\nADD --checksum=" + sum + " Containerfile /d/\n":      `--checksum applies to http(s) and git sources, not "Containerfile"`,
		"FROM scratch\nADD --keep-git-dir=true " + srv.URL + "/a.tar /d/\n": `--keep-git-dir applies to git sources, not "` + srv.URL + `/a.tar"`,
		"FROM scratch\nADD --checksum=" + sum + " <<EOF /d/h\nx\nEOF\n":     "--checksum applies to http(s) and git sources, not a heredoc",
	} {
		if _, _, err := build(cf); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ":2: ADD") {
			t.Errorf("%q: err %v, want %q at line 2", cf, err, want)
		}
	}
	// A URL's archive is copied as it is, unpacked with --unpack=true
	// (BuildKit's rule); in one store, so the flag must key the cache.
	s, err = store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flag, want, gone string }{{"", "d/a.tar", "d/in-tar"}, {"--unpack=true ", "d/in-tar", "d/a.tar"}, {"--unpack=false ", "d/a.tar", "d/in-tar"}} {
		ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nADD " + c.flag + srv.URL + "/a.tar /d/\n"})
		res, err := Build(s, Options{ContextDir: ctx, Layers: true, Tags: []string{"u"}, Out: io.Discard})
		if err != nil {
			t.Fatalf("ADD %s: %v", c.flag, err)
		}
		l, _ := s.Load(res.Manifest)
		rootfs := unpackCopy(t, s, l)
		if _, err := os.Stat(filepath.Join(rootfs, c.want)); err != nil {
			t.Errorf("ADD %sURL: %s missing", c.flag, c.want)
		}
		if _, err := os.Stat(filepath.Join(rootfs, c.gone)); err == nil {
			t.Errorf("ADD %sURL: %s present", c.flag, c.gone)
		}
	}
}

// --compression zstd: layers are stored as zstd (media type and bytes),
// verify against their diff_ids and unpack; a different compression is a
// different image.
func TestBuildZstd(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY f /f\n", "f": "zstd layer\n"})
	s := newStore(t)
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

// newStore opens an empty store in a temp dir.
func newStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildLoad builds o into s and loads the image built.
func buildLoad(t *testing.T, s *store.Store, o Options) (*Result, *store.Loaded) {
	t.Helper()
	res, err := Build(s, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	return res, l
}

// unpackCopy unpacks l as a copied rootfs in a temp bundle and returns the
// rootfs path.
func unpackCopy(t *testing.T, s *store.Store, l *store.Loaded) string {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "b")
	if err := unpack.Bundle(s, l, bundle, unpack.Options{Copy: true}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(bundle, "rootfs")
}

// COPY/ADD --chown also own the directories the copy creates (BuildKit
// and buildah do); directories that existed keep their owner.
func TestCopyChownOwnsCreatedDirs(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY f /etc/f\nCOPY --chown=1000:1001 f /a/b/c/\nADD --chown=1000:1001 d /etc/x/y\n", "f": "x", "d/g": "y"})
	s := newStore(t)
	_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: true, Tags: []string{"w"}, Out: io.Discard})
	rootfs := unpackCopy(t, s, l)
	for p, want := range map[string][2]uint32{"a": {1000, 1001}, "a/b": {1000, 1001}, "a/b/c": {1000, 1001}, "a/b/c/f": {1000, 1001},
		"etc": {0, 0}, "etc/x": {1000, 1001}, "etc/x/y": {1000, 1001}, "etc/x/y/g": {1000, 1001}} {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(rootfs, p), &st); err != nil || st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %v (%v)", p, st.Uid, st.Gid, want, err)
		}
	}
}

// --platform: TARGET*/BUILD* args, scratch gets the target platform, a
// base image of another platform is an error (for the build's --platform
// and for FROM --platform), and RUN for a foreign arch needs binfmt_misc.
func TestPlatform(t *testing.T) {
	s := newStore(t)
	build := func(cf string, o Options) (*store.Loaded, error) {
		t.Helper()
		o.ContextDir = writeCtx(t, map[string]string{"Containerfile": cf, "f": "x"})
		o.Layers, o.Out = true, io.Discard
		res, err := Build(s, o)
		if err != nil {
			return nil, err
		}
		return s.Load(res.Manifest)
	}
	host := store.HostPlatform()
	if l, err := build("FROM scratch\nARG TARGETARCH\nARG BUILDPLATFORM\nLABEL t=$TARGETARCH b=$BUILDPLATFORM\nCOPY f /f\n", Options{Tags: []string{"base"}}); err != nil {
		t.Fatal(err)
	} else if l.Config.Architecture != host.Architecture || l.Config.Config.Labels["t"] != host.Architecture || l.Config.Config.Labels["b"] != "linux/"+host.Architecture {
		t.Fatalf("default platform: %s, labels %v", l.Config.Architecture, l.Config.Config.Labels)
	}
	arm, _ := ParsePlatform("linux/arm64")
	l, err := build("FROM scratch\nARG TARGETPLATFORM\nLABEL t=$TARGETPLATFORM\nCOPY f /f\n", Options{Platform: arm})
	if err != nil || l.Config.Architecture != "arm64" || l.Config.Config.Labels["t"] != "linux/arm64" {
		t.Fatalf("--platform linux/arm64: %v %+v", err, l)
	}
	if l, err := build("FROM --platform=linux/arm64 scratch\nCOPY f /f\n", Options{}); err != nil || l.Config.Architecture != "arm64" {
		t.Fatalf("FROM --platform=linux/arm64 scratch: %v", err)
	}
	for cf, want := range map[string]string{
		"FROM base\n":                          `Containerfile:1: FROM: image "base" is linux/` + host.Architecture + `, not the build's --platform linux/arm64`,
		"FROM --platform=linux/arm64 base\n":   `Containerfile:1: FROM: --platform=linux/arm64: image "base" is linux/` + host.Architecture,
		"FROM --platform=windows/amd64 base\n": `only linux images can be built`,
	} {
		o := Options{}
		if !strings.Contains(cf, "--platform") {
			o.Platform = arm
		}
		if _, err := build(cf, o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", cf, err, want)
		}
	}
	if _, err := build("FROM --platform=$BUILDPLATFORM base\n", Options{Platform: arm}); err != nil {
		t.Errorf("FROM --platform=$BUILDPLATFORM: %v", err)
	}
	// RUN on arm64: refused without binfmt_misc mounted, without a qemu
	// handler, with a disabled one or one without the F flag; allowed with
	// an enabled F one.
	binfmtDir = t.TempDir()
	defer func() { binfmtDir = "/proc/sys/fs/binfmt_misc" }()
	cf := "FROM --platform=linux/arm64 scratch\nRUN true\n"
	prefix := "Containerfile:2: RUN: RUN for linux/arm64 on this linux/" + host.Architecture + " host needs a binfmt_misc handler"
	entry := filepath.Join(binfmtDir, "qemu-aarch64")
	for _, c := range []struct{ file, content, want string }{
		{"", "", prefix + ", but binfmt_misc is not mounted at " + binfmtDir},
		{"register", "", prefix + " (" + entry + "; apt-get install qemu-user-static)"},
		{"qemu-aarch64", "disabled\ninterpreter /q\nflags: OCF\n", prefix + ": " + entry + " is disabled"},
		{"qemu-aarch64", "enabled\ninterpreter /q\nflags: OC\n", prefix + ` with the F flag: ` + entry + ` has flags "OC"`},
		{"qemu-aarch64", "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\n", ""},
	} {
		if c.file != "" {
			os.WriteFile(filepath.Join(binfmtDir, c.file), []byte(c.content), 0o644)
		}
		_, err := build(cf, Options{Runtime: "/nonexistent/runtime"})
		if c.want == "" && (err == nil || strings.Contains(err.Error(), "binfmt")) || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("RUN with %s %q: got %v, want %q", c.file, c.content, err, c.want)
		}
	}
	if p, err := ParsePlatform("aarch64"); err != nil || platformString(p) != "linux/arm64" {
		t.Errorf("aarch64: %v %v", p, err)
	}
	if _, err := ParsePlatform("linux/sparc"); err == nil {
		t.Error("linux/sparc accepted")
	}
}

// COPY --exclude (repeatable, **) and --parents (with a "/./" pivot);
// ADD takes --exclude, --link and --chmod the same way.
func TestCopyExcludeParents(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": `FROM scratch
COPY --exclude=*.md --exclude=**/*.go a /ex/
COPY --exclude=sub a /ex2/
COPY --exclude=*.txt a/x.txt a/y.md /ex3/
COPY --parents a/sub/z.txt b/q.txt /par/
COPY --parents a/./sub /piv/
COPY --parents */sub/*.go /g/
ADD --exclude=*.md a /addex/
ADD --link --chmod=0640 b/q.txt /addl/
`, "a/x.txt": "x", "a/y.md": "y", "a/sub/z.txt": "z", "a/sub/w.go": "w", "b/q.txt": "q"})
	s := newStore(t)
	_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: true, Tags: []string{"x"}, Out: io.Discard})
	rootfs := unpackCopy(t, s, l)
	var got []string
	filepath.Walk(rootfs, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(rootfs, p)
			got = append(got, rel)
		}
		return nil
	})
	if st, err := os.Stat(filepath.Join(rootfs, "addl/q.txt")); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o640 {
		t.Errorf("ADD --link --chmod=0640: mode %v", st.Mode())
	}
	want := []string{"addex/sub/w.go", "addex/sub/z.txt", "addex/x.txt", "addl/q.txt", "ex/sub/z.txt", "ex/x.txt", "ex2/x.txt", "ex2/y.md", "ex3/y.md", "g/a/sub/w.go", "par/a/sub/z.txt", "par/b/q.txt", "piv/sub/w.go", "piv/sub/z.txt"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files:\n got %v\nwant %v", got, want)
	}
}

// COPY --link makes its layer on an empty root: the layer holds only the
// copied files and fresh parents (0755 root), not the destination's
// earlier content or owners; the image still has both; --chown names
// come from the image.
func TestCopyLink(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY passwd /etc/passwd\nCOPY --chown=5:5 f /d/old\nCOPY --link g /d/\nCOPY --link --chown=app g /h/\n",
		"f": "f", "g": "g", "passwd": "root:x:0:0::/:/bin/sh\napp:x:1234:1234::/:/bin/sh\n"})
	s := newStore(t)
	_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: true, Tags: []string{"x"}, Out: io.Discard})
	entries := func(i int) map[string]*tar.Header {
		rc, err := s.Open(l.Manifest.Layers[i])
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		z, err := layer.Decompress(rc)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*tar.Header{}
		tr := tar.NewReader(z)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			out[h.Name] = h
		}
		return out
	}
	e := entries(2)
	if len(e) != 2 || e["d/"] == nil || e["d/g"] == nil || e["d/"].Uid != 0 || e["d/"].Mode&0o777 != 0o755 {
		t.Fatalf("--link layer: %v", e)
	}
	if h := entries(3)["h/g"]; h == nil || h.Uid != 1234 {
		t.Fatalf("--link --chown=app: %+v", h)
	}
	rootfs := unpackCopy(t, s, l)
	for _, p := range []string{"d/old", "d/g", "h/g"} {
		if _, err := os.Stat(filepath.Join(rootfs, p)); err != nil {
			t.Error(err)
		}
	}
}

// COPY --link with --layers=false (one squashed layer) gives the same
// rootfs as with --layers=true, where the --link layer is applied on top:
// a symlink on the destination path is replaced by a directory, not
// followed, and parents get the link layer's 0755 root, not their
// earlier owner; --chown names come from the stage's earlier content.
func TestCopyLinkNoLayers(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nCOPY base/ /\nCOPY --chown=5:5 f /d/old\nCOPY --link g /d/\nCOPY --link g /app/\nCOPY --link --chown=app g /h/\n",
		"f": "f", "g": "g", "base/etc/passwd": "root:x:0:0::/:/bin/sh\napp:x:1234:1234::/:/bin/sh\n", "base/opt/app/x": "x"})
	if err := os.Symlink("/opt/app", filepath.Join(ctx, "base/app")); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	for _, layers := range []bool{true, false} {
		_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: layers, Tags: []string{"x"}, Out: io.Discard})
		rootfs := unpackCopy(t, s, l)
		if fi, err := os.Lstat(filepath.Join(rootfs, "app")); err != nil || !fi.IsDir() {
			t.Errorf("layers=%v: /app is %v %v, want the --link layer's directory", layers, fi, err)
		}
		if _, err := os.Lstat(filepath.Join(rootfs, "opt/app/g")); err == nil {
			t.Errorf("layers=%v: COPY --link followed the /app symlink", layers)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(rootfs, "d"), &st); err != nil || st.Uid != 0 || st.Mode&0o7777 != 0o755 {
			t.Errorf("layers=%v: /d uid %d mode %o (%v), want 0 0755", layers, st.Uid, st.Mode&0o7777, err)
		}
		for p, uid := range map[string]uint32{"d/old": 5, "d/g": 0, "app/g": 0, "h/g": 1234, "opt/app/x": 0} {
			if err := syscall.Lstat(filepath.Join(rootfs, p), &st); err != nil || st.Uid != uid {
				t.Errorf("layers=%v: %s: uid %d (%v), want %d", layers, p, st.Uid, err, uid)
			}
		}
	}
}

// Labels, annotations, a Containerfile given as data (-f -), the error
// for a context without one, and --pull policies.
func TestBuildOptionsLabelsPull(t *testing.T) {
	s := newStore(t)
	ctx := writeCtx(t, map[string]string{"f": "x"})
	if _, err := Build(s, Options{ContextDir: ctx, Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "no Containerfile or Dockerfile in the build context") {
		t.Fatalf("no Containerfile: %v", err)
	}
	_, l := buildLoad(t, s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nLABEL a=1\nCOPY f /f\n"), Layers: true, Tags: []string{"base"}, Out: io.Discard,
		Labels: map[string]string{"a": "2", "b": "3"}, Annotations: map[string]string{"org.example.k": "v"}})
	if lb := l.Config.Config.Labels; lb["a"] != "2" || lb["b"] != "3" || l.Manifest.Annotations["org.example.k"] != "v" {
		t.Fatalf("labels %v, annotations %v", lb, l.Manifest.Annotations)
	}
	if _, err := Build(s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nRUN\n"), Out: io.Discard}); err == nil || !strings.HasPrefix(err.Error(), "Containerfile:2:") {
		t.Fatalf("stdin Containerfile errors: %v", err)
	}
	var pulls []string
	pull := func(ref string) (ocispec.Descriptor, error) {
		pulls = append(pulls, ref)
		return s.Resolve("base")
	}
	cf := []byte("FROM remote.example/x:1\nCOPY --from=base /f /g\n")
	if _, err := Build(s, Options{ContextDir: ctx, FileData: cf, Out: io.Discard, Pull: pull}); err == nil || !strings.Contains(err.Error(), "not pulled: --pull=missing") || len(pulls) != 0 {
		t.Fatalf("never: %v %v", err, pulls)
	}
	if _, err := Build(s, Options{ContextDir: ctx, FileData: cf, Out: io.Discard, Pull: pull, PullPolicy: "missing"}); err != nil || strings.Join(pulls, " ") != "remote.example/x:1" {
		t.Fatalf("missing: %v %v", err, pulls)
	}
	pulls = nil
	if _, err := Build(s, Options{ContextDir: ctx, FileData: cf, Out: io.Discard, Pull: pull, PullPolicy: "always"}); err != nil || strings.Join(pulls, " ") != "remote.example/x:1 base" {
		t.Fatalf("always: %v %v", err, pulls)
	}
	if _, err := Build(s, Options{ContextDir: ctx, FileData: cf, Out: io.Discard, PullPolicy: "sometimes"}); err == nil || !strings.Contains(err.Error(), "--pull=sometimes") {
		t.Fatalf("bad policy: %v", err)
	}
}

// COPY <<EOF expands variables in the body (quotes kept); <<'EOF' does not.
func TestCopyHeredocExpands(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": "FROM scratch\nARG X=hello\nENV Y=world\nCOPY <<EOF /f\n$X \"q\" ${Y}\nEOF\nCOPY <<'EOF' /g\n$X\nEOF\n"})
	s := newStore(t)
	_, l := buildLoad(t, s, Options{ContextDir: ctx, Layers: true, Out: io.Discard})
	rootfs := unpackCopy(t, s, l)
	for p, want := range map[string]string{"f": "hello \"q\" world\n", "g": "$X\n"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
			t.Errorf("/%s = %q, want %q (%v)", p, b, want, err)
		}
	}
}

// --build-context: a named directory for COPY --from (its content keys
// the step), a named image for FROM; a name overrides a stage of that name.
func TestNamedBuildContexts(t *testing.T) {
	s := newStore(t)
	ctx := writeCtx(t, map[string]string{"f": "x"})
	if _, err := Build(s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nCOPY f /base-file\n"), Layers: true, Tags: []string{"base"}, Out: io.Discard}); err != nil {
		t.Fatal(err)
	}
	other := writeCtx(t, map[string]string{"sub/o.txt": "one"})
	name, dirCtx, err := ParseBuildContext("other=" + other)
	if err != nil || name != "other" || dirCtx.Dir != other {
		t.Fatalf("%q %+v %v", name, dirCtx, err)
	}
	_, imgCtx, err := ParseBuildContext("img=docker-image://base")
	if err != nil || imgCtx.Image != "base" {
		t.Fatalf("%+v %v", imgCtx, err)
	}
	cf := []byte("FROM scratch AS other\nCOPY f /wrong\nFROM img\nCOPY --from=other /sub/o.txt /o.txt\n")
	o := Options{ContextDir: ctx, FileData: cf, Layers: true, Out: io.Discard, Contexts: map[string]NamedContext{"other": dirCtx, "img": imgCtx}}
	build := func() string {
		t.Helper()
		_, l := buildLoad(t, s, o)
		rootfs := unpackCopy(t, s, l)
		if _, err := os.Stat(filepath.Join(rootfs, "base-file")); err != nil {
			t.Fatal("FROM img did not use the image")
		}
		b, _ := os.ReadFile(filepath.Join(rootfs, "o.txt"))
		return string(b)
	}
	if got := build(); got != "one" {
		t.Fatalf("/o.txt = %q", got)
	}
	os.WriteFile(filepath.Join(other, "sub/o.txt"), []byte("two"), 0o644)
	if got := build(); got != "two" {
		t.Fatalf("after the named context changed: /o.txt = %q", got)
	}
	o.FileData = []byte("FROM other\n")
	if _, err := Build(s, o); err == nil || !strings.Contains(err.Error(), `build context "other" is a directory`) {
		t.Fatalf("FROM a directory context: %v", err)
	}
	for _, bad := range []string{"x", "x=https://example.com/c.tar", "x=/nonexistent/dir"} {
		if _, _, err := ParseBuildContext(bad); err == nil || !strings.Contains(err.Error(), "--build-context") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A build without -t stays in the store (as <none>), found by its ID.
func TestUntaggedBuildKept(t *testing.T) {
	s := newStore(t)
	ctx := writeCtx(t, map[string]string{"f": "x"})
	res, err := Build(s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nCOPY f /f\n"), Layers: true, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Resolve(res.ImageID); err != nil || d.Digest != res.Manifest.Digest {
		t.Fatalf("untagged build by ID: %v %v", d, err)
	}
}
