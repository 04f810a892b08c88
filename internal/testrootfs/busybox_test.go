package testrootfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBusybox(t *testing.T) {
	dir := t.TempDir()
	if err := Busybox(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/busybox", "bin/sh", "bin/ls", "etc/passwd", "etc/group", "home/user", "proc", "dev"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v", fi.Mode(), err)
	}
	// A second call over the same tree succeeds (the links exist).
	if err := Busybox(dir); err != nil {
		t.Fatal(err)
	}
}
