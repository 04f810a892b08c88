package main

import (
	"io/fs"
	"path/filepath"
	"testing"
)

func TestGenPayload(t *testing.T) {
	dir := t.TempDir()
	if err := genPayload(dir, 3, 250); err != nil {
		t.Fatal(err)
	}
	var files, size int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			files++
			size += fi.Size()
		}
		return err
	})
	if files != 250 {
		t.Fatalf("files = %d, want 250", files)
	}
	if want := int64(3 << 20); size < want*9/10 || size > want*11/10 {
		t.Fatalf("size = %d, want about %d", size, want)
	}
}
