package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSelectPrograms(t *testing.T) {
	all := []string{"default", "linux_cgroups_relative_pids", "linux_ns_path", "state"}
	p, err := selectPrograms(all, "", false)
	if err != nil || len(p) != 4 {
		t.Fatalf("%v %v", p, err)
	}
	if p[1].Skip == "" || p[0].Skip != "" {
		t.Fatalf("relative test must be skipped without opt-in: %+v", p)
	}
	p, _ = selectPrograms(all, "", true)
	if p[1].Skip != "" {
		t.Fatalf("opt-in ignored: %+v", p)
	}
	p, err = selectPrograms(all, "linux_ns_path default", false)
	if err != nil || len(p) != 2 || p[0].Name != "default" || p[1].Name != "linux_ns_path" {
		t.Fatalf("ONLY: %+v %v", p, err)
	}
	if _, err := selectPrograms(all, "defualt", false); err == nil || !strings.Contains(err.Error(), "defualt") {
		t.Fatalf("unknown name must be an error, got %v", err)
	}
}

func TestParseOptions(t *testing.T) {
	t.Setenv("MIN_PASS", "7")
	t.Setenv("TIMEOUT", "90")
	t.Setenv("ONLY", "")
	o, err := parseOptions([]string{"/bin/true"}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	if o.minPass != 7 || o.timeout != 90*time.Second || o.runtime != "/bin/true" {
		t.Fatalf("%+v", o)
	}
	o, err = parseOptions([]string{"-min-pass", "3", "-timeout", "2m", "true"}, &strings.Builder{})
	if err != nil || o.minPass != 3 || o.timeout != 2*time.Minute || !strings.HasPrefix(o.runtime, "/") {
		t.Fatalf("%+v %v", o, err)
	}
	t.Setenv("MIN_PASS", "lots")
	if _, err := parseOptions([]string{"/bin/true"}, &strings.Builder{}); err == nil {
		t.Fatal("bad MIN_PASS accepted")
	}
	if _, err := parseOptions(nil, &strings.Builder{}); err == nil {
		t.Fatal("missing runtime accepted")
	}
}

func TestAttempts(t *testing.T) {
	if attempts("poststart") != racyAttempts || attempts("poststart_fail") != racyAttempts {
		t.Fatal("the racy poststart programs are not retried")
	}
	if attempts("start") != 1 || attempts("default") != 1 {
		t.Fatal("a deterministic program is retried")
	}
}

// TestPrebuiltOptions: -build-only needs no runtime, -prebuilt uses a
// suite built elsewhere only if its stamp names the wanted version, and
// the two exclude each other.
func TestPrebuiltOptions(t *testing.T) {
	t.Setenv("MIN_PASS", "")
	t.Setenv("RUNTIME_TOOLS_PREBUILT", "")
	o, err := parseOptions([]string{"-build-only"}, &strings.Builder{})
	if err != nil || !o.buildOnly || o.runtime != "" {
		t.Fatalf("%+v %v", o, err)
	}
	if _, err := parseOptions([]string{"-build-only", "-prebuilt"}, &strings.Builder{}); err == nil {
		t.Fatal("-build-only with -prebuilt accepted")
	}
	t.Setenv("RUNTIME_TOOLS_PREBUILT", "1")
	if o, err = parseOptions([]string{"/bin/true"}, &strings.Builder{}); err != nil || !o.prebuilt {
		t.Fatalf("%+v %v", o, err)
	}
	cache := t.TempDir()
	if _, err := prebuiltSuite(cache, "v1", io.Discard); err == nil || !strings.Contains(err.Error(), "no built suite") {
		t.Fatalf("empty cache: %v", err)
	}
	bin := filepath.Join(cache, "runtime-tools@v1", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, ".stamp"), []byte("v0 go1.26 amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prebuiltSuite(cache, "v1", io.Discard); err == nil || !strings.Contains(err.Error(), "want v1") {
		t.Fatalf("other version: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bin, ".stamp"), []byte("v1 go1.26 amd64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := prebuiltSuite(cache, "v1", io.Discard)
	if err != nil || s.BinDir != bin || s.SrcDir != filepath.Join(cache, "runtime-tools@v1", "src") {
		t.Fatalf("%+v %v", s, err)
	}
}
