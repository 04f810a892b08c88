package libcontainer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/myrun-org/myrun/libcontainer/state"
	"github.com/myrun-org/myrun/specs"
)

// writeBundle writes spec as config.json of a new bundle with a rootfs
// directory and returns the bundle's path and the bytes written.
func writeBundle(t *testing.T, spec *rspec.Spec) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, specs.ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

func TestLoadBundleReturnsFileBytes(t *testing.T) {
	dir, data := writeBundle(t, specs.Default())
	spec, rootfs, raw, err := loadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(data) {
		t.Error("raw bytes differ from config.json")
	}
	if rootfs != filepath.Join(dir, "rootfs") {
		t.Errorf("rootfs %q", rootfs)
	}
	if !reflect.DeepEqual(spec, specs.Default()) {
		t.Error("decoded spec differs from the one written")
	}
}

func TestLoadBundleErrorsNameTheFile(t *testing.T) {
	// A missing file is not an invalid config; what is wrong inside it is.
	if _, _, _, err := loadBundle(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "not found in bundle") || errors.Is(err, ErrInvalidConfig) {
		t.Errorf("missing config.json: %v", err)
	}
	s := specs.Default()
	s.Process.Args = nil
	dir, _ := writeBundle(t, s)
	if _, _, _, err := loadBundle(dir); err == nil || !strings.Contains(err.Error(), "process.args") || !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty process.args: %v", err)
	}
}

// A refused create leaves no state directory behind.
func TestCreateRefusedLeavesNothing(t *testing.T) {
	root := t.TempDir()
	r := New(root, nil)
	s := specs.Default()
	s.Process.Args = nil
	dir, _ := writeBundle(t, s)
	if err := r.Create(CreateOpts{ID: "c1", Bundle: dir}); err == nil || !strings.Contains(err.Error(), "process.args") {
		t.Fatalf("create: %v", err)
	}
	if err := r.Create(CreateOpts{ID: "../x", Bundle: dir}); err == nil {
		t.Fatal("create with a bad id: no error")
	}
	if ids, err := r.List(); err != nil || len(ids) != 0 {
		t.Fatalf("list after refused creates: %v %v", ids, err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("root not empty: %v", ents)
	}
}

func TestUnknownContainer(t *testing.T) {
	r := New(t.TempDir(), nil)
	if _, err := r.State("nope"); !errors.Is(err, state.ErrNotExist) {
		t.Errorf("State: %v", err)
	}
	if err := r.Start("nope"); !errors.Is(err, state.ErrNotExist) {
		t.Errorf("Start: %v", err)
	}
	if err := r.Delete("nope", false); !errors.Is(err, state.ErrNotExist) {
		t.Errorf("Delete: %v", err)
	}
	if _, err := r.Config("nope"); !errors.Is(err, state.ErrNotExist) {
		t.Errorf("Config: %v", err)
	}
}

func TestWritePidFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pid")
	if err := writePidFile(p, 1234); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "1234" {
		t.Fatalf("pid file: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp file left: %v", ents)
	}
	if err := writePidFile(filepath.Join(dir, "missing", "pid"), 1); err == nil || !strings.HasPrefix(err.Error(), "--pid-file") {
		t.Fatalf("pid file in a missing dir: %v", err)
	}
}

// exec's init gets only what it reads of the container's spec.
func TestExecSpec(t *testing.T) {
	s := specs.Default()
	s.Annotations = map[string]string{"a": "b"}
	got := execSpec(s)
	if got.Process != nil || got.Root != nil || len(got.Mounts) != 0 || got.Linux != nil {
		t.Errorf("execSpec kept more than it needs: %+v", got)
	}
	if got.Version != s.Version || got.Annotations["a"] != "b" {
		t.Errorf("execSpec lost version or annotations: %+v", got)
	}
	s.Linux.Seccomp = &rspec.LinuxSeccomp{DefaultAction: rspec.ActAllow}
	if got := execSpec(s); got.Linux == nil || got.Linux.Seccomp != s.Linux.Seccomp || got.Linux.Namespaces != nil {
		t.Errorf("execSpec with seccomp: %+v", got.Linux)
	}
}
