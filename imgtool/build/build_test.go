package build

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/myrun-org/myrun/imgtool/layer"
	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/imgtool/unpack"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func writeCtx(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func snapshot(t *testing.T, root string) string {
	t.Helper()
	var sb strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !strings.Contains(p, "/ingest/") && !strings.HasSuffix(p, ".lock") {
			rel, _ := filepath.Rel(root, p)
			sb.WriteString(rel + "\n")
		}
		return nil
	})
	b, _ := os.ReadFile(filepath.Join(root, "index.json"))
	sb.Write(b)
	return sb.String()
}

func TestParseErrorsNameFileLineInstruction(t *testing.T) {
	s, _ := store.Open(t.TempDir())
	before := snapshot(t, s.Root)
	cases := map[string]struct{ file, want string }{
		"unknown":      {"FROM scratch\nFROBNICATE x\n", ":2: FROBNICATE: unknown instruction"},
		"missingstage": {"FROM scratch\nCOPY --from=nosuch /a /b\n", ":2: COPY: --from=nosuch: no such stage or image"},
		"missingbase":  {"FROM scratch AS a\nFROM nosuch\nCOPY x /x\n", ":2: FROM: image \"nosuch\" not found"},
		"beforefrom":   {"ENV A=b\nFROM scratch\n", ":1: ENV: only ARG"},
		"missingfile":  {"FROM scratch\nCOPY nothere /x\n", ":2: COPY: source \"nothere\""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := writeCtx(t, map[string]string{"Containerfile": c.file, "x": "x"})
			_, err := Build(s, Options{ContextDir: ctx, Layers: true})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Containerfile") {
				t.Fatalf("err = %v, want it to contain %q and the file name", err, c.want)
			}
			var se *StepError
			if name != "missingbase" && !errors.As(err, &se) {
				t.Fatalf("not a StepError: %T", err)
			}
		})
	}
	if snapshot(t, s.Root) != before {
		t.Fatal("a failed build changed the store")
	}
}

// Proxy build args reach RUN without an ARG and never override the
// image's own ENV (TestProxyBuildArgsNotWarned: nor are they warned about).
func TestProxyBuildArgs(t *testing.T) {
	r := &stageRun{b: &builder{o: Options{BuildArgs: map[string]string{
		"https_proxy": "http://p:3128", "HTTP_PROXY": "http://p:3128", "NO_PROXY": "set-by-env", "OTHER": "x"}}}}
	got := r.withProxies([]string{"PATH=/bin", "NO_PROXY=from-image"})
	want := []string{"PATH=/bin", "NO_PROXY=from-image", "HTTP_PROXY=http://p:3128", "https_proxy=http://p:3128"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %q, want %q", got, want)
	}
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
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
	// RUN on arm64: refused without a qemu handler, allowed with one.
	binfmtDir = t.TempDir()
	defer func() { binfmtDir = "/proc/sys/fs/binfmt_misc" }()
	cf := "FROM --platform=linux/arm64 scratch\nRUN true\n"
	if _, err := build(cf, Options{Runtime: "/nonexistent/runtime"}); err == nil || !strings.Contains(err.Error(), "Containerfile:2: RUN: RUN for linux/arm64 on this linux/"+host.Architecture+" host needs a binfmt_misc handler") {
		t.Errorf("RUN without binfmt: %v", err)
	}
	os.WriteFile(filepath.Join(binfmtDir, "qemu-aarch64"), []byte("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\n"), 0o644)
	if _, err := build(cf, Options{Runtime: "/nonexistent/runtime"}); err == nil || strings.Contains(err.Error(), "binfmt") {
		t.Errorf("RUN with binfmt: %v", err)
	}
	if p, err := ParsePlatform("aarch64"); err != nil || platformString(p) != "linux/arm64" {
		t.Errorf("aarch64: %v %v", p, err)
	}
	if _, err := ParsePlatform("linux/sparc"); err == nil {
		t.Error("linux/sparc accepted")
	}
}

// COPY --exclude (repeatable, **) and --parents (with a "/./" pivot).
func TestCopyExcludeParents(t *testing.T) {
	ctx := writeCtx(t, map[string]string{"Containerfile": `FROM scratch
COPY --exclude=*.md --exclude=**/*.go a /ex/
COPY --exclude=sub a /ex2/
COPY --exclude=*.txt a/x.txt a/y.md /ex3/
COPY --parents a/sub/z.txt b/q.txt /par/
COPY --parents a/./sub /piv/
COPY --parents */sub/*.go /g/
`, "a/x.txt": "x", "a/y.md": "y", "a/sub/z.txt": "z", "a/sub/w.go": "w", "b/q.txt": "q"})
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, Options{ContextDir: ctx, Layers: true, Tags: []string{"x"}, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := unpackCopy(t, s, l)
	var got []string
	filepath.Walk(rootfs, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			rel, _ := filepath.Rel(rootfs, p)
			got = append(got, rel)
		}
		return nil
	})
	want := []string{"ex/sub/z.txt", "ex/x.txt", "ex2/x.txt", "ex2/y.md", "ex3/y.md", "g/a/sub/w.go", "par/a/sub/z.txt", "par/b/q.txt", "piv/sub/w.go", "piv/sub/z.txt"}
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
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, Options{ContextDir: ctx, Layers: true, Tags: []string{"x"}, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
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

// Labels, annotations, a Containerfile given as data (-f -), the error
// for a context without one, and --pull policies.
func TestBuildOptionsLabelsPull(t *testing.T) {
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := writeCtx(t, map[string]string{"f": "x"})
	if _, err := Build(s, Options{ContextDir: ctx, Out: io.Discard}); err == nil || !strings.Contains(err.Error(), "no Containerfile or Dockerfile in the build context") {
		t.Fatalf("no Containerfile: %v", err)
	}
	res, err := Build(s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nLABEL a=1\nCOPY f /f\n"), Layers: true, Tags: []string{"base"}, Out: io.Discard,
		Labels: map[string]string{"a": "2", "b": "3"}, Annotations: map[string]string{"org.example.k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
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
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(s, Options{ContextDir: ctx, Layers: true, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Load(res.Manifest)
	if err != nil {
		t.Fatal(err)
	}
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
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
		res, err := Build(s, o)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Load(res.Manifest)
		if err != nil {
			t.Fatal(err)
		}
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
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := writeCtx(t, map[string]string{"f": "x"})
	res, err := Build(s, Options{ContextDir: ctx, FileData: []byte("FROM scratch\nCOPY f /f\n"), Layers: true, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.Resolve(res.ImageID); err != nil || d.Digest != res.Manifest.Digest {
		t.Fatalf("untagged build by ID: %v %v", d, err)
	}
}
