package specs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLoadBundle(t *testing.T) {
	b := newBundle(t)
	writeConfig(t, b, minimal())
	s, rootfs, err := LoadBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(b, "rootfs"); rootfs != want {
		t.Errorf("rootfs %q, want %q", rootfs, want)
	}
	if s.Process.Args[0] != "sh" {
		t.Errorf("args %v", s.Process.Args)
	}

	// A relative bundle path still yields an absolute rootfs.
	t.Chdir(filepath.Dir(b))
	if _, rootfs, err := LoadBundle(filepath.Base(b)); err != nil || !filepath.IsAbs(rootfs) {
		t.Errorf("relative bundle: %q, %v", rootfs, err)
	}
}

func TestLoadBundleBadFile(t *testing.T) {
	cases := []struct {
		name, content, want string // want: a regexp
	}{
		{"missing", "", "config.json: not found in bundle"},
		{"empty", " \n", "config.json: empty file"},
		{"syntax", "{\n  \"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"rootfs\",}\n}", "config.json: invalid JSON at line 3"},
		{"type", `{"ociVersion":"1.0.0","process":{"args":"sh","cwd":"/"}}`, "config.json: process.args: cannot use JSON string"},
		// encoding/json on the v2 engine (myrun's build, Makefile) names
		// the element: linux.namespaces.0.type.
		{"type nested", `{"ociVersion":"1.0.0","linux":{"namespaces":[{"type":5}]}}`, `config.json: linux\.namespaces(\.0)?\.type:`},
		{"not utf8", "{\"ociVersion\":\"\xff\"}", "not valid UTF-8"},
		{"unknown major", `{"ociVersion":"2.0.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}`, `ociVersion: unsupported major version "2.0.0"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			if c.name != "missing" {
				writeFile(t, filepath.Join(b, ConfigFile), c.content, 0o644)
			}
			_, _, err := LoadBundle(b)
			if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestLoadBundleUnreadable(t *testing.T) {
	b := newBundle(t)
	// A directory named config.json cannot be read as a file (works as root).
	if err := os.Mkdir(filepath.Join(b, ConfigFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadBundle(b); err == nil || !strings.Contains(err.Error(), "config.json: cannot read") {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownFieldsIgnored(t *testing.T) {
	// The spec says unknown properties MUST be ignored.
	b := newBundle(t)
	writeFile(t, filepath.Join(b, ConfigFile),
		`{"ociVersion":"1.3.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"x-vendor":{"a":1}}`, 0o644)
	if _, _, err := LoadBundle(b); err != nil {
		t.Fatal(err)
	}
}
