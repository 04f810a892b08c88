package specs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// newBundle makes a temp bundle with an empty busybox-like rootfs.
func newBundle(t *testing.T) string {
	t.Helper()
	b := t.TempDir()
	for _, d := range []string{"rootfs/bin", "rootfs/proc", "rootfs/dev", "rootfs/sys"} {
		if err := os.MkdirAll(filepath.Join(b, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(b, "rootfs/bin/sh"), "#!/bin/true\n", 0o755)
	return b
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

func writeConfig(t *testing.T, bundle string, s *rspec.Spec) {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bundle, ConfigFile), string(data), 0o644)
}

// minimal is a small valid spec (no namespaces that need privileges to check).
func minimal() *rspec.Spec {
	return &rspec.Spec{
		Version: rspec.Version,
		Root:    &rspec.Root{Path: "rootfs"},
		Process: &rspec.Process{Args: []string{"sh"}, Cwd: "/"},
		Linux:   &rspec.Linux{Namespaces: []rspec.LinuxNamespace{{Type: rspec.MountNamespace}}},
	}
}
