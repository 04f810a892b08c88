package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScanCountsFuncLineToBrace(t *testing.T) {
	dir := t.TempDir()
	body := strings.Repeat("\tx++\n", 3)
	src := "package p\n\ntype T struct{}\n\nfunc (t *T) Long() {\n\tx := 0\n" + body + "\t_ = x\n}\n\nfunc Short() {}\n"
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same function in a test file is not counted.
	if err := os.WriteFile(filepath.Join(dir, "a_test.go"), []byte(strings.Replace(src, "Long", "LongTest", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := scan(dir, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].name != "T.Long" || found[0].lines != 7 {
		t.Fatalf("scan(max 6) = %+v, want only T.Long at 7 lines", found)
	}
	if found, _ := scan(dir, 7); len(found) != 0 {
		t.Fatalf("scan(max 7) = %+v, want none", found)
	}
}
