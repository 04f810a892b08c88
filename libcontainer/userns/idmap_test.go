package userns

import (
	"os"
	"strings"
	"testing"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHelperErrorsNameFieldAndRemedy(t *testing.T) {
	m := []rspec.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	t.Setenv("PATH", t.TempDir())
	err := helper("newgidmap", 1, m)
	if err == nil || !strings.Contains(err.Error(), "linux.gidMappings") || !strings.Contains(err.Error(), "uidmap") {
		t.Fatalf("missing helper: %v", err)
	}
	// A helper that refuses (as newuidmap does without a subuid range).
	dir := t.TempDir()
	writeScript(t, dir+"/newuidmap", "echo 'newuidmap: uid range [100000-165536) -> [0-65536) not allowed' >&2; exit 1")
	t.Setenv("PATH", dir)
	err = helper("newuidmap", 1, m)
	for _, want := range []string{"linux.uidMappings", "not allowed", "/etc/subuid"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("refused map: want %q in %v", want, err)
		}
	}
}

func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
