package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunPassesStateAndArgs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := rspec.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$1"; echo " $0" >> "$1"`, "argzero", out}}
	st := &rspec.State{Version: "1.3.0", ID: "c1", Status: rspec.StateCreating, Pid: 7, Bundle: "/b"}
	if err := Run("prestart", []rspec.Hook{h}, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), `"id":"c1"`) || !strings.Contains(string(b), "argzero") {
		t.Fatalf("hook saw %q", b)
	}
}

func TestRunFailureAndTimeout(t *testing.T) {
	st := &rspec.State{ID: "c1"}
	err := Run("poststart", []rspec.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo boom >&2; exit 3"}}}, st)
	if err == nil || !strings.Contains(err.Error(), "poststart hook #0") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
	one := 1
	t0 := time.Now()
	err = Run("prestart", []rspec.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &one}}, st)
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	if time.Since(t0) > 10*time.Second {
		t.Fatal("timeout not enforced")
	}
}
