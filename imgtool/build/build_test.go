package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/myrun-org/myrun/imgtool/store"
	"github.com/myrun-org/myrun/specs"
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

// Parser directives that are read but not acted on (# syntax=, # check=)
// and the parser's own warnings are reported with file and line, not
// dropped; # escape= is applied.
func TestParserDirectivesWarned(t *testing.T) {
	p, err := parseContainerfile("Containerfile", []byte("# syntax=docker/dockerfile:1.7\n# check=error=true\n# escape=`\nFROM scratch\nLABEL a=b `\n\n  c=d\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.warnings, "\n")
	for _, want := range []string{
		"Containerfile:1: # syntax=docker/dockerfile:1.7: frontend images are not run",
		"Containerfile:2: # check=error=true: BuildKit's build checks are not run",
		"Containerfile: Empty continuation line",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if p.escape != '`' {
		t.Errorf("escape = %q", p.escape)
	}
	if p, _ := parseContainerfile("Containerfile", []byte("FROM scratch\n")); len(p.warnings) != 0 {
		t.Errorf("a plain file warned: %v", p.warnings)
	}
}

// A rootless build has no cgroup parent by default: RUN containers get no
// cgroupsPath and stay in the builder's cgroup. runc refused the default
// /myimg-build/<id> rootless ("mkdir /sys/fs/cgroup/myimg-build:
// permission denied", the VM lane's myimg-runc); as root the default
// stays, and a --cgroup-parent given rootless is kept.
func TestRunCgroupParentRootless(t *testing.T) {
	saved := rootlessBuilder
	t.Cleanup(func() { rootlessBuilder = saved })
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM scratch\n"), 0o644)
	for _, c := range []struct {
		rootless     bool
		parent, want string
	}{
		{false, "", "/myimg-build/step1"},
		{true, "", ""},
		{true, "/mine", "/mine/step1"},
		{false, "/mine", "/mine/step1"},
	} {
		rootlessBuilder = func() bool { return c.rootless }
		o := Options{ContextDir: ctx, CgroupParent: c.parent}
		if _, _, err := checkOptions(&o); err != nil {
			t.Fatal(err)
		}
		s := specs.Default()
		b := &builder{o: o}
		b.adjustRunSpec(s, "/rootfs", "step1", runOpts{})
		if s.Linux.CgroupsPath != c.want {
			t.Errorf("rootless %v, --cgroup-parent %q: cgroupsPath %q, want %q", c.rootless, c.parent, s.Linux.CgroupsPath, c.want)
		}
	}
}
