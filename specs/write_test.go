package specs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteSpec(t *testing.T) {
	p := filepath.Join(t.TempDir(), ConfigFile)
	if err := WriteSpec(p, Default(), false); err != nil {
		t.Fatal(err)
	}
	err := WriteSpec(p, minimal(), false)
	if err == nil || err.Error() != "File config.json exists. Remove it first" {
		t.Fatalf("overwrite without force: %v", err)
	}
	data, _ := os.ReadFile(p)
	if !strings.Contains(string(data), "\n\t\"ociVersion\"") {
		t.Errorf("not tab-indented like runc:\n%s", data[:40])
	}
	if err := WriteSpec(p, minimal(), true); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(p)
	s, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, minimal()) {
		t.Errorf("forced write not applied: %s", data)
	}
}
