package unpack

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/myrun-org/myrun/imgtool/store"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestSpecFromImageConfig(t *testing.T) {
	rootfs := t.TempDir()
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte("root:x:0:\napp:x:1001:\nextra:x:2000:app\n"), 0o644)
	img := &store.Loaded{Config: store.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}}
	c := &img.Config.Config
	c.Entrypoint = []string{"/bin/app"}
	c.Cmd = []string{"--flag"}
	c.Env = []string{"PATH=/app/bin", "A=b"}
	c.WorkingDir = "/srv"
	c.User = "app"
	c.StopSignal = "SIGINT"
	c.Volumes = map[string]struct{}{"/data": {}, "/cache": {}}
	c.Labels = map[string]string{"l": "v"}
	s, err := Spec(img, rootfs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Process.Args, []string{"/bin/app", "--flag"}) || s.Process.Cwd != "/srv" {
		t.Fatalf("process = %+v", s.Process)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1001 || !slices.Equal(s.Process.User.AdditionalGids, []uint32{2000}) {
		t.Fatalf("user = %+v", s.Process.User)
	}
	if !slices.Equal(s.Process.Env, []string{"PATH=/app/bin", "A=b"}) {
		t.Fatalf("env = %v", s.Process.Env)
	}
	a := s.Annotations
	if a[AnnotationStopSignal] != "SIGINT" || a[AnnotationVolumes] != "/cache,/data" || a["l"] != "v" || a["org.opencontainers.image.os"] != "linux" {
		t.Fatalf("annotations = %v", a)
	}
	if s.Process.Terminal || s.Root.Readonly {
		t.Fatal("terminal or readonly root set")
	}
	if _, err := ResolveUser(rootfs, "nosuchuser"); err == nil {
		t.Fatal("unknown user resolved")
	}
	if u, err := ResolveUser(rootfs, "5:6"); err != nil || u.UID != 5 || u.GID != 6 {
		t.Fatalf("numeric user: %+v %v", u, err)
	}
}

func TestSpecRootless(t *testing.T) {
	img := &store.Loaded{}
	s, err := Spec(img, t.TempDir(), Options{Rootless: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.UIDMappings) != 1 || s.Process.Args[0] != "sh" {
		t.Fatalf("rootless spec: %+v %v", s.Linux.UIDMappings, s.Process.Args)
	}
}
