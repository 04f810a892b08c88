package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRemoveCgroupOnlyBelowParent(t *testing.T) {
	root := t.TempDir()
	cgroupRoots = func() []string { return []string{filepath.Join(root, "cpu"), filepath.Join(root, "unified")} }
	t.Cleanup(func() { cgroupRoots = func() []string { return nil } })
	mk := func(p string) {
		for _, r := range cgroupRoots() {
			if err := os.MkdirAll(filepath.Join(r, p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("/myimg/c1")
	mk("/other")
	mk("/myimgx")
	for _, p := range []string{"", "/myimg", "/", "/other", "/myimg/../other", "myimg/c1", "/myimgx"} {
		RemoveCgroup("/myimg", p)
	}
	for _, p := range []string{"/myimg", "/other", "/myimgx", "/myimg/c1"} {
		if got := CgroupDirs(p); len(got) != 2 {
			t.Fatalf("%s: refused paths removed it: %v left", p, got)
		}
	}
	RemoveCgroup("/myimg", "/myimg/c1")
	if got := CgroupDirs("/myimg/c1"); len(got) != 0 {
		t.Fatalf("/myimg/c1 left in %v", got)
	}
	// A build's own parent goes through the hierarchy root as parent.
	RemoveCgroup("/", "/myimg")
	if got := CgroupDirs("/myimg"); len(got) != 0 {
		t.Fatalf("/myimg left in %v", got)
	}
}

func TestLastError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runtime.log")
	log := `{"level":"error","msg":"first"}
{"level":"warning","msg":"not this"}
{"level":"error","msg":"last one"}
{"level":"info","msg":"after"}
`
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := (Runtime{Log: p}).LogError(); got != "last one" {
		t.Fatalf("LogError = %q", got)
	}
	if got := LastError(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Fatalf("missing log: %q", got)
	}
}

func TestCommandFlags(t *testing.T) {
	got := strings.Join(Runtime{Path: "/bin/rt", Root: "/s"}.WithLog("/l").Command("run", "x").Args, " ")
	if want := "/bin/rt --root /s --log /l --log-format json run x"; got != want {
		t.Fatalf("args %q, want %q", got, want)
	}
	got = strings.Join(Runtime{Path: "/bin/rt", Root: "/s"}.Command("delete", "x").Args, " ")
	if want := "/bin/rt --root /s delete x"; got != want {
		t.Fatalf("args %q, want %q", got, want)
	}
}
